"""Dictionary indexing (normalised cross-correlation) with kikuchipy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation
from orix.sampling import get_sample_fundamental

from synthebsd.analyze.indexing._result import IndexingResult, as_map

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD, EBSDMasterPattern

__all__ = ["dictionary_index"]


def dictionary_index(
    patterns: EBSD,
    master_patterns: Sequence[EBSDMasterPattern],
    detector: EBSDDetector,
    energy_kv: float,
    resolution_deg: float = 3.0,
    min_score: float = 0.2,
    like: CrystalMap | None = None,
) -> IndexingResult:
    """Dictionary indexing (normalised cross-correlation) over each phase's fundamental zone.

    For each master pattern a dictionary is projected (Bruker projection centre of
    ``detector``) from orientations sampled uniformly in the phase's fundamental zone
    (orix cubochoric sampling at ``resolution_deg``); each pattern takes the phase and
    orientation of its best match over all dictionaries.

    Parameters
    ----------
    patterns
        Preprocessed patterns with a 1-D navigation.
    master_patterns
        One Lambert master pattern per candidate phase, each with its phase attached.
    detector
        Detector geometry.
    energy_kv
        Beam energy in kV.
    resolution_deg
        Orientation sampling resolution in degrees.
    min_score
        NCC below which a point is not indexed.
    like
        Map whose geometry the result copies.

    Returns
    -------
    result
        Map with the best match per point and properties ``scores`` (NCC).
    """
    n = patterns.axes_manager.navigation_size
    t0 = time.perf_counter()
    best_score = np.full(n, -np.inf, dtype=np.float32)
    best_rot = np.tile(Rotation.identity().data, (n, 1))
    best_phase = np.full(n, -1, dtype=np.int64)
    phase_list = PhaseList(
        phases=[mp.phase for mp in master_patterns], ids=list(range(len(master_patterns)))
    )
    for pid, mp in enumerate(master_patterns):
        grid = get_sample_fundamental(resolution=resolution_deg, point_group=mp.phase.point_group)
        dictionary = mp.get_patterns(
            grid, detector, energy=energy_kv, compute=False, show_progressbar=False
        )
        xmap = patterns.dictionary_indexing(dictionary, metric="ncc", keep_n=1)
        score = np.asarray(xmap.prop["scores"]).reshape(n, -1)[:, 0]
        better = score > best_score
        best_score[better] = score[better]
        best_rot[better] = xmap.rotations.data.reshape(n, -1, 4)[better, 0]
        best_phase[better] = pid
    seconds = time.perf_counter() - t0
    phase_id = np.where(best_score >= min_score, best_phase, -1)
    out = as_map(best_rot, phase_id, phase_list, {"scores": best_score}, like)
    return IndexingResult(out, seconds, n)
