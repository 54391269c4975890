"""Crystal maps in orix's HDF5 format, written atomically, read with clear errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
from orix import io
from orix.crystal_map import CrystalMap
from orix.quaternion import Rotation

from synthebsd.io._atomic import atomic_path

__all__ = ["euler_fixes", "load_crystal_map", "save_crystal_map"]


def save_crystal_map(xmap: CrystalMap, path: str | Path) -> None:
    """Write a crystal map in orix's HDF5 format (properties included), atomically.

    orix stores orientations as Euler angles; the rows that its ``to_euler`` gets wrong
    (:func:`euler_fixes`) are corrected in the file, so ``orix.io.load`` returns the
    orientations of ``xmap``.
    """
    with atomic_path(path) as tmp:
        io.save(tmp, xmap, overwrite=True)
        fixes = euler_fixes(xmap.rotations)
        if fixes:
            with h5py.File(tmp, "r+") as f:
                phi1 = f["crystal_map/data/phi1"]
                for i, euler in fixes.items():
                    phi1[i] = euler[0]


def load_crystal_map(path: str | Path) -> CrystalMap:
    """Read an orix HDF5 crystal map; a missing, truncated or foreign file raises ValueError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No crystal map file {path}")
    try:
        return io.load(path)
    except Exception as e:  # h5py and orix raise many types for a bad file
        raise ValueError(f"Cannot read crystal map {path}: {type(e).__name__}: {e}") from e


def euler_fixes(rotations: Rotation) -> dict[int, np.ndarray]:
    """Euler angles orix 0.15.0 gets wrong, corrected: flat index → (φ1, Φ, φ2).

    At Φ = π, ``Rotation.to_euler`` returns φ1 with the wrong sign (measured: (1, π, 0)
    comes back as (5.283, π, 0), a rotation 2 rad away; orix PR 674 fixed the same
    mistake before), and orix's .ang and HDF5 writers store those angles. Only φ1 − φ2
    is defined there; we keep orix's other angles and take the φ1 whose rotation
    (orix's ``from_euler``, which is right) equals the orientation.

    Raises
    ------
    RuntimeError
        If neither sign reproduces the orientation (never write a wrong angle).
    """
    euler = rotations.to_euler()
    wrong = np.nonzero(Rotation.from_euler(euler).angle_with(rotations) > 1e-7)[0]
    fixes = {}
    for i in wrong:
        e = euler[i].copy()
        e[0] = (-e[0]) % (2 * np.pi)
        if Rotation.from_euler(e).angle_with(rotations[i])[0] > 1e-7:
            raise RuntimeError(f"No Euler angles reproduce the orientation of point {i}")
        fixes[int(i)] = e
    return fixes
