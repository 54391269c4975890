"""Classical indexing: preprocessing (NLPAR too), Hough (PyEBSDIndex), dictionary indexing,
refinement.

Every method takes patterns as a kikuchipy :class:`~kikuchipy.signals.EBSD` signal, in
memory or lazy (``LazyEBSD``, read block by block of the navigation axis within a memory
budget), and returns an :class:`IndexingResult` holding an orix
:class:`~orix.crystal_map.CrystalMap` (not-indexed points: phase id −1; phase ids 0..n−1
in the order of the phases given). Projection centres are in the Bruker convention.

Dictionary indexing and refinement have two backends: ``"torch"`` (default; the torch
renderer, any device: a binned, optionally PCA-compressed coarse match re-scored by
exact NCC, and batched Levenberg–Marquardt from a coarse to the full model, with Σ3
starts and optional PC refinement) and ``"kikuchipy"`` (the reference). Both score by
kikuchipy's NCC, so thresholds carry over.
"""

from synthebsd.analyze.indexing._dictionary import dictionary_index
from synthebsd.analyze.indexing._hough import HOUGH_REFLECTORS, hough_index
from synthebsd.analyze.indexing._model import smooth_master_pattern
from synthebsd.analyze.indexing._nlpar import nlpar_patterns
from synthebsd.analyze.indexing._preprocess import preprocess_patterns
from synthebsd.analyze.indexing._refine import pseudo_symmetry_operators, refine_orientations
from synthebsd.analyze.indexing._result import IndexingResult, as_map, crystalline_phases

__all__ = [
    "HOUGH_REFLECTORS",
    "IndexingResult",
    "as_map",
    "crystalline_phases",
    "dictionary_index",
    "hough_index",
    "nlpar_patterns",
    "preprocess_patterns",
    "pseudo_symmetry_operators",
    "refine_orientations",
    "smooth_master_pattern",
]
