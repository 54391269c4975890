"""Storage: crystal maps, pattern files and summaries, written atomically."""

from synthebsd.datasets._io import (
    atomic_path,
    load_crystal_map,
    load_patterns,
    save_crystal_map,
    save_json,
    save_patterns,
)

__all__ = [
    "atomic_path",
    "load_crystal_map",
    "load_patterns",
    "save_crystal_map",
    "save_json",
    "save_patterns",
]
