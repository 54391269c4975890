"""Validated configuration of the microstructure generator (pydantic, units in field names).

A :class:`MicrostructureConfig` describes one cross-section of an anode-free cell, rows
running from the top of the cell down (``(row, col)``, origin top left, ``y`` down in
µm): a solid electrolyte on top, the plated metal, and the current collector at the
bottom. Each layer has its own phase, grains (log-normal equivalent-circle diameters,
equiaxed or columnar) and texture; the metal also has intragranular misorientation and
stripping pores. Presets for three published cells are in ``synthebsd/config/presets``
(:func:`load_microstructure_config` reads a preset name or a YAML file).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from synthebsd.config._base import ConfigError, StrictModel, parse_yaml_mapping, validated
from synthebsd.phases import get_phase

__all__ = [
    "GrainConfig",
    "IntragranularConfig",
    "InterfaceConfig",
    "LayerConfig",
    "MicrostructureConfig",
    "PoreConfig",
    "SequenceConfig",
    "TextureConfig",
    "SceneRunConfig",
    "list_presets",
    "load_microstructure_config",
    "load_scene_run",
]

_PRESET_PACKAGE = "synthebsd.config.presets"


class TextureConfig(StrictModel):
    """Orientation distribution of one layer's grains.

    - ``uniform``: uniformly random (Haar measure on SO(3)).
    - ``fibre``: the crystal direction ``crystal_direction_uvw`` of every grain lies near
      the sample direction ``sample_direction_xyz`` (sample frame: x along the map
      columns, y down the rows, z out of the map; the default −y is the growth direction,
      from the collector towards the electrolyte), with a uniformly random rotation about
      it. The angle between the two is Rayleigh-distributed with scale ``spread_deg``
      (each of the two tilt components is normal with standard deviation
      ``spread_deg``); :func:`synthebsd.analyze.fibre_texture_spread` measures it back.
    - ``sampled``: grain orientations drawn with replacement from a given set: an orix
      crystal map (``.h5``, its orientations of the layer's phase) or a text file of Bunge
      Euler angles in degrees (one orientation per line) in ``orientations_file``, or
      an orix ``Rotation`` passed to the generator.
    """

    kind: Literal["uniform", "fibre", "sampled"] = "uniform"
    crystal_direction_uvw: tuple[float, float, float] = (1.0, 1.0, 0.0)
    sample_direction_xyz: tuple[float, float, float] = (0.0, -1.0, 0.0)
    spread_deg: float = Field(
        10.0, gt=0.0, le=60.0, description="fibre: Rayleigh scale of the axis tilt, degrees"
    )
    orientations_file: Path | None = Field(
        None, description="sampled: orix HDF5 map or text file of Bunge Euler angles (degrees)"
    )

    @field_validator("crystal_direction_uvw", "sample_direction_xyz")
    @classmethod
    def _nonzero(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not np.any(np.asarray(v, dtype=float)):
            raise ValueError("a direction must not be the zero vector")
        return v


class GrainConfig(StrictModel):
    """Grain sizes and shapes of one layer (Laguerre tessellation).

    Equivalent-circle diameters (ECD) in the section are log-normal with arithmetic mean
    ``mean_ecd_um`` and standard deviation of ln(ECD) ``ecd_log_sigma``. Columnar grains
    are elongated along the growth direction (up the map) by ``aspect_ratio`` (length /
    width); their ECD is still the section's ECD.
    """

    mean_ecd_um: float = Field(..., gt=0.0, description="mean equivalent-circle diameter, µm")
    ecd_log_sigma: float = Field(
        0.35,
        ge=0.0,
        le=0.8,
        description="standard deviation of ln(ECD); above ~0.6 grains smaller than 2 px "
        "become common and the section cannot resolve them",
    )
    shape: Literal["equiaxed", "columnar"] = "equiaxed"
    aspect_ratio: float = Field(
        1.0, ge=1.0, le=20.0, description="columnar: length along growth / width"
    )

    @model_validator(mode="after")
    def _shape(self) -> GrainConfig:
        if self.shape == "equiaxed" and self.aspect_ratio != 1.0:
            raise ValueError("aspect_ratio applies to columnar grains; set shape: columnar")
        return self


class IntragranularConfig(StrictModel):
    """Orientation spread inside metal grains.

    A smooth lattice rotation about a random axis per grain, growing linearly along a
    random in-plane direction (``gradient_deg`` across one mean grain diameter), plus
    low-angle sub-grains (Voronoi cells of size ``subgrain_size_um`` inside each grain),
    each rotated by a half-normal angle of scale ``subgrain_misorientation_deg`` about a
    random axis.
    """

    gradient_deg: float = Field(
        0.0, ge=0.0, le=15.0, description="misorientation across one mean grain diameter, °"
    )
    subgrain_size_um: float | None = Field(
        None, gt=0.0, description="mean sub-grain size in µm; None: no sub-grains"
    )
    subgrain_misorientation_deg: float = Field(
        0.0, ge=0.0, le=10.0, description="half-normal scale of sub-grain rotations, °"
    )

    @model_validator(mode="after")
    def _subgrains(self) -> IntragranularConfig:
        if self.subgrain_misorientation_deg > 0 and self.subgrain_size_um is None:
            raise ValueError("subgrain_misorientation_deg needs subgrain_size_um")
        return self


class LayerConfig(StrictModel):
    """One layer: its phase, thickness (µm; the electrolyte fills the rest), grains, texture."""

    phase: str
    thickness_um: float = Field(0.0, ge=0.0, description="mean thickness in µm")
    grains: GrainConfig
    texture: TextureConfig = TextureConfig()
    intragranular: IntragranularConfig = Field(
        IntragranularConfig(), description="metal only: orientation spread inside grains"
    )
    amorphous: bool = Field(
        False,
        description="True: no crystal order (e.g. a glassy electrolyte): phase id −1 and "
        "background-only patterns; False: the layer's points carry its phase id and give "
        "its Kikuchi patterns; grains are kept either way",
    )

    @field_validator("phase")
    @classmethod
    def _known_phase(cls, v: str) -> str:
        return get_phase(v).name


class InterfaceConfig(StrictModel):
    """Rough interface: height profile h(x) = Gaussian-filtered white noise.

    ``amplitude_um`` is the RMS height; ``correlation_length_um`` the distance at which the
    height autocorrelation (Gaussian) falls to 1/e.
    """

    amplitude_um: float = Field(0.3, ge=0.0, description="RMS height, µm")
    correlation_length_um: float = Field(5.0, gt=0.0, description="1/e correlation length, µm")


class PoreConfig(StrictModel):
    """Stripping voids: nucleated at the metal|electrolyte interface, growing into the metal.

    ``porosity`` is the void fraction of the metal layer, pores / (pores + metal), in the
    final state. Void diameters (before they are cut by the interface and each other) are
    log-normal with arithmetic mean ``mean_diameter_um`` and log standard deviation
    ``diameter_log_sigma``.
    """

    porosity: float = Field(0.0, ge=0.0, le=0.8)
    mean_diameter_um: float = Field(2.0, gt=0.0)
    diameter_log_sigma: float = Field(0.3, ge=0.0, le=1.5)


class SequenceConfig(StrictModel):
    """In-situ plating / stripping sequences.

    Plating goes from ``initial_thickness_fraction`` × the metal thickness to the full
    thickness; ``consumed_fraction`` is the number of grains consumed by their neighbours
    during plating, relative to the final number (coarsening). Stripping removes
    ``stripped_thickness_um`` of metal and opens the configured porosity.
    """

    initial_thickness_fraction: float = Field(0.2, gt=0.0, le=1.0)
    consumed_fraction: float = Field(0.3, ge=0.0, le=2.0)
    stripped_thickness_um: float = Field(2.0, ge=0.0)


class MicrostructureConfig(StrictModel):
    """A cross-section of an anode-free cell: collector (bottom), metal, electrolyte (top)."""

    name: str = "custom"
    shape_px: tuple[int, int] = Field((128, 128), description="map (rows, cols) in pixels")
    step_size_um: float = Field(0.25, gt=0.0, le=100.0, description="pixel size, µm")
    collector: LayerConfig = LayerConfig(
        phase="Cu", thickness_um=4.0, grains=GrainConfig(mean_ecd_um=2.0)
    )
    metal: LayerConfig = LayerConfig(
        phase="Li", thickness_um=12.0, grains=GrainConfig(mean_ecd_um=4.0)
    )
    electrolyte: LayerConfig = LayerConfig(phase="LLZTO", grains=GrainConfig(mean_ecd_um=3.0))
    collector_interface: InterfaceConfig = InterfaceConfig(amplitude_um=0.1)
    electrolyte_interface: InterfaceConfig = InterfaceConfig()
    pores: PoreConfig = PoreConfig()
    sequence: SequenceConfig = SequenceConfig()

    @field_validator("shape_px")
    @classmethod
    def _shape(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 8 or max(v) > 8192:
            raise ValueError(f"map shape must be 8 to 8192 px per side, got {v}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> MicrostructureConfig:
        names = [self.collector.phase, self.metal.phase, self.electrolyte.phase]
        if len(set(names)) != 3:
            raise ValueError(f"collector, metal and electrolyte must be different phases: {names}")
        height_um = self.shape_px[0] * self.step_size_um
        below = self.collector.thickness_um + self.metal.thickness_um
        if below >= height_um:
            raise ValueError(
                f"collector ({self.collector.thickness_um} µm) + metal "
                f"({self.metal.thickness_um} µm) must be thinner than the map height "
                f"({height_um} µm) to leave room for the electrolyte"
            )
        for layer_name in ("collector", "electrolyte"):
            if getattr(self, layer_name).intragranular != IntragranularConfig():
                raise ValueError(
                    f"{layer_name}.intragranular: intragranular misorientation is modelled "
                    "in the metal only"
                )
        for layer_name in ("collector", "metal", "electrolyte"):
            layer = getattr(self, layer_name)
            min_ecd_px = layer.grains.mean_ecd_um / self.step_size_um
            if min_ecd_px < 2.0:
                raise ValueError(
                    f"{layer_name}.grains.mean_ecd_um ({layer.grains.mean_ecd_um} µm) is below "
                    f"2 pixels ({2 * self.step_size_um} µm): grains cannot be resolved"
                )
        return self


class SceneRunConfig(StrictModel):
    """One run of ``synthebsd scene``: the cell and how to render it (``config.yaml``)."""

    seed: int = Field(0, ge=0)
    sequence: Literal["none", "plating", "stripping"] = "none"
    frames: int = Field(1, ge=1, le=1000, description="frames of a sequence (≥ 2)")
    scene: MicrostructureConfig

    @model_validator(mode="after")
    def _frames(self) -> SceneRunConfig:
        if self.sequence != "none" and self.frames < 2:
            raise ValueError(f"a {self.sequence} sequence needs frames ≥ 2, got {self.frames}")
        return self


def load_scene_run(
    source: str | Path,
    seed: int | None = None,
    sequence: str | None = None,
    frames: int | None = None,
) -> SceneRunConfig:
    """A scene run from a preset, a microstructure YAML, or a run file (``config.yaml``).

    A run file (a mapping with a ``scene`` key, as ``synthebsd scene`` writes) brings its
    own seed, sequence and frame count; the arguments given override them. Otherwise the
    defaults are seed 0, no sequence, and 5 frames for a sequence.

    Raises
    ------
    ConfigError
        If the source or a value is invalid; the message names the field.
    """
    data, label = scene_settings(source)
    run = data if "scene" in data else {"scene": data}
    updates = {"seed": seed, "sequence": sequence, "frames": frames}
    run = run | {k: v for k, v in updates.items() if v is not None}
    if run.get("sequence", "none") != "none" and "frames" not in run:
        run["frames"] = 5
    return validated(SceneRunConfig, run, f"scene run {label}")


def list_presets() -> list[str]:
    """Names of the shipped presets (``synthebsd/config/presets/*.yaml``)."""
    files = resources.files(_PRESET_PACKAGE).iterdir()
    return sorted(f.name[: -len(".yaml")] for f in files if f.name.endswith(".yaml"))


def scene_settings(source: str | Path) -> tuple[dict[str, Any], str]:
    """The settings of a preset name or YAML file, unvalidated, and a label for errors.

    Raises
    ------
    ConfigError
        If ``source`` is neither a preset nor an existing file, or is not a YAML mapping.
    """
    text = str(source)
    if text in list_presets():
        label = f"preset {text!r}"
        raw = resources.files(_PRESET_PACKAGE).joinpath(f"{text}.yaml").read_text()
    else:
        path = Path(source)
        label = str(path)
        if not path.is_file():
            raise ConfigError(
                f"{path} is neither a preset ({', '.join(list_presets())}) nor an existing file"
            )
        raw = path.read_text()
    return parse_yaml_mapping(raw, label), label


def load_microstructure_config(source: str | Path) -> MicrostructureConfig:
    """Read and validate a microstructure configuration.

    Parameters
    ----------
    source
        A preset name (see :func:`list_presets`) or the path of a YAML file.

    Returns
    -------
    config
        The validated configuration.

    Raises
    ------
    ConfigError
        If the preset or file does not exist, is not YAML, or a value is invalid; the
        message names the source and each offending field.
    """
    data, label = scene_settings(source)
    return validated(MicrostructureConfig, data, f"microstructure config {label}")
