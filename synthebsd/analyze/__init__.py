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
    NOT_INDEXED,
    SCORE_PROPERTIES,
    SUCCESS_LIMITS_DEG,
    confidence_analysis,
    fibre_texture_spread,
    grain_mean_rotations,
    grain_metrics,
    grain_reference_misorientation,
    grain_size_distribution,
    indexing_summary,
    mask_overlap,
    method_metrics,
    method_score,
    microstructure_statistics,
    odf_on_grid,
    orientation_accuracy,
    orientation_error_map,
    pattern_ncc,
    phase_confusion,
    pore_mask_metrics,
    pore_statistics,
    reconstruct_grains,
    texture_metrics,
)

__all__ = [
    "HOUGH_REFLECTORS",
    "NOT_INDEXED",
    "SCORE_PROPERTIES",
    "SUCCESS_LIMITS_DEG",
    "IndexingResult",
    "confidence_analysis",
    "crystalline_phases",
    "dictionary_index",
    "fibre_texture_spread",
    "grain_mean_rotations",
    "grain_metrics",
    "grain_reference_misorientation",
    "grain_size_distribution",
    "hough_index",
    "indexing_summary",
    "mask_overlap",
    "method_metrics",
    "method_score",
    "microstructure_statistics",
    "odf_on_grid",
    "orientation_accuracy",
    "orientation_error_map",
    "pattern_ncc",
    "phase_confusion",
    "pore_mask_metrics",
    "pore_statistics",
    "preprocess_patterns",
    "pseudo_symmetry_operators",
    "reconstruct_grains",
    "refine_orientations",
    "smooth_master_pattern",
    "texture_metrics",
]
