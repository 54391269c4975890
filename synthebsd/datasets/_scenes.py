"""One scene of a data set: its drawn settings, ground-truth map, pattern model and labels.

Scene ``k`` of a data set with seed ``s`` is a pure function of (configuration, s, k):

1. its settings come from ``stream_rng(s, DATASET_PHYSICS_STREAM, k)``: the scene source
   (by weight), that source's ranges, the data set's ``vary`` (pattern physics and
   master-pattern engine), then the projection-centre jitter, in that order
   (:func:`scene_spec`);
2. its microstructure from ``stream_rng(s, DATASET_SCENE_STREAM, k)``;
3. its noise from one generator per map row (:mod:`synthebsd.datasets._stream`).

Training-time augmentations that change the physics (extra PC jitter, extra damage) are
drawn from ``stream_rng(s, AUGMENT_STREAM, k, epoch)`` after all of that, so switching
them off gives back the data set's own scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from orix.quaternion import Rotation

from synthebsd.config import (
    AugmentConfig,
    DatasetConfig,
    DetectorConfig,
    MasterPatternConfig,
    MicrostructureConfig,
    PatternConfig,
)
from synthebsd.conventions import (
    AUGMENT_STREAM,
    DATASET_PHYSICS_STREAM,
    DATASET_SCENE_STREAM,
    stream_rng,
)
from synthebsd.datasets._masterpatterns import master_pattern
from synthebsd.simulate import (
    PatternModel,
    generate_microstructure,
    map_detector,
    pattern_ground_truth,
)

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from orix.crystal_map import CrystalMap
    from orix.quaternion.symmetry import Symmetry

__all__ = [
    "LABEL_DTYPES",
    "Scene",
    "SceneSpec",
    "build_scene",
    "fundamental_zone",
    "scene_labels",
    "scene_spec",
]

#: Per-pattern labels of a scene: name → (NumPy dtype in stores, trailing shape).
LABEL_DTYPES: dict[str, tuple[str, tuple[int, ...]]] = {
    "quaternion": ("float32", (4,)),
    "quaternion_fz": ("float32", (4,)),
    "phase_id": ("int8", ()),
    "region": ("int8", ()),
    "pore": ("bool", ()),
    "grain_id": ("int32", ()),
    "dose_e_per_nm2": ("float32", ()),
    "damage_fraction": ("float32", ()),
    "mixing_self_weight": ("float32", ()),
    "pc": ("float32", (3,)),
}

# A jittered projection centre stays inside DetectorConfig's open ranges.
_PC_LOW = (0.01, 0.01, 0.21)
_PC_HIGH = (0.99, 0.99, 1.99)


@dataclass(frozen=True)
class SceneSpec:
    """The settings drawn for one scene (no rendering): enough to rebuild it exactly."""

    index: int
    source: int
    microstructure: MicrostructureConfig
    patterns: PatternConfig
    master_pattern: MasterPatternConfig
    detector: DetectorConfig
    draws: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (for a store's manifest)."""
        return {
            "scene": self.index,
            "source": self.source,
            "engine": self.master_pattern.engine,
            "pc_bruker": list(self.detector.pc_bruker),
            "step_size_um": self.microstructure.step_size_um,
            "draws": dict(self.draws),
        }


def scene_spec(
    config: DatasetConfig,
    seed: int,
    index: int,
    augment: AugmentConfig | None = None,
    epoch: int = 0,
) -> SceneSpec:
    """Draw the settings of scene ``index`` (see the module docstring for the order).

    Raises
    ------
    ValueError
        If ``index`` is outside the data set, or a drawn combination is invalid (the
        message names the scene and the draws).
    """
    if not 0 <= index < config.n_scenes:
        raise ValueError(f"Scene {index} is outside the data set (0 … {config.n_scenes - 1})")
    rng = stream_rng(seed, DATASET_PHYSICS_STREAM, index)
    weights = np.array([s.weight for s in config.scenes])
    source = int(rng.choice(len(weights), p=weights / weights.sum()))
    try:
        micro, scene_draws = config.scenes[source].draw(rng)
        patterns, mp_config, physics_draws = config.draw_physics(rng)
    except ValueError as e:
        raise ValueError(
            f"Scene {index} (seed {seed}): the drawn settings are invalid: {e}"
        ) from e
    pc = np.asarray(config.detector.pc_bruker) + rng.normal(0.0, 1.0, 3) * config.pc_jitter_bruker
    draws = {**{f"scene.{k}": v for k, v in scene_draws.items()}, **physics_draws}
    if augment is not None and augment.renders:
        aug = stream_rng(seed, AUGMENT_STREAM, index, epoch)
        pc = pc + aug.normal(0.0, 1.0, 3) * augment.pc_jitter_bruker
        if augment.prior_dose_e_per_nm2 is not None:
            extra = float(aug.uniform(*augment.prior_dose_e_per_nm2))
            damage = patterns.damage.model_copy(
                update={
                    "enabled": True,
                    "prior_dose_e_per_nm2": patterns.damage.prior_dose_e_per_nm2 + extra,
                }
            )
            patterns = patterns.model_copy(update={"damage": damage})
            draws["augment.prior_dose_e_per_nm2"] = extra
    pc = np.clip(pc, _PC_LOW, _PC_HIGH)
    detector = config.detector.model_copy(update={"pc_bruker": tuple(float(v) for v in pc)})
    return SceneSpec(index, source, micro, patterns, mp_config, detector, draws)


@dataclass(repr=False)
class Scene:
    """A scene ready to render: ground truth, detector, pattern model and labels."""

    spec: SceneSpec
    xmap: CrystalMap
    detector: EBSDDetector
    model: PatternModel
    labels: dict[str, np.ndarray]
    matrices: np.ndarray  # (n, 3, 3) float32 rotation matrices, flat C order

    def __repr__(self) -> str:
        return (
            f"Scene({self.spec.index}, map {self.xmap.shape}, {self.spec.master_pattern.engine})"
        )

    @property
    def shape(self) -> tuple[int, int]:
        """Map (rows, cols)."""
        return tuple(self.xmap.shape)


def build_scene(
    config: DatasetConfig,
    seed: int,
    index: int,
    device: str = "cpu",
    cache_dir: str | Path | None = None,
    augment: AugmentConfig | None = None,
    epoch: int = 0,
) -> Scene:
    """Generate scene ``index``: its map, detector, :class:`PatternModel` and labels."""
    spec = scene_spec(config, seed, index, augment, epoch)
    xmap = generate_microstructure(
        spec.microstructure, stream_rng(seed, DATASET_SCENE_STREAM, index)
    )
    # The realistic forward model: a PC per point, moving with the beam.
    detector = map_detector(spec.detector, xmap.shape, (xmap.dy, xmap.dx))
    energy = spec.detector.energy_kv
    mps = {
        pid: master_pattern(
            phase.name, energy, spec.master_pattern, cache_dir, spec.detector.sample_tilt_deg
        )
        for pid, phase in xmap.phases
        if pid >= 0
    }
    model = PatternModel(xmap, mps, detector, spec.patterns, energy, device)
    labels = scene_labels(xmap, model)
    matrices = xmap.rotations.to_matrix().reshape(-1, 3, 3).astype(np.float32)
    return Scene(spec, xmap, detector, model, labels, matrices)


_PROPER: dict[str, Rotation] = {}


def _proper_rotations(point_group: Symmetry) -> Rotation:
    """The proper rotations of a point group, once per process (orix takes ~50 ms)."""
    if point_group.name not in _PROPER:
        _PROPER[point_group.name] = Rotation(point_group.proper_subgroup.data)
    return _PROPER[point_group.name]


def fundamental_zone(quaternions: np.ndarray, point_group: Symmetry) -> np.ndarray:
    """Orientations reduced to the fundamental zone of a point group, w ≥ 0.

    The representative is the symmetry equivalent s · g (s a proper rotation of the
    point group, orix products) with the smallest rotation angle, i.e. the one in the
    Rodrigues fundamental zone: what orix's ``Orientation.reduce()`` returns, up to the
    sign of the quaternion (tested), at a third of its cost (it rebuilds the zone's
    boundary on every call).
    """
    ops = _proper_rotations(point_group)
    candidates = ops.outer(Rotation(quaternions)).data  # (n_ops, n, 4)
    best = np.argmax(np.abs(candidates[..., 0]), axis=0)
    out = candidates[best, np.arange(len(quaternions))]
    return np.where(out[:, :1] < 0, -out, out)


def scene_labels(xmap: CrystalMap, model: PatternModel) -> dict[str, np.ndarray]:
    """Per-pattern labels of a map (flat C order), in the dtypes of :data:`LABEL_DTYPES`.

    Quaternions are orix's (passive, sample → crystal, (w, x, y, z)); ``quaternion_fz``
    is the orientation reduced to its phase's fundamental zone
    (:func:`fundamental_zone`: orix's ``Orientation.reduce()`` with w ≥ 0), and equals
    ``quaternion`` where there is no phase.
    """
    n = xmap.size
    quat = np.asarray(xmap.rotations.data, dtype=np.float64).reshape(n, 4)
    fz = quat.copy()
    phase_id = np.asarray(xmap.phase_id)
    for pid, phase in xmap.phases:
        sel = np.nonzero(phase_id == pid)[0]
        if pid < 0 or sel.size == 0:
            continue
        fz[sel] = fundamental_zone(quat[sel], phase.point_group)
    truth = pattern_ground_truth(model)
    pc = truth["pc_bruker"]
    values = {
        "quaternion": quat,
        "quaternion_fz": fz,
        "phase_id": phase_id,
        "region": xmap.prop["region"],
        "pore": xmap.prop["pore"],
        "grain_id": xmap.prop["grain_id"],
        "dose_e_per_nm2": truth["dose_e_per_nm2"],
        "damage_fraction": truth["damage_fraction"],
        "mixing_self_weight": truth["mixing_self_weight"],
        "pc": pc,
    }
    out = {}
    for name, (dtype, tail) in LABEL_DTYPES.items():
        out[name] = np.ascontiguousarray(np.asarray(values[name]).reshape(n, *tail), dtype=dtype)
    return out
