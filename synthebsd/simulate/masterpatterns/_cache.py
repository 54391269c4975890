"""Master patterns per phase, from either engine, with an on-disk cache.

A master pattern is always returned as a kikuchipy
:class:`~kikuchipy.signals.EBSDMasterPattern` in the square Lambert projection with both
hemispheres and its orix :class:`~orix.crystal_map.Phase`, so later stages do not depend
on the engine that made it. Cached files are in EMsoft's HDF5 master-pattern layout, so
``kikuchipy.load(path, projection="lambert", hemisphere="both")`` reads them too.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.config import MasterPatternConfig
from synthebsd.io import read_emsoft_metadata, write_emsoft_master_pattern
from synthebsd.phases import atomic_number
from synthebsd.simulate.masterpatterns._dynamical import (
    SAMPLE_TILT_DEG,
    dynamical_master_pattern,
)
from synthebsd.simulate.masterpatterns._kinematical import kinematical_master_pattern
from synthebsd.simulate.masterpatterns._lambert import (
    lambert_master_pattern,
    stereographic_from_lambert,
)

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern
    from orix.crystal_map import Phase

__all__ = [
    "compute_master_pattern",
    "default_cache_dir",
    "get_master_pattern",
    "lambert_half_size",
    "master_pattern_key",
    "min_dspacing_angstrom",
    "save_master_pattern",
]

# 4: sample tilt and energy weighting in the key of dynamical master patterns (files of
# format 3 were all 70°, top energy bin; their keys no longer match, so they are recomputed).
_CACHE_FORMAT = 4

# Weak scatterers (every atom Z <= 11: Li, Na) have dynamical lines narrower than a
# Lambert pixel at half size 500, so their point-sampled master patterns alias.
# Measured on 20 random orientations x (120° about [111], 90° about [100]), rendered
# 60 x 60 with 2 x 2 pixel integration and a 0.5 px PSF, minimum NCC between the
# symmetry-equivalent patterns: Li 0.960 at 500, 0.991 at 1000; Na 0.978 at 500, 0.994
# at 1000; Cu >= 0.99 already at 300. Compute time on 2 cores: Li 12 s -> 36 s,
# Na 17 s -> 64 s.
_WEAK_SCATTERER_MAX_Z = 11
_WEAK_SCATTERER_HALF_SIZE = 1000
_DEFAULT_HALF_SIZE = 500
_DEFAULT_MIN_DSPACING_ANGSTROM = 0.5

# Large cells (the electrolytes: LPSCl 956 Å^3, NZSP 1,617 Å^3, LLZTO 2,167 Å^3; the metals
# and collectors are 43-79 Å^3) have thousands of reflections, and de-ebsd's cost per beam
# direction grows with them (weak-beam Bethe corrections). Measured on the shared 2-core
# machine under load 8-10, top energy bin, half size 25, d_min 1 Å: LPSCl 47 s, LLZTO
# 244 s (structure factors of 4,536 reflections); NZSP at d_min 1.5 Å 146 s (point group
# -3m: 4 x the directions of m-3m). At 500 and 0.5 Å a spectrum-weighted master pattern
# (six bins) would take days; these defaults keep one to minutes (issue 15 note).
_LARGE_CELL_MIN_VOLUME_ANGSTROM3 = 500.0
_LARGE_CELL_HALF_SIZE = 32
_LARGE_CELL_MIN_DSPACING_ANGSTROM = 1.5


def _large_dynamical_cell(phase: Phase, config: MasterPatternConfig) -> bool:
    structure = phase.structure
    if config.engine != "dynamical" or structure is None or not len(structure):
        return False
    return float(structure.lattice.volume) > _LARGE_CELL_MIN_VOLUME_ANGSTROM3


def min_dspacing_angstrom(phase: Phase, config: MasterPatternConfig) -> float:
    """Smallest interplanar spacing in Å of the reflections of a phase's master pattern.

    ``config.min_dspacing_angstrom`` if set; otherwise 1.5 Å for dynamical master
    patterns of large cells (volume > 500 Å³: the electrolytes LLZTO, LPSCl, NZSP) and
    0.5 Å for every other case.
    """
    if config.min_dspacing_angstrom is not None:
        return float(config.min_dspacing_angstrom)
    if _large_dynamical_cell(phase, config):
        return _LARGE_CELL_MIN_DSPACING_ANGSTROM
    return _DEFAULT_MIN_DSPACING_ANGSTROM


def lambert_half_size(phase: Phase, config: MasterPatternConfig) -> int:
    """Lambert half width in pixels of a phase's master pattern.

    ``config.half_size_px`` if set; otherwise, for dynamical master patterns, 32 for
    large cells (volume > 500 Å³: the electrolytes; a larger grid takes hours on 2
    cores, see :func:`min_dspacing_angstrom`) and 1000 for phases whose atoms are all as
    light as Na or lighter (their Kikuchi lines are narrower than the 500 grid:
    symmetry-equivalent patterns then differ, NCC down to 0.96); 500 for every other case
    (kinematical patterns of any phase keep symmetry-equivalent patterns at NCC >= 0.99
    at 500).
    """
    if config.half_size_px is not None:
        return int(config.half_size_px)
    if _large_dynamical_cell(phase, config):
        return _LARGE_CELL_HALF_SIZE
    if config.engine == "dynamical" and phase.structure is not None and len(phase.structure):
        z = [atomic_number(a.element) for a in phase.structure]
        if max(z) <= _WEAK_SCATTERER_MAX_Z:
            return _WEAK_SCATTERER_HALF_SIZE
    return _DEFAULT_HALF_SIZE


def default_cache_dir() -> Path:
    """Folder for cached master patterns: ``$SYNTHEBSD_CACHE`` or ``~/.cache/synthebsd``."""
    root = os.environ.get("SYNTHEBSD_CACHE") or Path.home() / ".cache" / "synthebsd"
    return Path(root) / "master_patterns"


def compute_master_pattern(
    phase: Phase,
    energy_kv: float = 20.0,
    config: MasterPatternConfig | None = None,
    sample_tilt_deg: float = SAMPLE_TILT_DEG,
) -> EBSDMasterPattern:
    """Compute (never from cache) a master pattern with the engine named in ``config``.

    Parameters
    ----------
    phase
        Phase with a full structure; the atoms' ``Uisoequiv`` (Å²) are the Debye–Waller
        factors both engines use.
    energy_kv
        Beam energy in kV.
    config
        Engine, Lambert resolution, reflector cut-off, Monte Carlo settings and energy
        weighting.
    sample_tilt_deg
        Sample tilt in degrees of the dynamical engine's Monte Carlo
        (``DetectorConfig.sample_tilt_deg``); the kinematical engine does not use it.

    Returns
    -------
    master_pattern
        Lambert projection, both hemispheres, with ``phase`` attached.
    """
    config = config or MasterPatternConfig()
    if config.engine == "kinematical":
        return kinematical_master_pattern(
            phase,
            energy_kv,
            lambert_half_size(phase, config),
            min_dspacing_angstrom(phase, config),
            config.structure_factor_cut,
        )
    mp = dynamical_master_pattern(
        phase,
        energy_kv,
        half_size=lambert_half_size(phase, config),
        min_dspacing_nm=min_dspacing_angstrom(phase, config) / 10,
        n_electrons=config.n_electrons,
        seed=config.monte_carlo_seed,
        show_progressbar=True,
        sample_tilt_deg=sample_tilt_deg,
        energy_weighting=config.energy_weighting,
    )
    return lambert_master_pattern(np.asarray(mp.data, dtype=np.float32), phase, energy_kv)


def master_pattern_key(
    phase: Phase,
    energy_kv: float,
    config: MasterPatternConfig,
    sample_tilt_deg: float = SAMPLE_TILT_DEG,
) -> dict:
    """Everything a master pattern depends on, as a JSON-comparable dictionary.

    Dynamical keys hold the sample tilt (degrees) and the energy weighting; kinematical
    master patterns depend on neither, so their keys do not.
    """
    import kikuchipy  # lazy: importing kikuchipy takes seconds

    atoms = [
        (
            a.element,
            [round(float(x), 6) for x in a.xyz],
            round(float(a.occupancy), 6),
            round(float(a.Uisoequiv), 6),
        )
        for a in phase.structure
    ]
    key = {
        "format": _CACHE_FORMAT,
        "phase": phase.name,
        "space_group": int(phase.space_group.number),
        "lattice_angstrom_deg": [round(float(v), 6) for v in phase.structure.lattice.abcABG()],
        "atoms_element_xyz_occupancy_uiso_angstrom2": atoms,
        "energy_kv": round(float(energy_kv), 4),
        "engine": config.engine,
        "half_size": lambert_half_size(phase, config),
        "min_dspacing_angstrom": min_dspacing_angstrom(phase, config),
    }
    if config.engine == "kinematical":
        key |= {
            "structure_factor_cut": config.structure_factor_cut,
            "kikuchipy": kikuchipy.__version__,
        }
    else:
        key |= {
            "n_electrons": config.n_electrons,
            "monte_carlo_seed": config.monte_carlo_seed,
            "sample_tilt_deg": round(float(sample_tilt_deg), 4),
            "energy_weighting": config.energy_weighting,
            "de_ebsd": version("de-ebsd"),
        }
    # Round trip through JSON so the key compares equal to the one read back from a file.
    return json.loads(json.dumps(key, sort_keys=True))


def _cache_path(cache_dir: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    weighting = f"-{key['energy_weighting']}" if "energy_weighting" in key else ""
    name = f"{key['phase']}-{key['engine']}{weighting}-{key['energy_kv']:g}kV-{digest}.h5"
    return cache_dir / name


def _read_cached(path: Path, key: dict) -> np.ndarray | None:
    """Cached Lambert data, or None if missing, damaged (checksum) or for another key."""
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    if not path.exists():
        return None
    try:
        if read_emsoft_metadata(path, verify_data=True).get("key") != key:
            return None
        mp = kp.load(path, projection="lambert", hemisphere="both")
    except (ValueError, OSError, KeyError):
        return None
    return np.asarray(mp.data, dtype=np.float32)


def get_master_pattern(
    phase: Phase,
    energy_kv: float = 20.0,
    config: MasterPatternConfig | None = None,
    cache_dir: str | Path | None = None,
    sample_tilt_deg: float = SAMPLE_TILT_DEG,
) -> EBSDMasterPattern:
    """Return the master pattern of a phase, computing it only if not cached.

    The cache key (:func:`master_pattern_key`) holds the phase's structure and
    Debye–Waller factors, the engine and its version, the energy, the Lambert
    resolution, the reflector cut-off and, for the dynamical engine, the Monte Carlo
    settings, the sample tilt and the energy weighting; it is stored in the
    file with a checksum of the data. A file whose key or checksum does not match (for
    example a truncated or corrupted one) is recomputed and replaced, never used.

    Parameters
    ----------
    phase
        Phase with a full structure.
    energy_kv
        Beam energy in kV.
    config
        Engine and resolution; defaults to :class:`~synthebsd.config.MasterPatternConfig`.
    cache_dir
        Cache folder; default :func:`default_cache_dir`.
    sample_tilt_deg
        Sample tilt in degrees for the dynamical engine's Monte Carlo; pass
        ``DetectorConfig.sample_tilt_deg``.

    Returns
    -------
    master_pattern
        Lambert projection, both hemispheres, with ``phase`` attached.
    """
    config = config or MasterPatternConfig()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = master_pattern_key(phase, energy_kv, config, sample_tilt_deg)
    path = _cache_path(cache_dir, key)
    data = _read_cached(path, key)
    if data is not None:
        return lambert_master_pattern(data, phase, energy_kv)
    what = config.engine
    if config.engine == "dynamical":
        what += f" ({config.energy_weighting}, tilt {sample_tilt_deg:g}°)"
    print(f"Computing {what} master pattern of {phase.name} at {energy_kv:g} kV ...")
    mp = compute_master_pattern(phase, energy_kv, config, sample_tilt_deg)
    save_master_pattern(path, mp, energy_kv, {"key": key})
    return mp


def save_master_pattern(
    path: str | Path,
    master_pattern: EBSDMasterPattern,
    energy_kv: float,
    metadata: dict,
    debye_waller_nm2: float | None = None,
) -> Path:
    """Write a master pattern in EMsoft's layout (Lambert and stereographic), atomically.

    ``kikuchipy.load(path, projection="lambert", hemisphere="both")`` reads it back; the
    stereographic hemispheres come from :func:`stereographic_from_lambert`. ``metadata``
    (JSON) is stored with a checksum (:func:`synthebsd.io.read_emsoft_metadata`);
    ``debye_waller_nm2`` (B, nm²) is written for atoms without their own ``Uisoequiv``.
    """
    return write_emsoft_master_pattern(
        path, master_pattern, energy_kv, metadata, stereographic_from_lambert, debye_waller_nm2
    )
