"""Configuration of training data sets: scenes with ranges, randomised physics, augmentations.

A :class:`DatasetConfig` describes a distribution of labelled patterns: ``n_scenes``
scenes, each drawn from one of the ``scenes`` sources (a microstructure preset or
configuration, with ranges on any of its settings), rendered with the pattern physics
``patterns`` whose settings (dose, damage, mixing, camera binning, ...) and master-pattern
engine can vary per scene (``vary``), on the detector ``detector`` with a projection
centre jittered per scene (``pc_jitter_bruker``). The seed is not part of the
configuration: the same configuration with another seed is another sample of the same
distribution.

Settings to vary are named by dotted paths (``pores.porosity`` in a scene source,
``patterns.damage.enabled`` or ``master_pattern.engine`` in the data set) and drawn from
a :class:`Draw`. Every path, and every extreme of every range, is validated when the
configuration is, so a bad range fails before anything is rendered or written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from synthebsd.config._base import (
    ConfigError,
    StrictModel,
    read_yaml_mapping,
    validated,
)
from synthebsd.config._patterns import DetectorConfig, MasterPatternConfig, PatternConfig
from synthebsd.config._scene import MicrostructureConfig
from synthebsd.config._study import DEMO_SCENE, resolve_scene
from synthebsd.conventions import PHASE_IDS

__all__ = [
    "AugmentConfig",
    "DatasetConfig",
    "Draw",
    "SceneSource",
    "apply_settings",
    "load_dataset_config",
]

#: Layers whose phases name the phase ids (metal 0, collector 1, electrolyte 2).
_LAYERS = ("metal", "collector", "electrolyte")


class Draw(StrictModel):
    """One random setting: exactly one of ``uniform``, ``log_uniform`` or ``choice``.

    - ``uniform: [low, high]``: uniform in the closed range;
    - ``log_uniform: [low, high]``: uniform in log (0 < low), for doses and rates;
    - ``choice: [a, b, ...]``: one of the values with equal probability (booleans,
      integers, names).
    """

    uniform: tuple[float, float] | None = None
    log_uniform: tuple[float, float] | None = None
    choice: list[bool | int | float | str] | None = None

    @model_validator(mode="after")
    def _one(self) -> Draw:
        given = [n for n in ("uniform", "log_uniform", "choice") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of uniform, log_uniform or choice, got {given or 'none'}"
            )
        for name in ("uniform", "log_uniform"):
            rng = getattr(self, name)
            if rng is not None:
                low, high = rng
                if not (math.isfinite(low) and math.isfinite(high)) or low > high:
                    raise ValueError(f"{name} must be [low, high] with low <= high, got {rng}")
                if name == "log_uniform" and low <= 0:
                    raise ValueError(f"log_uniform needs 0 < low, got {rng}")
        if self.choice is not None and not self.choice:
            raise ValueError("choice must list at least one value")
        return self

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng`` (one call of the generator whatever the kind)."""
        if self.uniform is not None:
            return float(rng.uniform(*self.uniform))
        if self.log_uniform is not None:
            low, high = np.log(self.log_uniform)
            return float(np.exp(rng.uniform(low, high)))
        return self.choice[int(rng.integers(len(self.choice)))]

    def extremes(self) -> list[Any]:
        """The values that bound what :meth:`sample` can return (checked at validation)."""
        if self.choice is not None:
            return list(self.choice)
        return list(self.uniform if self.uniform is not None else self.log_uniform)


def apply_settings(data: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of nested settings ``data`` with dotted ``path: value`` pairs set.

    Raises
    ------
    ConfigError
        If a path does not name a setting of ``data``.
    """
    out = _deep_copy(data)
    for path, value in settings.items():
        keys = path.split(".")
        node = out
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                where = ".".join(keys[:depth]) or "the top level"
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                raise ConfigError(
                    f"{path!r} is not a setting: {key!r} is not under {where} "
                    f"(settings there: {known})"
                )
            if depth == len(keys) - 1:
                node[key] = value
            else:
                node = node[key]
    return out


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def _check_draws(
    model: type[StrictModel], base: dict[str, Any], vary: dict[str, Draw], label: str
) -> None:
    """Validate ``base`` with each extreme of each draw, and all lows / all highs together."""
    singles = [{path: v} for path, draw in vary.items() for v in draw.extremes()]
    ranged = {p: d for p, d in vary.items() if d.choice is None}
    corners = []
    if ranged:
        corners = [
            {p: d.extremes()[0] for p, d in ranged.items()},
            {p: d.extremes()[1] for p, d in ranged.items()},
        ]
    for settings in singles + corners:
        try:
            model.model_validate(apply_settings(base, settings))
        except ConfigError as e:
            raise ValueError(f"{label}: {e}") from e
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            shown = ", ".join(f"{p}={v!r}" for p, v in settings.items())
            raise ValueError(f"{label} is invalid at {shown}: {e}") from e


class SceneSource(StrictModel):
    """Where scenes come from: a microstructure and the ranges of its settings.

    ``scene`` is a :class:`~synthebsd.config.MicrostructureConfig`; in YAML a preset name
    or ``{preset: NAME, ...changes}`` as in the study. ``vary`` maps dotted settings of
    it (``pores.porosity``, ``metal.grains.mean_ecd_um``, ``step_size_um``, ...) to
    :class:`Draw`; the map shape, the layers' phases and the name cannot vary (every
    scene of a data set has the same shape and phase ids). ``weight`` is the relative
    probability of this source.
    """

    scene: MicrostructureConfig = Field(
        default_factory=lambda: MicrostructureConfig.model_validate(resolve_scene(DEMO_SCENE))
    )
    vary: dict[str, Draw] = Field(default_factory=dict)
    weight: float = Field(1.0, gt=0.0, description="relative probability of this source")

    @field_validator("scene", mode="before")
    @classmethod
    def _scene(cls, v: Any) -> Any:
        return resolve_scene(v)

    @model_validator(mode="after")
    def _ranges(self) -> SceneSource:
        for path in self.vary:
            last = path.split(".")[-1]
            if path in ("shape_px", "name") or last == "phase":
                raise ValueError(
                    f"vary: {path!r} cannot vary (every scene of a data set has the same map "
                    "shape and phases); make another data set instead"
                )
        _check_draws(
            MicrostructureConfig, self.scene.model_dump(mode="json"), self.vary, "scene vary"
        )
        return self

    def draw(self, rng: np.random.Generator) -> tuple[MicrostructureConfig, dict[str, Any]]:
        """A scene configuration with its ranges drawn (paths in sorted order), and the draws."""
        values = {path: self.vary[path].sample(rng) for path in sorted(self.vary)}
        data = apply_settings(self.scene.model_dump(mode="json"), values)
        return validated(MicrostructureConfig, data, "drawn scene"), values


class AugmentConfig(StrictModel):
    """Training-time augmentations drawn from the pattern physics (no image-space tricks).

    - ``count_fraction``: keep each detected count with probability f (log-uniform in the
      range, one f per pattern). Binomial thinning of Poisson counts is exactly a Poisson
      pattern at f times the dose, so it applies to stored patterns too (not to camera
      ADU: the camera model must be off).
    - ``pc_jitter_bruker``: an extra projection-centre offset per scene, normal with
      these σ (Bruker units), rendered (on-the-fly data sets only).
    - ``prior_dose_e_per_nm2``: extra beam damage, a uniform dose received before the
      scan drawn per scene in the range, rendered with the damage model switched on
      (on-the-fly data sets only).

    Augmentations use their own random stream (:data:`synthebsd.conventions.AUGMENT_STREAM`),
    so with them off the items are those of the data set itself.
    """

    count_fraction: tuple[float, float] | None = None
    pc_jitter_bruker: tuple[float, float, float] = (0.0, 0.0, 0.0)
    prior_dose_e_per_nm2: tuple[float, float] | None = None

    @field_validator("count_fraction")
    @classmethod
    def _fraction(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not (0 < v[0] <= v[1] <= 1):
            raise ValueError(f"count_fraction must satisfy 0 < low <= high <= 1, got {v}")
        return v

    @field_validator("pc_jitter_bruker")
    @classmethod
    def _jitter(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not 0 <= s <= 0.05 for s in v):
            raise ValueError(f"PC jitter σ must be within [0, 0.05] (Bruker units), got {v}")
        return v

    @field_validator("prior_dose_e_per_nm2")
    @classmethod
    def _dose(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not (0 <= v[0] <= v[1]):
            raise ValueError(f"prior_dose_e_per_nm2 must be [low, high], 0 <= low <= high: {v}")
        return v

    @property
    def renders(self) -> bool:
        """True when the augmentation needs the patterns rendered anew (not stored ones)."""
        return any(s > 0 for s in self.pc_jitter_bruker) or self.prior_dose_e_per_nm2 is not None

    @property
    def enabled(self) -> bool:
        """True when any augmentation is switched on."""
        return self.renders or self.count_fraction is not None


class DatasetConfig(StrictModel):
    """A distribution of labelled EBSD patterns: scenes, physics and their ranges.

    Every scene has the map shape of the sources (all equal) and the pattern shape of
    ``detector``. ``rows_per_chunk`` map rows make one chunk of the stream and of a store
    (and one shard of its pattern array); the patterns themselves do not depend on it.
    """

    scenes: list[SceneSource] = Field(default_factory=lambda: [SceneSource()], min_length=1)
    n_scenes: int = Field(8, ge=1, le=10_000_000, description="scenes in the data set")
    rows_per_chunk: int = Field(8, ge=1, le=8192, description="map rows per chunk")
    detector: DetectorConfig = DetectorConfig()
    master_pattern: MasterPatternConfig = MasterPatternConfig()
    patterns: PatternConfig = PatternConfig()
    vary: dict[str, Draw] = Field(
        default_factory=dict,
        description="per-scene draws of 'patterns.<setting>' and 'master_pattern.engine'",
    )
    pc_jitter_bruker: tuple[float, float, float] = Field(
        (0.0, 0.0, 0.0), description="σ of a normal PC offset per scene, Bruker units"
    )
    compression_level: int = Field(3, ge=0, le=9, description="Blosc-zstd level of a store")

    @field_validator("pc_jitter_bruker")
    @classmethod
    def _jitter(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not 0 <= s <= 0.05 for s in v):
            raise ValueError(f"PC jitter σ must be within [0, 0.05] (Bruker units), got {v}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DatasetConfig:
        shapes = {tuple(s.scene.shape_px) for s in self.scenes}
        if len(shapes) != 1:
            raise ValueError(
                f"scenes: every source must have the same shape_px (a store holds one map "
                f"shape), got {sorted(shapes)}"
            )
        for layer in _LAYERS:
            phases = {getattr(s.scene, layer).phase for s in self.scenes}
            if len(phases) != 1:
                raise ValueError(
                    f"scenes: every source must have the same {layer} phase (phase ids name "
                    f"the layers), got {sorted(phases)}; make one data set per cell"
                )
        for path in self.vary:
            if not (path.startswith("patterns.") or path == "master_pattern.engine"):
                raise ValueError(
                    f"vary: {path!r} cannot vary; vary 'patterns.<setting>' or "
                    "'master_pattern.engine' (the detector shape, tilt and energy are fixed "
                    "per data set; use pc_jitter_bruker for the projection centre)"
                )
        base = {
            "patterns": self.patterns.model_dump(mode="json"),
            "master_pattern": self.master_pattern.model_dump(mode="json"),
        }
        _check_draws(_PhysicsModel, base, self.vary, "vary")
        return self

    @property
    def map_shape(self) -> tuple[int, int]:
        """Map (rows, cols) of every scene."""
        return tuple(self.scenes[0].scene.shape_px)

    @property
    def phase_names(self) -> dict[int, str]:
        """Phase id → phase name of the layers that are crystalline in any source."""
        out = {}
        for layer in _LAYERS:
            if any(not getattr(s.scene, layer).amorphous for s in self.scenes):
                out[PHASE_IDS[layer]] = getattr(self.scenes[0].scene, layer).phase
        return dict(sorted(out.items()))

    @property
    def engines(self) -> list[str]:
        """Master-pattern engines that scenes can use."""
        draw = self.vary.get("master_pattern.engine")
        return sorted(set(draw.extremes())) if draw is not None else [self.master_pattern.engine]

    def draw_physics(
        self, rng: np.random.Generator
    ) -> tuple[PatternConfig, MasterPatternConfig, dict[str, Any]]:
        """Pattern and master-pattern settings with ``vary`` drawn (sorted paths), and the draws."""
        values = {path: self.vary[path].sample(rng) for path in sorted(self.vary)}
        base = {
            "patterns": self.patterns.model_dump(mode="json"),
            "master_pattern": self.master_pattern.model_dump(mode="json"),
        }
        physics = validated(_PhysicsModel, apply_settings(base, values), "drawn physics")
        return physics.patterns, physics.master_pattern, values


class _PhysicsModel(StrictModel):
    """What ``DatasetConfig.vary`` acts on, validated together."""

    patterns: PatternConfig
    master_pattern: MasterPatternConfig


def load_dataset_config(path: str | Path) -> DatasetConfig:
    """Read and validate a YAML data-set configuration.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or a value, path or range is invalid; the message
        names the file and the offending setting.
    """
    return validated(DatasetConfig, read_yaml_mapping(path), f"dataset config {path}")
