"""Metrics against ground truth: orientation errors, summaries, microstructure statistics.

Errors are disorientations (orix, crystal symmetry applied) in degrees; points given no
phase or the wrong phase count as failures. Microstructure statistics read only what a
measurement would have (grain ids, regions, pore masks, orientations).
"""

from synthebsd.analyze.metrics._accuracy import (
    NOT_INDEXED,
    SUCCESS_LIMITS_DEG,
    confidence_analysis,
    orientation_accuracy,
    phase_confusion,
)
from synthebsd.analyze.metrics._grains import grain_metrics, reconstruct_grains
from synthebsd.analyze.metrics._method import SCORE_PROPERTIES, method_metrics, method_score
from synthebsd.analyze.metrics._microstructure import (
    fibre_texture_spread,
    grain_mean_rotations,
    grain_reference_misorientation,
    grain_size_distribution,
    microstructure_statistics,
    pore_statistics,
)
from synthebsd.analyze.metrics._orientation import (
    indexing_summary,
    orientation_error_map,
    pattern_ncc,
)
from synthebsd.analyze.metrics._pores import mask_overlap, pore_mask_metrics
from synthebsd.analyze.metrics._texture import odf_on_grid, texture_metrics

__all__ = [
    "NOT_INDEXED",
    "SCORE_PROPERTIES",
    "SUCCESS_LIMITS_DEG",
    "confidence_analysis",
    "fibre_texture_spread",
    "grain_mean_rotations",
    "grain_metrics",
    "grain_reference_misorientation",
    "grain_size_distribution",
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
    "reconstruct_grains",
    "texture_metrics",
]
