"""Storage: crystal maps, pattern files and summaries, written atomically."""

from synthebsd.datasets._emsoft import read_emsoft_metadata, write_emsoft_master_pattern
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
    "read_emsoft_metadata",
    "save_crystal_map",
    "save_json",
    "save_patterns",
    "write_emsoft_master_pattern",
]
