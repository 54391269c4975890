"""Configuration of the end-to-end study, and reading it from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from synthebsd.config._base import StrictModel, merged_mapping, read_yaml_mapping, validated
from synthebsd.config._indexing import IndexingConfig
from synthebsd.config._patterns import DetectorConfig, MasterPatternConfig, PatternConfig
from synthebsd.config._scene import MicrostructureConfig, scene_settings

__all__ = ["DEMO_SCENE", "IndexerModelConfig", "StudyConfig", "load_config", "resolve_scene"]

#: The demo's scene: the Cu | Li | LLZTO preset on a 45 × 50 map of 0.6 µm steps
#: (27 × 30 µm, 2,250 patterns), small enough for ``make demo`` on 2 cores.
DEMO_SCENE: dict[str, Any] = {"preset": "cu_li_llzto", "shape_px": (45, 50), "step_size_um": 0.6}


def resolve_scene(value: Any) -> Any:
    """A study's ``scene`` setting as microstructure settings.

    Accepts a :class:`~synthebsd.config.MicrostructureConfig`, a preset name or YAML file
    (:func:`~synthebsd.config.list_presets`), or a mapping of settings, which may name a
    ``preset`` (or file) whose settings it then overrides key by key.
    """
    if isinstance(value, str | Path):
        return scene_settings(value)[0]
    if isinstance(value, dict) and "preset" in value:
        rest = {k: v for k, v in value.items() if k != "preset"}
        return merged_mapping(scene_settings(value["preset"])[0], rest)
    return value


class IndexerModelConfig(StrictModel):
    """What an indexer is given, as a user has it (the study's default forward model).

    A single-energy master pattern (the incident-energy bin, not the Monte-Carlo-weighted
    spectrum that makes the patterns), at a coarser Lambert resolution than the truth's,
    and one projection centre: the map centre's from a calibration with an error of
    ``pc_error`` (a vector of that length in PC units, Bruker, in a direction drawn from
    the study's seed). It knows nothing of dose, beam damage, boundary mixing or pores.
    """

    engine: Literal["dynamical", "kinematical"] | None = Field(
        None, description="master-pattern engine; None: the truth's (``master_pattern``)"
    )
    half_size_px: int | None = Field(
        None,
        ge=25,
        le=2000,
        description="Lambert half width in pixels; None: half the truth's for each phase",
    )
    pc_error: float = Field(
        0.003, ge=0.0, le=0.05, description="length of the PC calibration error (PC units)"
    )


class StudyConfig(StrictModel):
    """Everything one end-to-end study needs.

    ``scene`` is a microstructure (:class:`~synthebsd.config.MicrostructureConfig`); in
    YAML, a preset name or a mapping with ``preset:`` and the settings to change. The
    default is :data:`DEMO_SCENE`.

    ``forward_models`` names what makes the patterns each method is scored on:

    - ``realistic``: the truth model. ``master_pattern`` (energy-weighted dynamical by
      default), a projection centre per map point moving with the beam, pores and
      crystalline electrolytes that give patterns, and ``patterns`` (noise, pixel
      integration, optional damage and mixing); indexed with the ``indexer`` model.
    - ``matched``: the inverse crime, kept to put a number on it: patterns rendered from
      the indexer's own master pattern at its own single projection centre.
    """

    seed: int = Field(0, ge=0)
    scene: MicrostructureConfig = Field(
        default_factory=lambda: MicrostructureConfig.model_validate(resolve_scene(DEMO_SCENE))
    )
    detector: DetectorConfig = DetectorConfig()
    master_pattern: MasterPatternConfig = MasterPatternConfig()
    patterns: PatternConfig = PatternConfig()
    indexing: IndexingConfig = IndexingConfig()
    indexer: IndexerModelConfig = IndexerModelConfig()
    forward_models: tuple[Literal["realistic", "matched"], ...] = Field(
        ("realistic", "matched"), min_length=1
    )

    @field_validator("forward_models")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError(f"forward_models must not repeat a model, got {list(v)}")
        return v

    @field_validator("scene", mode="before")
    @classmethod
    def _scene(cls, v: Any) -> Any:
        return resolve_scene(v)


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a YAML study configuration.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or a value is out of range; the message names
        the file and the offending field.
    """
    return validated(StudyConfig, read_yaml_mapping(path), f"study config {path}")
