"""Indexing (Hough, dictionary, refinement), errors against truth, and figures."""

from synthebsd.analyze._experimental import index_map
from synthebsd.analyze._figures import (
    ipf_rgb,
    plot_error_histogram,
    plot_error_map,
    plot_ipf_key,
    plot_ipf_map,
    plot_master_pattern,
    plot_region_map,
)
from synthebsd.analyze._indexing import (
    HOUGH_REFLECTORS,
    IndexingResult,
    crystalline_phases,
    dictionary_index,
    hough_index,
    preprocess_patterns,
    pseudo_symmetry_operators,
    refine_orientations,
)
from synthebsd.analyze._metrics import indexing_summary, orientation_error_map, pattern_ncc
from synthebsd.analyze._microstructure_stats import (
    fibre_texture_spread,
    grain_mean_rotations,
    grain_size_distribution,
    microstructure_statistics,
    pore_statistics,
)

__all__ = [
    "HOUGH_REFLECTORS",
    "IndexingResult",
    "crystalline_phases",
    "dictionary_index",
    "fibre_texture_spread",
    "grain_mean_rotations",
    "grain_size_distribution",
    "hough_index",
    "index_map",
    "indexing_summary",
    "microstructure_statistics",
    "ipf_rgb",
    "orientation_error_map",
    "pattern_ncc",
    "plot_error_histogram",
    "plot_error_map",
    "plot_ipf_key",
    "plot_ipf_map",
    "plot_master_pattern",
    "plot_region_map",
    "pore_statistics",
    "preprocess_patterns",
    "pseudo_symmetry_operators",
    "refine_orientations",
]
