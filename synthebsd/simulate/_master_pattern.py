"""Master patterns per phase, with an on-disk cache.

A master pattern is always returned as a kikuchipy
:class:`~kikuchipy.signals.EBSDMasterPattern` in the square Lambert projection with both
hemispheres and its orix :class:`~orix.crystal_map.Phase`, so later stages do not depend
on the engine that made it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from synthebsd.config import MasterPatternConfig

if TYPE_CHECKING:
    from kikuchipy.signals import EBSDMasterPattern
    from orix.crystal_map import Phase

__all__ = ["default_cache_dir", "get_master_pattern", "kinematical_master_pattern"]

_CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """Folder for cached master patterns: ``$SYNTHEBSD_CACHE`` or ``~/.cache/synthebsd``."""
    root = os.environ.get("SYNTHEBSD_CACHE") or Path.home() / ".cache" / "synthebsd"
    return Path(root) / "master_patterns"


def kinematical_master_pattern(
    phase: Phase,
    energy_kv: float = 20.0,
    half_size: int = 250,
    min_dspacing_angstrom: float = 0.5,
    structure_factor_cut: float = 0.05,
) -> EBSDMasterPattern:
    """Compute a kinematical master pattern with kikuchipy.

    Reflectors are all lattice planes with d ≥ ``min_dspacing_angstrom``, reduced to the
    unique families, kept where the kinematical structure factor \\|F\\| is at least
    ``structure_factor_cut`` × max \\|F\\|, then expanded to all symmetry-equivalent planes
    (without that expansion the master pattern lacks equivalent bands).

    Parameters
    ----------
    phase
        Phase with a full structure (atoms and lattice in Å).
    energy_kv
        Beam energy in kV; sets the Bragg angles and so the band widths.
    half_size
        Half width of the square Lambert projection in pixels (side 2 × half_size + 1).
    min_dspacing_angstrom
        Smallest interplanar spacing in Å.
    structure_factor_cut
        Relative \\|F\\| below which reflectors are dropped.

    Returns
    -------
    master_pattern
        Lambert projection, both hemispheres, data shape (2, n, n), float32.
    """
    import kikuchipy as kp
    from diffsims.crystallography import ReciprocalLatticeVector

    ref = ReciprocalLatticeVector.from_min_dspacing(
        phase.deepcopy(), min_dspacing=min_dspacing_angstrom
    )
    ref = ref.unique(use_symmetry=True)
    ref.sanitise_phase()
    ref.calculate_structure_factor()
    f_abs = np.abs(ref.structure_factor)
    ref = ref[f_abs >= structure_factor_cut * f_abs.max()]
    ref = ref.symmetrise()
    ref.calculate_theta(energy_kv * 1e3)
    simulator = kp.simulations.KikuchiPatternSimulator(ref)
    stereographic = simulator.calculate_master_pattern(
        half_size=half_size, hemisphere="both", scaling="linear"
    )
    lambert = stereographic.as_lambert(show_progressbar=False)
    data = np.asarray(lambert.data, dtype=np.float32)
    return _wrap(data, phase, energy_kv)


def _wrap(data: np.ndarray, phase: Phase, energy_kv: float) -> EBSDMasterPattern:
    from kikuchipy.signals import EBSDMasterPattern

    mp = EBSDMasterPattern(data, projection="lambert", hemisphere="both", phase=phase.deepcopy())
    mp.metadata.set_item("Simulation.EBSD_master_pattern.energy_kv", float(energy_kv))
    return mp


def _cache_key(phase: Phase, energy_kv: float, config: MasterPatternConfig) -> dict:
    import kikuchipy

    structure = [
        (a.element, [round(float(x), 6) for x in a.xyz], round(float(a.occupancy), 6))
        for a in phase.structure
    ]
    lattice = [round(float(v), 6) for v in phase.structure.lattice.abcABG()]
    key = {
        "format": _CACHE_FORMAT,
        "phase": phase.name,
        "space_group": int(phase.space_group.number),
        "lattice_angstrom_deg": lattice,
        "atoms": structure,
        "energy_kv": round(float(energy_kv), 4),
        "engine": config.engine,
        "half_size": config.half_size_px,
        "min_dspacing_angstrom": config.min_dspacing_angstrom,
        "structure_factor_cut": config.structure_factor_cut,
        "kikuchipy": kikuchipy.__version__,
    }
    # Round trip through JSON so the key compares equal to the one read back from a file.
    return json.loads(json.dumps(key, sort_keys=True))


def _cache_path(cache_dir: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{key['phase']}-{key['engine']}-{key['energy_kv']:g}kV-{digest}.h5"


def _read_cached(path: Path, key: dict) -> np.ndarray | None:
    """Return cached data, or None if the file is missing, corrupt or for another key."""
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as f:
            stored_key = json.loads(f.attrs["key"])
            data = f["lambert"][()]
            checksum = f.attrs["sha256"]
    except (OSError, KeyError, ValueError, json.JSONDecodeError):
        return None
    if stored_key != key or hashlib.sha256(data.tobytes()).hexdigest() != checksum:
        return None
    return data


def _write_cached(path: Path, key: dict, data: np.ndarray) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.partial-{os.getpid()}.h5")
    try:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("lambert", data=data)
            f.attrs["key"] = json.dumps(key, sort_keys=True)
            f.attrs["sha256"] = hashlib.sha256(data.tobytes()).hexdigest()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def get_master_pattern(
    phase: Phase,
    energy_kv: float = 20.0,
    config: MasterPatternConfig | None = None,
    cache_dir: str | Path | None = None,
) -> EBSDMasterPattern:
    """Return the master pattern of a phase, computing it only if not cached.

    The cache key holds the phase's structure, the engine, the energy, the Lambert
    resolution, the reflector cut-offs and the kikuchipy version. A cached file whose key
    or checksum does not match (for example a truncated or corrupted file) is recomputed
    and overwritten, never used.

    Parameters
    ----------
    phase
        Phase with a full structure.
    energy_kv
        Beam energy in kV.
    config
        Engine and resolution; defaults to :class:`~synthebsd.config.MasterPatternConfig`.
    cache_dir
        Cache folder; default :func:`default_cache_dir`. ``False``-like values are not
        accepted: pass a temporary folder to avoid the user cache.

    Returns
    -------
    master_pattern
        Lambert projection, both hemispheres, with ``phase`` attached.
    """
    config = config or MasterPatternConfig()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = _cache_key(phase, energy_kv, config)
    path = _cache_path(cache_dir, key)
    data = _read_cached(path, key)
    if data is None:
        print(f"Computing {config.engine} master pattern of {phase.name} at {energy_kv:g} kV ...")
        mp = kinematical_master_pattern(
            phase,
            energy_kv=energy_kv,
            half_size=config.half_size_px,
            min_dspacing_angstrom=config.min_dspacing_angstrom,
            structure_factor_cut=config.structure_factor_cut,
        )
        _write_cached(path, key, np.asarray(mp.data, dtype=np.float32))
        return mp
    return _wrap(data, phase, energy_kv)
