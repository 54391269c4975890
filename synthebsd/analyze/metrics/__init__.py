"""Metrics against ground truth: orientation errors, summaries, microstructure statistics.

Errors are disorientations (orix, crystal symmetry applied) in degrees; points given no
phase or the wrong phase count as failures. Microstructure statistics read only what a
measurement would have (grain ids, regions, pore masks, orientations).
"""

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

__all__ = [
    "fibre_texture_spread",
    "grain_mean_rotations",
    "grain_reference_misorientation",
    "grain_size_distribution",
    "indexing_summary",
    "microstructure_statistics",
    "orientation_error_map",
    "pattern_ncc",
    "pore_statistics",
]
