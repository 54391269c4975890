"""Configuration of the indexing-accuracy benchmark and of the in-situ validation run."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from synthebsd.config._base import StrictModel, read_yaml_mapping, validated
from synthebsd.config._scene import list_presets
from synthebsd.config._study import StudyConfig

__all__ = [
    "AXES",
    "METHODS",
    "BenchmarkConfig",
    "BenchmarkGrid",
    "BenchmarkPoint",
    "InsituConfig",
    "load_benchmark_config",
    "load_insitu_config",
]

#: The grid axes of a benchmark, in the order of a point's key.
AXES = ("preset", "dose_counts", "damage", "forward_model", "pc_error", "indexer_engine")
#: Indexing methods a benchmark can run; the neural ones need a checkpoint.
METHODS = ("hough", "dictionary", "refined", "neural", "neural_refined")

Method = Literal["hough", "dictionary", "refined", "neural", "neural_refined"]


def _check_preset(name: str) -> str:
    if name not in list_presets():
        raise ValueError(f"Unknown cell preset {name!r}; presets: {list_presets()}")
    return name


class BenchmarkPoint(StrictModel):
    """One grid point: the cell, the dose, beam damage and the indexer's mismatches.

    ``damage`` is None for no beam damage, or a multiple m of the critical doses: damage
    on (:class:`~synthebsd.config.DamageConfig`) with every phase's D_c × m (m < 1: a
    more beam-sensitive metal). ``forward_model`` ``realistic`` renders from the truth
    model (energy-weighted master patterns, a PC per point, pores and electrolytes that
    give patterns); ``matched`` from the indexer's own master patterns at the nominal PC.
    ``pc_error`` is the length of the indexer's PC calibration error (PC units), for
    either forward model; ``indexer_engine`` the indexer's master-pattern engine.
    """

    preset: str = "cu_li_llzto"
    dose_counts: float = Field(200.0, gt=0.0, le=20_000.0)
    damage: float | None = Field(None, gt=0.0, le=1000.0)
    forward_model: Literal["realistic", "matched"] = "realistic"
    pc_error: float = Field(0.003, ge=0.0, le=0.05)
    indexer_engine: Literal["dynamical", "kinematical"] = "dynamical"

    _preset = field_validator("preset")(classmethod(lambda cls, v: _check_preset(v)))

    def key(self) -> str:
        """A file-name-safe identifier of the point (its folder name)."""
        damage = "off" if self.damage is None else f"{self.damage:g}Dc"
        return (
            f"{self.preset}__dose{self.dose_counts:g}__damage-{damage}__{self.forward_model}"
            f"__pc{self.pc_error:g}__{self.indexer_engine}"
        )


class BenchmarkGrid(StrictModel):
    """Values of each grid axis (:data:`AXES`); see :class:`BenchmarkPoint`."""

    preset: tuple[str, ...] = Field(("cu_li_llzto", "ss_li_lpscl", "al_na_nzsp"), min_length=1)
    dose_counts: tuple[float, ...] = Field((25.0, 50.0, 100.0, 200.0, 500.0, 2000.0), min_length=1)
    damage: tuple[float | None, ...] = Field((None, 1.0, 0.3), min_length=1)
    forward_model: tuple[Literal["realistic", "matched"], ...] = Field(
        ("realistic", "matched"), min_length=1
    )
    pc_error: tuple[float, ...] = Field((0.0, 0.003, 0.01), min_length=1)
    indexer_engine: tuple[Literal["dynamical", "kinematical"], ...] = Field(
        ("dynamical", "kinematical"), min_length=1
    )

    @field_validator("preset")
    @classmethod
    def _presets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_preset(p) for p in v)

    @model_validator(mode="after")
    def _unique(self) -> BenchmarkGrid:
        for axis in AXES:
            values = getattr(self, axis)
            if len(set(values)) != len(values):
                raise ValueError(f"grid axis {axis} repeats a value: {list(values)}")
        return self


class BenchmarkConfig(StrictModel):
    """A benchmark: grid, seeds, methods, map size and the study settings shared by all.

    The grid is swept in ``sweeps``: each sweep is a set of axes varied together (their
    full product) while every other axis keeps its ``base`` value; the points of all
    sweeps are run once each (duplicates merged), every one for each seed. ``sweeps:
    null`` runs the full product of every axis. The default sweeps give the headline
    (dose × cell), damage × cell, the cost of each mismatch (forward model × PC error,
    indexer engine × forward model) around the base point.

    ``study`` holds the settings of each point's study (:class:`StudyConfig`: detector,
    truth master patterns, pattern physics, indexing, indexer model); a point sets its
    scene (preset at ``shape_px`` and ``step_size_um``, with ``scene_overrides`` merged
    in), ``patterns.dose_counts`` and ``damage``, ``indexer.pc_error`` and ``engine``.
    """

    grid: BenchmarkGrid = BenchmarkGrid()
    base: BenchmarkPoint = BenchmarkPoint()
    sweeps: list[tuple[str, ...]] | None = Field(
        default_factory=lambda: [
            ("preset", "dose_counts"),
            ("preset", "damage"),
            ("forward_model", "pc_error"),
            ("indexer_engine", "forward_model"),
        ]
    )
    seeds: tuple[int, ...] = Field((0, 1, 2), min_length=3)
    methods: tuple[Method, ...] = Field(("hough", "dictionary", "refined"), min_length=1)
    neural_checkpoint: Path | None = Field(
        None, description="orientation checkpoint for the neural methods (skipped without)"
    )
    shape_px: tuple[int, int] = Field(
        (40, 40),
        description="map (rows, cols) of every point; 40 × 0.75 µm = 30 µm holds the "
        "thickest preset cell (Al 6 µm + Na 22 µm) with room for the electrolyte",
    )
    step_size_um: float = Field(0.75, gt=0.0, le=10.0)
    scene_overrides: dict[str, Any] = Field(
        default_factory=dict, description="scene settings merged into every preset"
    )
    study: StudyConfig = StudyConfig()
    workers: int = Field(1, ge=1, le=64, description="local dask workers (threads)")
    save_patterns: bool = Field(False, description="also write each point's patterns")
    example_maps: int = Field(
        1, ge=0, le=100, description="points (first seed) with IPF and error maps as PNG"
    )

    @field_validator("sweeps")
    @classmethod
    def _sweeps(cls, v: list[tuple[str, ...]] | None) -> list[tuple[str, ...]] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("sweeps must name at least one sweep (or be null: full grid)")
        for sweep in v:
            unknown = set(sweep) - set(AXES)
            if unknown or not sweep:
                raise ValueError(f"sweep {list(sweep)} names unknown axes; axes: {list(AXES)}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(v)) != len(v) or min(v) < 0:
            raise ValueError(f"seeds must be distinct and ≥ 0, got {list(v)}")
        return v

    @field_validator("shape_px")
    @classmethod
    def _shape(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 4 or max(v) > 2000:
            raise ValueError(f"map shape must be 4 to 2000 points per side, got {v}")
        return v

    @model_validator(mode="after")
    def _neural(self) -> BenchmarkConfig:
        neural = {"neural", "neural_refined"} & set(self.methods)
        if neural and self.neural_checkpoint is None:
            raise ValueError(f"methods {sorted(neural)} need neural_checkpoint")
        if "refined" in self.methods and "dictionary" not in self.methods:
            raise ValueError("method 'refined' refines the dictionary's map: add 'dictionary'")
        return self

    def points(self) -> list[BenchmarkPoint]:
        """The grid points to run (without seeds), sweeps merged, in a stable order."""
        axes = [AXES] if self.sweeps is None else self.sweeps
        out: dict[str, BenchmarkPoint] = {}
        for sweep in axes:
            values = [getattr(self.grid, axis) for axis in sweep]
            for combo in itertools.product(*values):
                p = self.base.model_copy(update=dict(zip(sweep, combo, strict=True)))
                p = BenchmarkPoint.model_validate(p.model_dump())
                out.setdefault(p.key(), p)
        return list(out.values())

    def quick(self) -> BenchmarkConfig:
        """The ``--quick`` benchmark: the base cell at the lowest and highest dose
        (realistic), and matched at the highest: 3 points × 3 seeds on a 16 × 20 map of
        0.75 µm steps (collector 2 µm, metal 7 µm thick), kinematical master patterns
        (seconds to compute), amorphous electrolyte (no electrolyte master pattern), a
        4° dictionary (refinement recovers the rest)."""
        doses = sorted(self.grid.dose_counts)
        study = self.study.model_copy(
            update={
                "master_pattern": self.study.master_pattern.model_copy(
                    update={"engine": "kinematical", "half_size_px": 200}
                ),
                "indexing": self.study.indexing.model_copy(
                    update={"dictionary_resolution_deg": 4.0}
                ),
            }
        )
        return self.model_copy(
            update={
                "grid": self.grid.model_copy(
                    update={
                        "dose_counts": (doses[0], doses[-1]),
                        "forward_model": ("realistic", "matched"),
                    }
                ),
                "base": self.base.model_copy(
                    update={"indexer_engine": "kinematical", "dose_counts": doses[-1]}
                ),
                "sweeps": [("dose_counts",), ("forward_model",)],
                "seeds": self.seeds[:3],
                "shape_px": (16, 20),
                "step_size_um": 0.75,
                "scene_overrides": {
                    **self.scene_overrides,
                    "collector": {"thickness_um": 2.0},
                    "metal": {"thickness_um": 7.0},
                    "electrolyte": {"amorphous": True},
                },
                "study": study,
                "example_maps": min(self.example_maps, 1),
            }
        )


class InsituConfig(StrictModel):
    """An in-situ validation run: plating and stripping sequences, rendered and indexed.

    Every frame is rendered with the realistic forward model of ``study`` (with beam
    damage on: ``study.patterns.damage`` and the beam's dose per pattern), and the dose
    each frame's scan delivers is added to the prior dose of the next frame at every map
    point (the same area re-imaged). Each frame is indexed by every method at every dose
    of ``dose_counts``.
    """

    preset: str = "cu_li_llzto"
    scene_overrides: dict[str, Any] = Field(default_factory=dict)
    shape_px: tuple[int, int] = (40, 40)
    step_size_um: float = Field(0.75, gt=0.0, le=10.0)
    sequences: tuple[Literal["plating", "stripping"], ...] = Field(
        ("plating", "stripping"), min_length=1
    )
    n_frames: int = Field(5, ge=2, le=100)
    dose_counts: tuple[float, ...] = Field((100.0, 1000.0), min_length=1)
    accumulate_damage: bool = Field(
        True, description="beam damage on, dose of earlier frames added to each point"
    )
    methods: tuple[Method, ...] = Field(("hough", "dictionary", "refined"), min_length=1)
    neural_checkpoint: Path | None = None
    seed: int = Field(0, ge=0)
    study: StudyConfig = StudyConfig()

    _preset = field_validator("preset")(classmethod(lambda cls, v: _check_preset(v)))

    @model_validator(mode="after")
    def _neural(self) -> InsituConfig:
        neural = {"neural", "neural_refined"} & set(self.methods)
        if neural and self.neural_checkpoint is None:
            raise ValueError(f"methods {sorted(neural)} need neural_checkpoint")
        if "refined" in self.methods and "dictionary" not in self.methods:
            raise ValueError("method 'refined' refines the dictionary's map: add 'dictionary'")
        return self


def load_benchmark_config(path: str | Path) -> BenchmarkConfig:
    """Read and validate a YAML benchmark configuration (errors name the file and field)."""
    return validated(BenchmarkConfig, read_yaml_mapping(path), f"benchmark config {path}")


def load_insitu_config(path: str | Path) -> InsituConfig:
    """Read and validate a YAML in-situ configuration (errors name the file and field)."""
    return validated(InsituConfig, read_yaml_mapping(path), f"in-situ config {path}")
