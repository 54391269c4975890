"""Orientation refinement (NCC, Nelder–Mead) with kikuchipy, with pseudo-symmetry starts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

from synthebsd.analyze.indexing._result import IndexingResult, as_map, crystalline_phases

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD, EBSDMasterPattern

__all__ = ["pseudo_symmetry_operators", "refine_orientations"]


def pseudo_symmetry_operators(phase) -> Rotation | None:
    """Rotations a pattern is easily mistaken under, to test during refinement.

    For cubic phases: 60° about each ⟨111⟩ (the Σ3 relation). Dictionary indexing of
    dynamical Li patterns puts whole grains exactly there (NCC 0.34 against 0.80 for
    the right solution), because the patterns near several zone axes look alike under
    it. Other crystal systems: None.
    """
    if phase.point_group.system != "cubic":
        return None
    axes = [[1, 1, 1], [-1, 1, 1], [1, -1, 1], [1, 1, -1]]
    return Rotation.from_axes_angles(axes, np.deg2rad(60.0))


def refine_orientations(
    patterns: EBSD,
    xmap: CrystalMap,
    master_patterns: Sequence[EBSDMasterPattern],
    detector: EBSDDetector,
    energy_kv: float,
    trust_region_deg: float = 8.0,
    initial_step_deg: float = 1.5,
    pseudo_symmetry: bool = True,
) -> IndexingResult:
    """Refine each indexed point's orientation by maximising NCC (Nelder-Mead, kikuchipy).

    Points are refined phase by phase against that phase's master pattern, starting from
    the orientation in ``xmap`` with a simplex of size ``initial_step_deg`` and searching
    within ± ``trust_region_deg`` of each Bunge Euler angle (degrees). Not-indexed points
    are left as they are. With ``pseudo_symmetry``, each point is also refined from its
    :func:`pseudo_symmetry_operators` variants and the best NCC is kept.

    Returns
    -------
    result
        Copy of ``xmap`` (its grid and properties) with refined rotations, ``scores``
        (NCC; NaN where not indexed if ``xmap`` had no scores, as after Hough) and a
        ``num_evals`` property (pattern comparisons per point, 0 where not indexed).
    """
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    data = np.asarray(patterns.data).reshape(xmap.size, *detector.shape)
    rotations = xmap.rotations.data.copy()
    if "scores" in xmap.prop:
        scores = np.asarray(xmap.prop["scores"], dtype=np.float64).copy()
    else:
        scores = np.full(xmap.size, np.nan)
    num_evals = np.zeros(xmap.size, dtype=np.int64)
    t0 = time.perf_counter()
    for pid, mp in enumerate(master_patterns):
        idx = np.nonzero(xmap.phase_id == pid)[0]
        if idx.size == 0:
            continue
        sub_signal = kp.signals.EBSD(data[idx])
        # A named axis with the map's unit step lets kikuchipy check the map against it.
        sub_signal.axes_manager.navigation_axes[0].name = "x"
        sub_map = CrystalMap(
            rotations=Rotation(rotations[idx]),
            phase_id=np.zeros(idx.size, dtype=int),
            phase_list=PhaseList(phases=mp.phase, ids=0),
        )
        refined = sub_signal.refine_orientation(
            sub_map,
            detector,
            mp,
            energy=energy_kv,
            method="minimize",
            method_kwargs={"method": "Nelder-Mead", "tol": 1e-4},
            trust_region=[trust_region_deg] * 3,
            initial_step=initial_step_deg,
            pseudo_symmetry_ops=pseudo_symmetry_operators(mp.phase) if pseudo_symmetry else None,
            compute=True,
        )
        rotations[idx] = refined.rotations.data
        scores[idx] = refined.prop["scores"]
        num_evals[idx] = refined.prop["num_evals"]
    seconds = time.perf_counter() - t0
    prop = {k: np.asarray(v).copy() for k, v in xmap.prop.items()}
    prop.update(scores=scores, num_evals=num_evals)
    out = as_map(rotations, xmap.phase_id.copy(), crystalline_phases(xmap.phases), prop, xmap)
    n_refined = int((xmap.phase_id >= 0).sum())
    return IndexingResult(out, seconds, n_refined)
