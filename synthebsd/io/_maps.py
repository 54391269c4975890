"""Crystal maps in orix's HDF5 format, written atomically, read with clear errors."""

from __future__ import annotations

from pathlib import Path

from orix import io
from orix.crystal_map import CrystalMap

from synthebsd.io._atomic import atomic_path

__all__ = ["load_crystal_map", "save_crystal_map"]


def save_crystal_map(xmap: CrystalMap, path: str | Path) -> None:
    """Write a crystal map in orix's HDF5 format (properties included), atomically."""
    with atomic_path(path) as tmp:
        io.save(tmp, xmap, overwrite=True)


def load_crystal_map(path: str | Path) -> CrystalMap:
    """Read an orix HDF5 crystal map; a missing, truncated or foreign file raises ValueError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No crystal map file {path}")
    try:
        return io.load(path)
    except Exception as e:  # h5py and orix raise many types for a bad file
        raise ValueError(f"Cannot read crystal map {path}: {type(e).__name__}: {e}") from e
