"""Classical indexing: preprocessing, Hough (PyEBSDIndex), dictionary, refinement (kikuchipy).

Every method takes patterns as a kikuchipy :class:`~kikuchipy.signals.EBSD` signal and
returns an :class:`IndexingResult` holding an orix :class:`~orix.crystal_map.CrystalMap`
(not-indexed points: phase id −1). Projection centres are in the Bruker convention.
"""

from synthebsd.analyze.indexing._dictionary import dictionary_index
from synthebsd.analyze.indexing._hough import HOUGH_REFLECTORS, hough_index
from synthebsd.analyze.indexing._model import smooth_master_pattern
from synthebsd.analyze.indexing._preprocess import preprocess_patterns
from synthebsd.analyze.indexing._refine import pseudo_symmetry_operators, refine_orientations
from synthebsd.analyze.indexing._result import IndexingResult, crystalline_phases

__all__ = [
    "HOUGH_REFLECTORS",
    "IndexingResult",
    "crystalline_phases",
    "dictionary_index",
    "hough_index",
    "preprocess_patterns",
    "pseudo_symmetry_operators",
    "refine_orientations",
    "smooth_master_pattern",
]
