"""Configuration of pattern formation: detector, master patterns, beam, camera, damage.

Pydantic models with units in the field names; every field is range-checked so that a bad
value fails early with a message naming it. Projection centres are in the Bruker
convention (:mod:`synthebsd.conventions`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from synthebsd.config._base import StrictModel

_UINT16_MAX = 65_535

__all__ = [
    "BeamConfig",
    "CameraConfig",
    "DamageConfig",
    "DetectorConfig",
    "MasterPatternConfig",
    "MixingConfig",
    "PatternConfig",
    "SurfaceLayerConfig",
]


class DetectorConfig(StrictModel):
    """EBSD detector geometry.

    The projection centre is in the Bruker convention (kikuchipy's internal one):
    PCx and PCy as fractions of the detector width and height from the top left, PCz as
    the detector distance over the detector height. ``pc_bruker`` is the PC at the centre
    of a map; across the map it moves with the beam (kikuchipy's ``extrapolate_pc``) by the
    scan step over the detector size ``shape_px × px_size_um``.
    """

    shape_px: tuple[int, int] = Field((60, 60), description="pattern (rows, cols) in pixels")
    pc_bruker: tuple[float, float, float] = (0.5, 0.25, 0.55)
    px_size_um: float = Field(
        560.0,
        gt=0.0,
        le=10_000.0,
        description="size of one pattern pixel on the screen in µm (binning included); "
        "60 × 560 µm = a 33.6 mm screen",
    )
    sample_tilt_deg: float = Field(70.0, ge=0.0, le=90.0)
    camera_tilt_deg: float = Field(0.0, ge=-30.0, le=30.0)
    energy_kv: float = Field(20.0, ge=5.0, le=40.0, description="beam energy in kV")

    @field_validator("shape_px")
    @classmethod
    def _shape(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 16 or max(v) > 1024:
            raise ValueError(f"pattern shape must be between 16 and 1024 px per side, got {v}")
        return v

    @field_validator("pc_bruker")
    @classmethod
    def _pc(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not (0 < v[0] < 1 and 0 < v[1] < 1 and 0.2 < v[2] < 2):
            raise ValueError(
                f"Bruker PC (PCx, PCy, PCz) must satisfy 0<PCx<1, 0<PCy<1, 0.2<PCz<2, got {v}"
            )
        return v


class MasterPatternConfig(StrictModel):
    """Master-pattern engine and resolution.

    ``dynamical`` (default) solves the Bloch-wave problem with de-ebsd, depth-weighted by
    a Monte Carlo exit-depth profile; ``kinematical`` uses kikuchipy's
    ``KikuchiPatternSimulator`` (band positions right, profiles and intensities not).

    ``energy_weighting`` (dynamical only): ``spectrum`` (default, the truth model's) sums
    de-ebsd's 1 keV energy bins weighted by its Monte Carlo backscattered-energy spectrum
    at the detector's sample tilt and beam energy, as real patterns are; ``incident``
    keeps the single top-energy bin, what kikuchipy's and EMsoft's dictionaries use (the
    indexer model's choice). ``spectrum`` costs about six times ``incident`` (six bins).
    """

    engine: Literal["dynamical", "kinematical"] = "dynamical"
    half_size_px: int | None = Field(
        None,
        ge=25,
        le=2000,
        description="Lambert half width in pixels; None: the phase's default resolution "
        "(synthebsd.simulate.lambert_half_size: dynamical 1000 for Li and Na, 32 for large "
        "cells such as the electrolytes, else 500)",
    )
    min_dspacing_angstrom: float | None = Field(
        None,
        gt=0.1,
        le=3.0,
        description="smallest d in Å; None: the phase's default "
        "(synthebsd.simulate.min_dspacing_angstrom: 1.5 for dynamical large cells, else 0.5)",
    )
    structure_factor_cut: float = Field(
        0.05,
        ge=0.0,
        lt=1.0,
        description="kinematical: drop reflectors with |F| below this fraction of max |F|",
    )
    n_electrons: int = Field(
        200_000, ge=1000, le=10_000_000, description="dynamical: Monte Carlo electrons"
    )
    monte_carlo_seed: int = Field(0, ge=0, description="dynamical: Monte Carlo seed")
    energy_weighting: Literal["spectrum", "incident"] = Field(
        "spectrum",
        description="dynamical: 'spectrum' weights de-ebsd's energy bins by its Monte Carlo "
        "backscattered-energy spectrum; 'incident' keeps the top energy bin only",
    )


class BeamConfig(StrictModel):
    """Electron beam: probe current, dwell time per pattern, probe size and scan order.

    Primary electrons per pattern N = I·t/e. Used by the beam-damage model (dose) and by
    the camera model (detected electrons); the default study does not use it.
    """

    probe_current_na: float = Field(1.0, gt=0.0, le=1000.0, description="probe current in nA")
    dwell_time_ms: float = Field(10.0, gt=0.0, le=10_000.0, description="exposure per pattern")
    probe_fwhm_nm: float = Field(20.0, ge=0.0, le=5000.0, description="probe diameter (FWHM)")
    scan_order: Literal["raster", "serpentine"] = Field(
        "raster", description="raster: every row left to right; serpentine: alternating"
    )


class CameraConfig(StrictModel):
    """Camera: shot noise of detected electrons, gain, read noise, bit depth, binning.

    Off by default: then counts are Poisson with mean ``PatternConfig.dose_counts`` at the
    background peak, stored as uint16 (the study's model).
    """

    enabled: bool = False
    electrons_per_pattern: float | None = Field(
        None,
        gt=0.0,
        description="detected electrons in a background-only pattern of yield 1 (all pixels); "
        "None: primary electrons per pattern (beam) × detection_efficiency",
    )
    detection_efficiency: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="fraction of primary electrons reaching the phosphor (backscatter "
        "yield at 70° tilt × detector solid angle)",
    )
    gain_adu_per_electron: float = Field(1.0, gt=0.0, le=1000.0)
    read_noise_adu: float = Field(2.0, ge=0.0, le=1000.0, description="Gaussian σ per read")
    offset_adu: float = Field(0.0, ge=0.0, le=60000.0, description="bias added before clipping")
    bit_depth: Literal[8, 12, 16] = 12
    binning: int = Field(
        1, ge=1, le=8, description="sensor pixels per pattern pixel side, summed on the camera"
    )
    binning_mode: Literal["charge", "digital"] = Field(
        "charge", description="charge: one read per binned pixel (CCD); digital: b² reads (CMOS)"
    )


class DamageConfig(StrictModel):
    """Beam damage: band contrast × exp(−D/D_c) with cumulative dose D, blur, diffuse bg.

    Critical doses D_c are assumptions, not measurements (see
    :mod:`synthebsd.simulate.patterns._damage`); Li is set more sensitive than Na. The
    dose around the probe has three parts: the interaction footprint, the incident
    probe's skirt and the backscatter halo (their fractions and widths are assumptions
    too; together at most 1).
    """

    enabled: bool = False
    critical_dose_e_per_nm2: dict[str, float] = Field(
        default_factory=lambda: {"Li": 500.0, "Na": 2000.0, "Cu": 1.0e7, "Ni": 1.0e7},
        description="D_c per phase name, electrons per nm²",
    )
    default_critical_dose_e_per_nm2: float = Field(1.0e6, gt=0.0, description="other phases")
    probe_tail_fraction: float = Field(
        0.02, ge=0.0, lt=1.0, description="fraction of the incident probe in its skirt"
    )
    probe_tail_sigma_um: float = Field(
        0.1, gt=0.0, le=100.0, description="σ of the probe skirt along the tilt axis, µm"
    )
    halo_fraction: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="fraction of the dose deposited by the backscatter halo (electrons that "
        "leave the surface and return around the probe)",
    )
    halo_sigma_um: float = Field(
        1.0, gt=0.0, le=100.0, description="σ of the backscatter halo along the tilt axis, µm"
    )
    prior_dose_e_per_nm2: float = Field(
        0.0, ge=0.0, description="uniform dose before the scan (imaging, focusing)"
    )
    blur_sigma_px: float = Field(
        1.0, ge=0.0, le=10.0, description="added point spread σ of fully damaged material"
    )
    diffuse_background: float = Field(
        0.3, ge=0.0, le=10.0, description="added diffuse intensity of fully damaged material"
    )

    @model_validator(mode="after")
    def _fractions(self) -> DamageConfig:
        if self.probe_tail_fraction + self.halo_fraction >= 1.0:
            raise ValueError(
                f"probe_tail_fraction ({self.probe_tail_fraction}) + halo_fraction "
                f"({self.halo_fraction}) must be below 1: the footprint keeps the rest"
            )
        return self

    @field_validator("critical_dose_e_per_nm2")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x > 0}
        if bad:
            raise ValueError(f"critical doses must be > 0 e/nm², got {bad}")
        return v


class MixingConfig(StrictModel):
    """Boundary mixing: each pattern mixes the material within the interaction footprint.

    Footprint: a Gaussian of σ_x = √(σ_probe² + (f·R)²) along the tilt axis and
    σ_y = σ_x / cos(tilt) across it, R the Kanaya–Okayama electron range of the probed
    phase at the beam energy (see :mod:`synthebsd.simulate.patterns._mixing`).
    """

    enabled: bool = False
    range_fraction: float = Field(
        0.0073,
        gt=0.0,
        le=1.0,
        description="f: footprint σ over the electron range (Cu, 20 kV: FWHM ≈ 25 nm)",
    )
    min_weight: float = Field(
        1e-3, gt=0.0, lt=0.5, description="neighbour weights below this are dropped"
    )
    max_offset_px: int | None = Field(
        None,
        ge=1,
        le=50,
        description="largest neighbour offset per axis; None: 3σ of the widest footprint "
        "(a smaller value that cuts the footprint short is refused)",
    )


class SurfaceLayerConfig(StrictModel):
    """Amorphous surface layer (e.g. from FIB): contrast × exp(−t / λ), λ ∝ electron range."""

    enabled: bool = False
    thickness_nm: float = Field(20.0, ge=0.0, le=1000.0)
    depth_fraction_of_range: float = Field(
        0.01,
        gt=0.0,
        le=1.0,
        description="attenuation length λ of Kikuchi contrast over the electron range "
        "(Cu, 20 kV: 15 nm)",
    )


class PatternConfig(StrictModel):
    """Pattern formation: smooth background × (1 + contrast × Kikuchi signal), Poisson noise."""

    dose_counts: float = Field(
        1000.0, gt=0.0, le=1e7, description="mean detector counts per pixel at the background peak"
    )
    band_contrast: float = Field(0.3, gt=0.0, le=1.0, description="relative Kikuchi modulation")
    background_sigma_deg: float = Field(
        35.0, gt=1.0, le=180.0, description="angular width of the backscatter intensity"
    )
    oversample: int = Field(
        2,
        ge=1,
        le=8,
        description="detector sub-pixels per side, averaged (pixel integration); 1 = point sampling",
    )
    psf_sigma_px: float = Field(
        0.5, ge=0.0, le=5.0, description="scintillator/optics point spread, σ in detector pixels"
    )
    pore_intensity: float = Field(0.5, ge=0.0, le=1.0, description="pore yield / metal yield")
    electrolyte_intensity: float = Field(1.0, ge=0.0, le=5.0)
    chunk_size: int = Field(1024, ge=1, description="patterns rendered per chunk (at most)")
    memory_budget_gib: float = Field(
        2.0, gt=0.0, le=1024.0, description="working memory of pattern rendering, all chunks"
    )
    pore_patterns: bool = Field(
        True,
        description="pores give the weaker, rim-shadowed pattern of the grain at their "
        "floor (from the generator's pore geometry); False: background only",
    )
    beam: BeamConfig = BeamConfig()
    camera: CameraConfig = CameraConfig()
    damage: DamageConfig = DamageConfig()
    mixing: MixingConfig = MixingConfig()
    surface_layer: SurfaceLayerConfig = SurfaceLayerConfig()

    @model_validator(mode="after")
    def _no_saturation(self) -> PatternConfig:
        # Counts are stored as uint16: refuse a dose whose brightest pixel would clip.
        if self.camera.enabled:
            return self
        brightest = max(1.0, self.pore_intensity, self.electrolyte_intensity)
        damage = self.damage.diffuse_background if self.damage.enabled else 0.0
        peak = self.dose_counts * brightest * (1 + self.band_contrast + damage)
        if peak > _UINT16_MAX:
            raise ValueError(
                f"dose_counts {self.dose_counts:g} × brightest yield {brightest:g} × "
                f"(1 + band contrast {self.band_contrast:g}"
                + (f" + diffuse background {damage:g}" if damage else "")
                + f") = {peak:.0f} counts exceeds the 16-bit range ({_UINT16_MAX}): patterns "
                "would saturate; lower the dose or use the camera model (bit depth, gain)"
            )
        return self
