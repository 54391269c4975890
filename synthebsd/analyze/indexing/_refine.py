"""Orientation (and PC) refinement by NCC: torch Levenberg–Marquardt or kikuchipy."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

from synthebsd.analyze.indexing._blocks import (
    check_detector,
    is_lazy,
    iter_blocks,
    navigation_size,
    plan_block,
)
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
    *,
    backend: Literal["torch", "kikuchipy"] = "torch",
    pc: Literal["none", "pattern", "map"] = "none",
    coarse_binning: int = 2,
    coarse_steps: int = 1,
    steps: int = 10,
    tolerance_deg: float = 0.005,
    pc_subset: int = 1000,
    device: str = "cpu",
    memory_budget_gib: float = 1.0,
    num_threads: int | None = None,
) -> IndexingResult:
    """Refine each indexed point's orientation by maximising NCC with the model.

    Points are refined phase by phase against that phase's master pattern (phase id i
    of ``xmap`` ↔ ``master_patterns[i]``); not-indexed points are left as they are.
    With ``pseudo_symmetry``, each point is also refined from its
    :func:`pseudo_symmetry_operators` variants and the best NCC is kept. Patterns are
    read in blocks of the navigation axis, so a lazy signal is never loaded whole.

    Backends:

    - ``"torch"`` (default): batched Levenberg–Marquardt on the torch renderer
      (:mod:`~synthebsd.analyze.indexing._refine_torch`): ``coarse_steps`` steps on a
      model binned ``coarse_binning`` × ``coarse_binning`` from every start, then up to
      ``steps`` on the full model until a step is below ``tolerance_deg``; rotations
      stay within ``trust_region_deg`` (an angle) of their start.
    - ``"kikuchipy"``: kikuchipy's Nelder–Mead (``EBSD.refine_orientation``, the
      reference) with a simplex of ``initial_step_deg`` within ± ``trust_region_deg``
      of each Bunge Euler angle.

    Parameters
    ----------
    pc
        Also refine the projection centre (Bruker convention): ``"pattern"``, one per
        point (both backends; kikuchipy's ``refine_orientation_projection_center``), or
        ``"map"``, one for the map fitted on ``pc_subset`` indexed points spread over it
        (torch).
    device
        torch device of the torch backend.
    memory_budget_gib
        Working memory in GiB (blocks of patterns, models).
    num_threads
        CPU worker threads of the renderer; default torch's thread count.

    Returns
    -------
    result
        Copy of ``xmap`` (its grid and properties) with refined rotations, ``scores``
        (NCC; NaN where not indexed if ``xmap`` had no scores, as after Hough) and a
        ``num_evals`` property (model evaluations per point, 0 where not indexed); with
        ``pc`` the properties ``pcx``, ``pcy``, ``pcz`` and the refined
        :attr:`IndexingResult.detector`.

    Raises
    ------
    ValueError
        For patterns whose shape is not the detector's, a map of another size than the
        patterns, NaN patterns, too few master patterns, an unknown backend or PC mode.
    synthebsd.simulate.MemoryBudgetError
        If the memory budget cannot hold one block.
    """
    if backend not in ("torch", "kikuchipy"):
        raise ValueError(f"backend must be 'torch' or 'kikuchipy', got {backend!r}")
    if pc not in ("none", "pattern", "map"):
        raise ValueError(f"pc must be 'none', 'pattern' or 'map', got {pc!r}")
    check_detector(patterns, detector)
    if navigation_size(patterns) != xmap.size:
        raise ValueError(
            f"The map has {xmap.size} points but there are {navigation_size(patterns)} patterns"
        )
    n_phases = int(np.max(xmap.phase_id, initial=-1)) + 1
    if len(master_patterns) < n_phases:
        raise ValueError(
            f"The map has phase ids up to {n_phases - 1} but only {len(master_patterns)} "
            "master patterns were given (one per phase id, in order)"
        )
    t0 = time.perf_counter()
    budget = memory_budget_gib * 2**30
    pcs = new_detector = None
    if backend == "torch":
        from synthebsd.analyze.indexing._refine_torch import torch_refine

        matrices, scores, num_evals, pcs, new_detector = torch_refine(
            patterns,
            xmap,
            master_patterns,
            detector,
            energy_kv,
            pseudo_symmetry=pseudo_symmetry,
            coarse_binning=coarse_binning,
            coarse_steps=coarse_steps,
            steps=steps,
            tolerance_deg=tolerance_deg,
            trust_region_deg=trust_region_deg,
            pc=pc,
            pc_subset=pc_subset,
            device=device,
            budget_bytes=budget,
            num_threads=num_threads,
        )
        rotations = Rotation.from_matrix(matrices).data
    else:
        if pc == "map":
            raise ValueError("pc='map' is a torch-backend option; use pc='pattern'")
        rotations, scores, num_evals, pcs = _kikuchipy_refine(
            patterns,
            xmap,
            master_patterns,
            detector,
            energy_kv,
            trust_region_deg,
            initial_step_deg,
            pseudo_symmetry,
            pc == "pattern",
            budget,
        )
        if pcs is not None:
            new_detector = detector.deepcopy()
            new_detector.pc = pcs.reshape(*xmap.shape, 3) if len(xmap.shape) > 1 else pcs
    seconds = time.perf_counter() - t0
    indexed = xmap.phase_id >= 0
    # xmap.prop[k], not .items(): a sliced map keeps its full arrays with a mask.
    prop = {k: np.asarray(xmap.prop[k]).copy() for k in xmap.prop}
    old = prop.get("scores")
    old = np.full(xmap.size, np.nan) if old is None else np.asarray(old, dtype=np.float64)
    prop["scores"] = np.where(indexed, scores, old)
    prop["num_evals"] = np.where(indexed, num_evals, 0)
    if pcs is not None:
        prop.update(pcx=pcs[:, 0].copy(), pcy=pcs[:, 1].copy(), pcz=pcs[:, 2].copy())
    rot = xmap.rotations.data.copy()
    rot[indexed] = rotations[indexed]
    out = as_map(rot, xmap.phase_id.copy(), crystalline_phases(xmap.phases), prop, xmap)
    return IndexingResult(
        out, seconds, int(indexed.sum()), detector=new_detector, timings={"total_s": seconds}
    )


def _kikuchipy_refine(
    patterns,
    xmap,
    master_patterns,
    detector,
    energy_kv,
    trust_region_deg,
    initial_step_deg,
    pseudo_symmetry,
    fit_pc,
    budget_bytes,
):
    """kikuchipy's Nelder–Mead refinement, phase by phase, block by block."""
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    n = xmap.size
    rotations = xmap.rotations.data.copy()
    scores = np.full(n, np.nan)
    num_evals = np.zeros(n, dtype=np.int64)
    det_pcs = np.asarray(detector.pc, dtype=np.float64).reshape(-1, 3)
    pcs = np.tile(det_pcs, (n // det_pcs.shape[0], 1)) if fit_pc else None
    n_px = int(np.prod(detector.shape))
    block = n
    if is_lazy(patterns):
        block = plan_block(budget_bytes, 0, 64 * n_px, "kikuchipy refinement", n)
    for start, stop, data in iter_blocks(patterns, block):
        for pid, mp in enumerate(master_patterns):
            local = np.nonzero(xmap.phase_id[start:stop] == pid)[0]
            if local.size == 0:
                continue
            idx = start + local
            sub_signal = kp.signals.EBSD(data[local])
            # A named axis with the map's unit step lets kikuchipy check the map against it.
            sub_signal.axes_manager.navigation_axes[0].name = "x"
            sub_map = CrystalMap(
                rotations=Rotation(rotations[idx]),
                phase_id=np.zeros(idx.size, dtype=int),
                phase_list=PhaseList(phases=mp.phase, ids=0),
            )
            sub_det = detector.deepcopy()
            if det_pcs.shape[0] > 1:
                sub_det.pc = det_pcs[idx]
            kw = dict(
                energy=energy_kv,
                method="minimize",
                method_kwargs={"method": "Nelder-Mead", "tol": 1e-4},
                trust_region=[trust_region_deg] * 3 + ([0.05] * 3 if fit_pc else []),
                initial_step=initial_step_deg if not fit_pc else [initial_step_deg, 0.01],
                pseudo_symmetry_ops=pseudo_symmetry_operators(mp.phase)
                if pseudo_symmetry
                else None,
                compute=True,
            )
            if fit_pc:
                refined, fitted = sub_signal.refine_orientation_projection_center(
                    sub_map, sub_det, mp, **kw
                )
                pcs[idx] = np.asarray(fitted.pc).reshape(-1, 3)
            else:
                refined = sub_signal.refine_orientation(sub_map, sub_det, mp, **kw)
            rotations[idx] = refined.rotations.data
            scores[idx] = refined.prop["scores"]
            num_evals[idx] = refined.prop["num_evals"]
    return rotations, scores, num_evals, pcs
