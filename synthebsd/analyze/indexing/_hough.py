"""Hough/Radon indexing with PyEBSDIndex, block by block, phase ids renumbered."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList

from synthebsd.analyze.indexing._blocks import check_detector, iter_blocks, navigation_size
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


def _import_pyebsdindex() -> None:
    """Import PyEBSDIndex, keeping the process's ``NUMBA_CACHE_DIR`` as it was.

    PyEBSDIndex sets ``NUMBA_CACHE_DIR`` to ``~/.pyebsdindex/numbacache`` when imported.
    numba re-reads it before every compilation, so every later cached numba function
    (orix's, kikuchipy's) moved there, and worker processes spawned afterwards (dask
    LocalCluster) inherited it: there, orix's cached quaternion gufunc crashed with a
    segmentation fault. PyEBSDIndex's functions compiled at import keep their cache.
    """
    saved = os.environ.get("NUMBA_CACHE_DIR")
    try:
        import pyebsdindex.ebsd_index  # noqa: F401
    finally:
        if saved is None:
            os.environ.pop("NUMBA_CACHE_DIR", None)
        else:
            os.environ["NUMBA_CACHE_DIR"] = saved


def hough_index(
    patterns: EBSD,
    phase_list: PhaseList,
    detector: EBSDDetector,
    min_confidence: float = 0.3,
    like: CrystalMap | None = None,
    block_size: int = 4096,
) -> IndexingResult:
    """Hough/Radon indexing with PyEBSDIndex (its indexer from kikuchipy's detector).

    Patterns are read in blocks of the navigation axis (a lazy signal is never loaded
    whole; kikuchipy's own ``hough_indexing`` needs PyOpenCL for lazy signals) and
    passed to ``EBSDIndexer.index_pats``. Phase ids of the result are 0..n−1 in the
    order of ``phase_list``, whatever its ids, as in :func:`dictionary_index`.

    Parameters
    ----------
    patterns
        Preprocessed patterns (see :func:`preprocess_patterns`), in memory or lazy.
    phase_list
        Candidate phases; plane families come from :data:`HOUGH_REFLECTORS` where known.
    detector
        Detector whose projection centre (Bruker convention) and tilts are used.
    min_confidence
        PyEBSDIndex confidence metric (``cm``, 0-1) below which a point is not indexed.
    like
        Map whose geometry (x, y, step) the result copies.
    block_size
        Patterns per block read.

    Returns
    -------
    result
        Map with properties ``fit`` (mean angular deviation, degrees), ``cm``, ``pq``
        (pattern quality) and ``nmatch``.
    """
    check_detector(patterns, detector)
    phases = [p.deepcopy() for pid, p in phase_list if pid >= 0]
    ordered = PhaseList(phases=phases, ids=list(range(len(phases))))
    reflectors = [HOUGH_REFLECTORS.get(p.space_group.number) for p in phases]
    _import_pyebsdindex()
    indexer = detector.get_indexer(ordered, reflectors=reflectors)
    n = navigation_size(patterns)
    rotations = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    phase_id = np.full(n, -1, dtype=np.int64)
    prop = {k: np.zeros(n, dtype=np.float32) for k in ("fit", "cm", "pq")}
    prop["nmatch"] = np.zeros(n, dtype=np.int64)
    t0 = time.perf_counter()
    for start, stop, data in iter_blocks(patterns, block_size):
        index_data = indexer.index_pats(patsin=data, verbose=0)[0]
        best = index_data[-1]  # the best solution over all phases (kikuchipy's choice)
        phase_id[start:stop] = best["phase"]
        ok = best["phase"] >= 0
        rotations[start:stop][ok] = best["quat"][ok]
        for key in prop:
            prop[key][start:stop] = best[key]
    seconds = time.perf_counter() - t0
    phase_id[prop["cm"] < min_confidence] = -1
    out = as_map(rotations, phase_id, ordered, prop, like)
    return IndexingResult(out, seconds, n)
