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
from synthebsd.simulate.masterpatterns._dynamical import dynamical_master_pattern
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
    "save_master_pattern",
]

_CACHE_FORMAT = 3

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


def lambert_half_size(phase: Phase, config: MasterPatternConfig) -> int:
    """Lambert half width in pixels of a phase's master pattern.

    ``config.half_size_px`` if set; otherwise 1000 for dynamical master patterns of
    phases whose atoms are all as light as Na or lighter (their Kikuchi lines are
    narrower than the 500 grid: symmetry-equivalent patterns then differ, NCC down to
    0.96), and 500 for every other case (kinematical patterns of any phase keep
    symmetry-equivalent patterns at NCC >= 0.99 at 500).
    """
    if config.half_size_px is not None:
        return int(config.half_size_px)
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
    phase: Phase, energy_kv: float = 20.0, config: MasterPatternConfig | None = None
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
        Engine, Lambert resolution, reflector cut-off and Monte Carlo settings.

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
            config.min_dspacing_angstrom,
            config.structure_factor_cut,
        )
    mp = dynamical_master_pattern(
        phase,
        energy_kv,
        half_size=lambert_half_size(phase, config),
        min_dspacing_nm=config.min_dspacing_angstrom / 10,
        n_electrons=config.n_electrons,
        seed=config.monte_carlo_seed,
        show_progressbar=True,
    )
    return lambert_master_pattern(np.asarray(mp.data, dtype=np.float32), phase, energy_kv)


def master_pattern_key(phase: Phase, energy_kv: float, config: MasterPatternConfig) -> dict:
    """Everything a master pattern depends on, as a JSON-comparable dictionary."""
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
        "min_dspacing_angstrom": config.min_dspacing_angstrom,
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
            "de_ebsd": version("de-ebsd"),
        }
    # Round trip through JSON so the key compares equal to the one read back from a file.
    return json.loads(json.dumps(key, sort_keys=True))


def _cache_path(cache_dir: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{key['phase']}-{key['engine']}-{key['energy_kv']:g}kV-{digest}.h5"


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
) -> EBSDMasterPattern:
    """Return the master pattern of a phase, computing it only if not cached.

    The cache key (:func:`master_pattern_key`) holds the phase's structure and
    Debye–Waller factors, the engine and its version, the energy, the Lambert
    resolution, the reflector cut-off and the Monte Carlo settings; it is stored in the
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

    Returns
    -------
    master_pattern
        Lambert projection, both hemispheres, with ``phase`` attached.
    """
    config = config or MasterPatternConfig()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = master_pattern_key(phase, energy_kv, config)
    path = _cache_path(cache_dir, key)
    data = _read_cached(path, key)
    if data is not None:
        return lambert_master_pattern(data, phase, energy_kv)
    print(f"Computing {config.engine} master pattern of {phase.name} at {energy_kv:g} kV ...")
    mp = compute_master_pattern(phase, energy_kv, config)
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
