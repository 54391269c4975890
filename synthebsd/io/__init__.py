"""File input and output: atomic writes, JSON, orix maps, kikuchipy patterns, EMsoft files.

Every writer writes to a temporary name and renames the file when it is complete
(:func:`atomic_path`); every reader names the file and the problem when it cannot read
it.
"""

from synthebsd.io._atomic import atomic_path, json_ready, save_json
from synthebsd.io._emsoft import read_emsoft_metadata, write_emsoft_master_pattern
from synthebsd.io._maps import euler_fixes, load_crystal_map, save_crystal_map
from synthebsd.io._patterns import load_patterns, save_patterns

__all__ = [
    "atomic_path",
    "euler_fixes",
    "json_ready",
    "load_crystal_map",
    "load_patterns",
    "read_emsoft_metadata",
    "save_crystal_map",
    "save_json",
    "save_patterns",
    "write_emsoft_master_pattern",
]
