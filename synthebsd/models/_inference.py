"""Inference: patterns (kikuchipy signal or array) → orix crystal maps, batched, any device.

Orientation checkpoints give each point an orientation (corrected for the pattern's
projection centre through the checkpoint's held-out ``pc_correction`` where it has one),
a region class and a predicted error (through its ``uncertainty_calibration``);
a point is indexed (phase id ≥ 0) when its class is a crystalline layer of the
checkpoint's phase list and its predicted error is at most the threshold
(``max_uncertainty_deg``, the checkpoint's unless given). Segmentation checkpoints give
each point a class. Every tensor stays on the device the patterns are sent to; only the
final arrays come back to the host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

from synthebsd.conventions import PHASE_IDS, Region
from synthebsd.models._calibration import apply_uncertainty_calibration
from synthebsd.models._checkpoint import Checkpoint
from synthebsd.models._flip import check_flip_pc
from synthebsd.models._networks import fuse_batch_norm
from synthebsd.models._pc_correction import apply_pc_correction, per_pattern_pc
from synthebsd.models._rotation import symmetry_table
from synthebsd.models._tasks import estimate_dose_counts
from synthebsd.models._views import InferenceViews, detector_normal
from synthebsd.phases import get_phase

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "class_phase_ids",
    "class_symmetry_table",
    "map_dose_counts",
    "predict_orientations",
    "predict_regions",
    "predict_tensors",
    "inference_views",
]


def _flat_source(patterns: Any) -> tuple[Any, tuple[int, ...], tuple[int, int]]:
    """(indexable (n, rows, cols) source, navigation shape, pattern shape)."""
    if hasattr(patterns, "axes_manager"):  # a kikuchipy EBSD or LazyEBSD signal
        nav = tuple(int(n) for n in patterns.axes_manager.navigation_shape[::-1])
        sig = tuple(int(n) for n in patterns.axes_manager.signal_shape[::-1])
        data = patterns.data
    else:
        data = patterns
        if data.ndim < 2:
            raise ValueError(f"Patterns need at least 2 dimensions, got shape {data.shape}")
        nav, sig = tuple(data.shape[:-2]), tuple(data.shape[-2:])
    return data.reshape(-1, *sig), nav, sig


def _batches(source, batch_size: int, device: torch.device):
    n = source.shape[0]
    for start in range(0, n, batch_size):
        chunk = source[start : start + batch_size]
        if hasattr(chunk, "compute"):  # dask
            chunk = chunk.compute()
        chunk = torch.as_tensor(np.asarray(chunk) if not torch.is_tensor(chunk) else chunk)
        if not torch.isfinite(chunk.float()).all():
            raise ValueError(
                f"Patterns {start}-{start + len(chunk) - 1} contain NaN or infinities"
            )
        yield chunk.to(device, torch.float32, non_blocking=True)


@torch.no_grad()
def predict_tensors(
    model: nn.Module,
    patterns: torch.Tensor,
    batch_size: int = 512,
    views: Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]] | None = None,
) -> dict[str, torch.Tensor]:
    """Run an orientation model over (n, rows, cols) patterns in batches, on their device.

    Parameters
    ----------
    model
        An orientation network.
    patterns
        (n, rows, cols) raw patterns.
    batch_size
        Patterns per forward pass.
    views
        How the network sees each pattern (:func:`inference_views`: its left–right
        mirror, twice the work, and optionally turned copies); None: the pattern alone.

    Returns
    -------
    outputs
        ``quaternion`` (n, 4), ``class_probability`` (n, classes), ``uncertainty_deg``
        (n,) and, with the flip, ``flip_angle_deg`` (n,), all on ``patterns.device``.
    """
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, patterns.shape[0], batch_size):
        chunk = patterns[start : start + batch_size]
        out = model(chunk) if views is None else views(model, chunk)
        out["class_probability"] = out["class_logits"].softmax(dim=1)
        for k in ("quaternion", "class_probability", "uncertainty_deg", "flip_angle_deg"):
            if k in out:  # not the embedding: predictions only
                parts.setdefault(k, []).append(out[k])
    return {k: torch.cat(v) for k, v in parts.items()}


def class_phase_ids(phase_names: dict[int, str]) -> np.ndarray:
    """Phase id given to each region class: metal, collector and electrolyte when the
    checkpoint has those phase ids (:data:`~synthebsd.conventions.PHASE_IDS`), else −1."""
    out = np.full(len(Region), -1)
    for region, layer in (
        (Region.METAL, "metal"),
        (Region.COLLECTOR, "collector"),
        (Region.ELECTROLYTE, "electrolyte"),
    ):
        if PHASE_IDS[layer] in phase_names:
            out[region] = PHASE_IDS[layer]
    return out


def class_symmetry_table(phase_names: dict[int, str]) -> np.ndarray:
    """Proper rotations of the Laue group of the phase each region class stands for.

    Returns
    -------
    table
        (n_classes, k, 4) orix quaternions (:func:`~synthebsd.models.symmetry_table` of
        the class's phase, :func:`class_phase_ids`); the identity for classes without one.
        Always the Laue group's: the flip it serves rests on Friedel's law.
    """
    table = symmetry_table(phase_names)
    identity = np.zeros((1, *table.shape[1:]))
    identity[..., 0] = 1.0
    return np.concatenate([table, identity])[class_phase_ids(phase_names)]  # −1 → identity


def inference_views(
    checkpoint: Checkpoint,
    flip: bool | None = None,
    rotations_deg: Sequence[float] | None = None,
    pc_bruker: Any = None,
) -> InferenceViews | None:
    """The views an orientation checkpoint predicts from (for :func:`predict_tensors`).

    Parameters
    ----------
    checkpoint
        An orientation checkpoint.
    flip, rotations_deg
        The flip pair, and the in-plane turns of extra pairs (degrees; need the flip:
        ``flip=False`` drops the checkpoint's turns too); None takes the checkpoint's
        ``test_time_flip`` and ``test_time_rotations_deg``, which its uncertainty
        calibration was fitted with.
    pc_bruker
        The patterns' projection centre (Bruker; one or one per pattern, the mean is
        used): the centre of the turns and the check of the flip; default the training
        detector's.

    Returns
    -------
    views
        A :class:`~synthebsd.models.InferenceViews`, or None without the flip.

    Raises
    ------
    ValueError
        If turns are asked for without the flip.
    """
    if rotations_deg is not None and tuple(rotations_deg) and flip is False:
        raise ValueError("In-plane turns of the patterns come in flip pairs: they need the flip")
    flip = checkpoint.test_time_flip if flip is None else flip
    if not flip:  # no flip, no turned pairs either
        return None
    rotations = checkpoint.test_time_rotations_deg if rotations_deg is None else rotations_deg
    rotations = tuple(float(r) for r in rotations)
    check_flip_pc(pc_bruker)
    detector = checkpoint.metadata["detector"]
    pc = np.asarray(detector["pc_bruker"] if pc_bruker is None else pc_bruker, dtype=float)
    pcx, pcy = pc.reshape(-1, 3).mean(axis=0)[:2]
    rows, cols = checkpoint.detector_shape
    table = class_symmetry_table(checkpoint.phase_names)
    return InferenceViews(
        class_operators=torch.as_tensor(table, dtype=torch.float32),
        rotations_deg=rotations,
        axis=tuple(detector_normal(detector["sample_tilt_deg"], detector["camera_tilt_deg"])),
        centre_px=(float(pcy * rows - 0.5), float(pcx * cols - 0.5)),  # Bruker: from the edges
    )


def _geometry(like: CrystalMap | None, nav: tuple[int, ...]) -> dict:
    n = int(np.prod(nav)) if nav else 1
    if like is None:
        like = CrystalMap.empty(shape=nav if len(nav) in (1, 2) else (n,))
        like.scan_unit = "px"
    if like.size != n:
        raise ValueError(f"The map geometry has {like.size} points but there are {n} patterns")
    return {"x": like.x, "y": like.y, "scan_unit": like.scan_unit}


def predict_orientations(
    checkpoint: Checkpoint,
    patterns: Any,
    like: CrystalMap | None = None,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    max_uncertainty_deg: float | None = None,
    regions: np.ndarray | None = None,
    pc_bruker: Any = None,
    flip: bool | None = None,
    rotations_deg: Sequence[float] | None = None,
) -> CrystalMap:
    """Orientation map of patterns with an orientation checkpoint.

    Parameters
    ----------
    checkpoint
        From :func:`~synthebsd.models.load_checkpoint` (task ``"orientation"``).
    patterns
        Raw counts: a kikuchipy ``EBSD``/``LazyEBSD`` signal or an array (..., rows, cols)
        (NumPy, dask or torch), rows × cols the checkpoint's detector shape.
    like
        Map whose grid (x, y, step, unit) the result takes; default: the patterns'
        navigation shape with unit steps (``scan_unit`` "px").
    batch_size
        Patterns per forward pass.
    device
        torch device to run on (the model is moved there).
    max_uncertainty_deg
        Predicted error above which a point is not indexed; default the checkpoint's.
    regions
        Class codes of the points (e.g. from :func:`predict_regions`) to use instead of
        the orientation model's own; a grain-boundary point (code 4) keeps the model's.
    pc_bruker
        Projection centre of the patterns (Bruker): one (3,), or one per pattern (n, 3)
        or navigation shape + (3,), e.g. ``detector.pc``. With a checkpoint that has a
        ``pc_correction``, the apparent rotation of its offset from the training PC is
        removed (:func:`~synthebsd.models.apply_pc_correction`); None takes the training
        PC. Ignored by a checkpoint without one.
    flip
        Average each pattern with its left–right mirror
        (:func:`~synthebsd.models.predict_with_flip`; exact for PCx = 0.5, a warning
        beyond ±0.02 of it); None takes the checkpoint's ``test_time_flip``, whose
        uncertainty calibration was fitted that way.
    rotations_deg
        With the flip, also the flip pairs of the patterns turned by these angles in
        their plane about the PC (:class:`~synthebsd.models.InferenceViews`, two more
        network passes each); None takes the checkpoint's ``test_time_rotations_deg``.

    Returns
    -------
    xmap
        orix ``CrystalMap`` with rotations (passive, sample → crystal), phase ids (−1:
        not indexed), the checkpoint's phases, and properties ``uncertainty_deg`` (the
        predicted error, calibrated when the checkpoint is), ``region`` (predicted class
        code), ``class_probability`` and, with the flip, ``flip_angle_deg`` (the angle
        between the two views, degrees).

    Raises
    ------
    IncompatibleInputError
        If the patterns' shape is not the checkpoint's.
    ValueError
        If the checkpoint is not an orientation model, patterns contain NaN, or
        ``pc_bruker`` is neither one PC nor one per pattern.
    """
    if checkpoint.task != "orientation":
        raise ValueError(f"Checkpoint {checkpoint.path} is a {checkpoint.task} model")
    source, nav, sig = _flat_source(patterns)
    checkpoint.check_patterns(sig)
    if pc_bruker is not None:
        pc_bruker = per_pattern_pc(pc_bruker, source.shape[0])
    threshold = checkpoint.max_uncertainty_deg
    threshold = float(threshold if max_uncertainty_deg is None else max_uncertainty_deg)
    views = inference_views(checkpoint, flip, rotations_deg, pc_bruker)
    device = torch.device(device)
    model = fuse_batch_norm(checkpoint.model).to(device, memory_format=torch.channels_last)
    parts: dict[str, list[np.ndarray]] = {}
    for chunk in _batches(source, batch_size, device):
        for k, v in predict_tensors(model, chunk, batch_size, views).items():
            parts.setdefault(k, []).append(v.double().cpu().numpy())
    out = {k: np.concatenate(v) for k, v in parts.items()}
    out["quaternion"] = apply_pc_correction(checkpoint.pc_correction, out["quaternion"], pc_bruker)
    out["uncertainty_deg"] = apply_uncertainty_calibration(
        checkpoint.uncertainty_calibration, out["uncertainty_deg"]
    )
    classes = out["class_probability"].argmax(axis=1)
    if regions is not None:
        regions = np.asarray(regions).ravel()
        if regions.size != classes.size:
            raise ValueError(f"{regions.size} region codes for {classes.size} patterns")
        classes = np.where(regions < len(Region), regions, classes)
    phase_id = class_phase_ids(checkpoint.phase_names)[classes]
    phase_id[out["uncertainty_deg"] > threshold] = -1
    names = checkpoint.phase_names
    phase_list = PhaseList(phases=[get_phase(names[i]) for i in sorted(names)], ids=sorted(names))
    return CrystalMap(
        rotations=Rotation(out["quaternion"]),
        phase_id=phase_id,
        phase_list=phase_list,
        prop={
            "uncertainty_deg": out["uncertainty_deg"],
            "region": (classes if regions is None else regions).astype(np.int64),
            "class_probability": out["class_probability"].max(axis=1),
            **({"flip_angle_deg": out["flip_angle_deg"]} if views is not None else {}),
        },
        **_geometry(like, nav),
    )


@torch.no_grad()
def predict_regions(
    checkpoint: Checkpoint,
    patterns: Any,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Class map (rows, cols) of a 2-D pattern map with a segmentation checkpoint.

    Patterns are embedded in batches of ``batch_size``, then the U-Net labels the whole
    map at once (its statistics are relative to the map). Codes: the
    :class:`~synthebsd.conventions.Region` codes (and 4, grain boundary, if trained so).
    """
    if checkpoint.task != "segmentation":
        raise ValueError(f"Checkpoint {checkpoint.path} is a {checkpoint.task} model")
    source, nav, sig = _flat_source(patterns)
    if len(nav) != 2:
        raise ValueError(f"Segmentation needs a 2-D map of patterns, got navigation shape {nav}")
    checkpoint.check_patterns(sig)
    device = torch.device(device)
    model = checkpoint.model.to(device).eval()
    features = torch.cat([model.pattern_features(c) for c in _batches(source, batch_size, device)])
    logits = model.classify(features.view(1, *nav, -1))
    return logits.argmax(dim=1)[0].cpu().numpy()


def map_dose_counts(patterns: Any, max_patterns: int = 2000) -> float:
    """Median estimated dose (counts per pixel at the background peak) of a map's patterns.

    Uses up to ``max_patterns`` patterns evenly spread over the map
    (:func:`~synthebsd.models.estimate_dose_counts`).
    """
    source, _, _ = _flat_source(patterns)
    n = source.shape[0]
    idx = np.unique(np.linspace(0, n - 1, min(n, max_patterns)).astype(int))
    chunk = source[idx]
    if hasattr(chunk, "compute"):
        chunk = chunk.compute()
    return float(estimate_dose_counts(torch.as_tensor(np.asarray(chunk))).median())
