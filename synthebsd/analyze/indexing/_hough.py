"""Hough/Radon indexing with PyEBSDIndex, through kikuchipy's ``EBSD.hough_indexing``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList

from synthebsd.analyze.indexing._result import IndexingResult, as_map

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD

__all__ = ["HOUGH_REFLECTORS", "hough_index"]

#: Plane families PyEBSDIndex looks for, by space group number. PyEBSDIndex's default BCC
#: families ({011}, {002}, {112}, {013}) put 40-45 % of clean Li patterns 60° from the
#: truth; {110}, {200}, {211} index them all within 2°.
HOUGH_REFLECTORS: dict[int, list[list[int]]] = {
    229: [[1, 1, 0], [2, 0, 0], [2, 1, 1]],  # Im-3m (Li, Na)
    225: [[1, 1, 1], [2, 0, 0], [2, 2, 0], [3, 1, 1]],  # Fm-3m (Cu, Ni)
}


def hough_index(
    patterns: EBSD,
    phase_list: PhaseList,
    detector: EBSDDetector,
    min_confidence: float = 0.3,
    like: CrystalMap | None = None,
) -> IndexingResult:
    """Hough/Radon indexing with PyEBSDIndex through kikuchipy.

    Parameters
    ----------
    patterns
        Preprocessed patterns with a 1-D navigation (see :func:`preprocess_patterns`).
    phase_list
        Candidate phases; plane families come from :data:`HOUGH_REFLECTORS` where known.
    detector
        Detector whose projection centre (Bruker convention) and tilts are used.
    min_confidence
        PyEBSDIndex confidence metric (``cm``, 0-1) below which a point is not indexed.
    like
        Map whose geometry (x, y, step) the result copies.

    Returns
    -------
    result
        Map with properties ``fit`` (mean angular deviation, degrees), ``cm``, ``pq``
        (pattern quality) and ``nmatch``.
    """
    reflectors = [HOUGH_REFLECTORS.get(p.space_group.number) for _, p in phase_list]
    indexer = detector.get_indexer(phase_list, reflectors=reflectors)
    t0 = time.perf_counter()
    xmap = patterns.hough_indexing(phase_list=phase_list, indexer=indexer, verbose=0)
    seconds = time.perf_counter() - t0
    prop = {k: np.asarray(v) for k, v in xmap.prop.items()}
    phase_id = np.asarray(xmap.phase_id).copy()
    phase_id[prop["cm"] < min_confidence] = -1
    out = as_map(xmap.rotations.data, phase_id, phase_list, prop, like)
    return IndexingResult(out, seconds, patterns.axes_manager.navigation_size)
