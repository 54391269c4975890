"""Indexing and metrics: what the synthetic patterns are used to validate.

- :mod:`synthebsd.analyze.indexing`: preprocessing, Hough, dictionary indexing, refinement;
- :mod:`synthebsd.analyze.metrics`: errors against the truth and microstructure statistics.

The names of both are re-exported here.
"""

from synthebsd.analyze.indexing import (
    HOUGH_REFLECTORS,
    IndexingResult,
    crystalline_phases,
    dictionary_index,
    hough_index,
    preprocess_patterns,
    pseudo_symmetry_operators,
    refine_orientations,
    smooth_master_pattern,
)
from synthebsd.analyze.metrics import (
    fibre_texture_spread,
    grain_mean_rotations,
    grain_reference_misorientation,
    grain_size_distribution,
    indexing_summary,
    microstructure_statistics,
    orientation_error_map,
    pattern_ncc,
    pore_statistics,
)

__all__ = [
    "HOUGH_REFLECTORS",
    "IndexingResult",
    "crystalline_phases",
    "dictionary_index",
    "fibre_texture_spread",
    "grain_mean_rotations",
    "grain_reference_misorientation",
    "grain_size_distribution",
    "hough_index",
    "indexing_summary",
    "microstructure_statistics",
    "orientation_error_map",
    "pattern_ncc",
    "pore_statistics",
    "preprocess_patterns",
    "pseudo_symmetry_operators",
    "refine_orientations",
    "smooth_master_pattern",
]
