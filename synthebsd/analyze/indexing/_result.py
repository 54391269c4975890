"""What every indexing method returns: an orix map of the patterns' grid, and its timing.

Points judged not indexed have phase id −1. Rotations are orix rotations (passive,
Bunge, sample → crystal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector

__all__ = ["IndexingResult", "as_map", "crystalline_phases"]


@dataclass
class IndexingResult:
    """An indexing method's map and how long it took.

    Attributes
    ----------
    xmap
        Result map; not-indexed points have phase id -1.
    seconds
        Wall time in s of the indexing step (dictionary generation included).
    n_patterns
        Number of patterns indexed.
    candidates
        Dictionary indexing: per phase id of ``xmap``, the ``top_k`` best orientations
        (orix ``Rotation`` of shape (n, top_k)) and their NCC (n, top_k), best first.
    detector
        Refinement with projection centres: the detector with the refined PC (one, or
        one per point of ``xmap`` in its flat order), Bruker convention.
    timings
        Seconds per stage (e.g. ``build_s``, ``match_s``, ``total_s``).
    """

    xmap: CrystalMap
    seconds: float
    n_patterns: int
    candidates: dict[int, tuple[Rotation, np.ndarray]] | None = None
    detector: EBSDDetector | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def patterns_per_second(self) -> float:
        return self.n_patterns / self.seconds if self.seconds > 0 else float("inf")


def crystalline_phases(phase_list: PhaseList) -> PhaseList:
    """A copy of ``phase_list`` without orix's ``not_indexed`` entry (id -1).

    (Indexing a PhaseList with one id returns a Phase, so the list is rebuilt.)
    """
    ids = [i for i in phase_list.ids if i >= 0]
    return PhaseList(phases=[phase_list[i].deepcopy() for i in ids], ids=ids)


def as_map(
    rotations: np.ndarray,
    phase_id: np.ndarray,
    phase_list: PhaseList,
    prop: dict[str, np.ndarray],
    like: CrystalMap | None,
) -> CrystalMap:
    """Build a map with the geometry of ``like`` (or 1-D if none)."""
    kw = {}
    if like is not None:
        kw = {"x": like.x, "y": like.y, "scan_unit": like.scan_unit}
    return CrystalMap(
        rotations=Rotation(rotations),
        phase_id=phase_id,
        phase_list=phase_list.deepcopy(),
        prop=prop,
        **kw,
    )
