"""Batched orientation (and PC) refinement on the torch renderer, coarse to fine.

For every indexed point, phase by phase and block by block of the navigation axis:

1. *coarse*: from the start orientation and, for cubic phases, its four 60°⟨111⟩ (Σ3)
   variants, a few Levenberg–Marquardt steps (:func:`lm_refine`) on the coarse model
   (patterns binned, the model smoothed once more: a wide basin, four times cheaper);
2. the start whose coarse optimum has the highest NCC with the full model is kept;
3. *fine*: Levenberg–Marquardt on the full model (the master pattern given, at the
   detector's resolution) until the step is below the tolerance; with ``pc="pattern"``
   the PC of every pattern is fitted too.

With ``pc="map"`` one PC is first fitted to a subset of the map (steps 1–2, then a
joint fit of the subset's rotations and the shared PC, :func:`lm_shared_pc`), and
every point is then refined at that PC. Scores are the NCC of the full model at the
result (kikuchipy's metric).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from synthebsd.analyze.indexing._blocks import MAX_BLOCK, iter_blocks, plan_block
from synthebsd.analyze.indexing._lm import lm_refine, lm_shared_pc
from synthebsd.analyze.indexing._torch_model import IndexerModel, chunk_map, to_device

if TYPE_CHECKING:
    import torch
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD, EBSDMasterPattern
    from orix.crystal_map import CrystalMap

__all__ = ["torch_refine"]

#: Accepted coarse steps below this rotation stop the coarse stage of a pattern.
COARSE_TOLERANCE_DEG = 0.02


def _model_ncc(renderer, rot: torch.Tensor, target: torch.Tensor, owner, pc_index, threads):
    """NCC of the renderer's patterns at rotations ``rot`` with normalized patterns
    ``target[owner]``, scored in the render workers (NCC = t·e / |t − t̄| for zero-mean
    e)."""
    import torch  # lazy: torch takes seconds to import

    matrices = rot.cpu().numpy().astype(np.float32)
    ncc = torch.empty(rot.shape[0], device=target.device)
    p = target.shape[1]

    def score(index, t):
        rows = torch.from_numpy(index).to(target.device)
        dot = (t * target[owner[rows]]).sum(dim=1)
        spread = (t * t).sum(dim=1) - t.sum(dim=1) ** 2 / p
        ncc[rows] = dot * torch.rsqrt(spread.clamp(min=1e-24))

    chunk_map(renderer, matrices, score, threads, pc_index=pc_index)
    return ncc


def _choose_start(model, sym, rot0, coarse, full, pcs, pc_index, cfg):
    """Steps 1–2: coarse fits from every start; the best by full-model NCC, per pattern."""
    import torch  # lazy: torch takes seconds to import

    n = rot0.shape[0]
    starts = rot0 if sym is None else torch.cat([rot0] + [s @ rot0 for s in sym])
    k = starts.shape[0] // n
    rep = torch.arange(n, device=rot0.device).repeat(k)
    st = lm_refine(
        model.coarse,
        coarse,
        starts,
        None if pcs is None else pcs[rep],
        False,
        cfg["coarse_steps"],
        math.radians(COARSE_TOLERANCE_DEG),
        cfg["trust_rad"],
        cfg["num_threads"],
        owner=rep,
    )
    if k == 1:
        return st.rot, st.evals
    index = None if pc_index is None else np.tile(pc_index, k)
    score = _model_ncc(model.full, st.rot, full, rep, index, cfg["num_threads"]).reshape(k, n)
    best = score.argmax(dim=0)
    pick = best * n + torch.arange(n, device=rot0.device)
    evals = st.evals.reshape(k, n).sum(0) + k
    return st.rot[pick], evals


def _refine_points(model, sym, rot0, coarse, full, pcs, pc_index, fit_pc, cfg):
    """Steps 1–3 for some points of one phase; returns rotations, PCs, NCC, evaluations."""
    import torch  # lazy: torch takes seconds to import

    if model.coarse is model.full and sym is None and cfg["coarse_steps"] == 0:
        rot, evals = rot0, torch.zeros(rot0.shape[0], dtype=torch.int64)
    else:
        rot, evals = _choose_start(model, sym, rot0, coarse, full, pcs, pc_index, cfg)
    st = lm_refine(
        model.full,
        full,
        rot,
        pcs,
        fit_pc,
        cfg["steps"],
        cfg["tolerance_rad"],
        cfg["trust_rad"] + math.radians(1.0),  # the coarse stage may have used some
        cfg["num_threads"],
    )
    return st.rot, st.pc, st.ncc, st.evals + evals.to(st.evals.device)


def _sym_matrices(phase, device, enabled: bool):
    import torch  # lazy: torch takes seconds to import

    from synthebsd.analyze.indexing._refine import pseudo_symmetry_operators

    ops = pseudo_symmetry_operators(phase) if enabled else None
    if ops is None:
        return None
    return torch.from_numpy(ops.to_matrix().astype(np.float32)).to(device)


def torch_refine(
    patterns: EBSD,
    xmap: CrystalMap,
    master_patterns: Sequence[EBSDMasterPattern],
    detector: EBSDDetector,
    energy_kv: float,
    *,
    pseudo_symmetry: bool,
    coarse_binning: int,
    coarse_steps: int,
    steps: int,
    tolerance_deg: float,
    trust_region_deg: float,
    pc: Literal["none", "pattern", "map"],
    pc_subset: int,
    device,
    budget_bytes: float,
    num_threads: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, EBSDDetector | None]:
    """Refine every indexed point (see the module docstring).

    Returns
    -------
    rotations, scores, num_evals
        (n, 3, 3) float64 matrices, NCC (n,), model evaluations (n,); not-indexed points
        keep their rotation, NaN score and 0 evaluations.
    pcs
        (n, 3) refined PCs with ``pc != "none"`` (else None).
    detector
        The detector with the refined PC(s), or None.
    """
    import torch  # lazy: torch takes seconds to import

    n = xmap.size
    phase_id = np.asarray(xmap.phase_id)
    rot_all = xmap.rotations.to_matrix().reshape(n, 3, 3)
    det_pcs = np.asarray(detector.pc, dtype=np.float64).reshape(-1, 3)
    if det_pcs.shape[0] not in (1, n):
        raise ValueError(f"The detector has {det_pcs.shape[0]} projection centres for {n} points")
    varying = det_pcs.shape[0] > 1
    cfg = {
        "coarse_steps": int(coarse_steps),
        "steps": int(steps),
        "tolerance_rad": math.radians(tolerance_deg),
        "trust_rad": math.radians(trust_region_deg),
        "num_threads": int(num_threads or torch.get_num_threads()),
    }
    models = [
        IndexerModel(mp, detector, energy_kv, device, coarse_binning) for mp in master_patterns
    ]
    dev = models[0].full.device
    out_rot = rot_all.astype(np.float64).copy()
    scores = np.full(n, np.nan)
    evals = np.zeros(n, dtype=np.int64)
    out_pc = np.tile(det_pcs, (n // det_pcs.shape[0], 1)) if pc != "none" else None
    new_detector = None
    if pc == "map":
        if varying:
            raise ValueError("pc='map' needs a detector with one projection centre")
        fitted = _fit_map_pc(patterns, phase_id, rot_all, models, det_pcs[0], pc_subset, cfg)
        new_detector = detector.deepcopy()
        new_detector.pc = fitted
        out_pc[:] = fitted
        models = [
            IndexerModel(mp, new_detector, energy_kv, device, coarse_binning)
            for mp in master_patterns
        ]
    p_full = models[0].full.fine_pixels
    p_coarse = models[0].coarse.fine_pixels
    n_starts = 5 if pseudo_symmetry else 1
    q = 6 if pc == "pattern" else 3
    fixed = (
        sum(m.fixed_bytes() for m in models) + 4 * 4 * 64 * (q + 1) * p_full * cfg["num_threads"]
    )
    per_pattern = 4 * 2 * (p_full + p_coarse + n_starts * (p_coarse + 64))
    block = plan_block(budget_bytes, fixed, per_pattern, "orientation refinement", n)
    with torch.inference_mode():
        for start, stop, data in iter_blocks(patterns, block):
            full, coarse = to_device(data, dev, coarse_binning)
            for pid, model in enumerate(models):
                local = np.nonzero(phase_id[start:stop] == pid)[0]
                if local.size == 0:
                    continue
                idx = start + local
                sel = torch.from_numpy(local).to(dev)
                rot0 = torch.from_numpy(rot_all[idx].astype(np.float32)).to(dev)
                pcs = None
                if varying or pc == "pattern":
                    pcs = torch.from_numpy(
                        out_pc[idx].astype(np.float32)
                        if out_pc is not None
                        else det_pcs[idx].astype(np.float32)
                    ).to(dev)
                rot, pcs_fit, ncc, ev = _refine_points(
                    model,
                    _sym_matrices(model.phase, dev, pseudo_symmetry),
                    rot0,
                    coarse[sel],
                    full[sel],
                    pcs,
                    idx if varying else None,
                    pc == "pattern",
                    cfg,
                )
                out_rot[idx] = rot.cpu().numpy()
                scores[idx] = ncc.cpu().numpy()
                evals[idx] = ev.cpu().numpy()
                if pc == "pattern":
                    out_pc[idx] = pcs_fit.cpu().numpy()
    if pc == "pattern":
        new_detector = detector.deepcopy()
        new_detector.pc = out_pc.reshape(*xmap.shape, 3) if len(xmap.shape) > 1 else out_pc
    return out_rot, scores, evals, out_pc, new_detector


def _fit_map_pc(patterns, phase_id, rot_all, models, pc0, subset, cfg) -> np.ndarray:
    """One PC for the map from up to ``subset`` indexed points spread over it."""
    import torch  # lazy: torch takes seconds to import

    indexed = np.nonzero(phase_id >= 0)[0]
    if indexed.size == 0:
        raise ValueError("pc='map' needs indexed points")
    take = indexed[np.linspace(0, indexed.size - 1, min(subset, indexed.size)).astype(int)]
    take = np.unique(take)
    rows = []
    for start, stop, data in iter_blocks(patterns, MAX_BLOCK):
        local = take[(take >= start) & (take < stop)] - start
        if local.size:
            rows.append(data[local])
    data = np.concatenate(rows)
    dev = models[0].full.device
    binning = models[0].binning
    with torch.inference_mode():
        full, coarse = to_device(data, dev, binning)
        problems = []
        for pid, model in enumerate(models):
            sel = np.nonzero(phase_id[take] == pid)[0]
            if sel.size == 0:
                continue
            s = torch.from_numpy(sel).to(dev)
            rot0 = torch.from_numpy(rot_all[take[sel]].astype(np.float32)).to(dev)
            # Σ3 starts here even without pseudo_symmetry: a start outside its basin
            # biases the shared PC (measured from the network's 2-4° starts on four
            # 720-point maps: median 0.13-0.19° with them, 0.13-0.20° without)
            sym = _sym_matrices(model.phase, dev, True)
            rot, _ = _choose_start(model, sym, rot0, coarse[s], full[s], None, None, cfg)
            problems.append((model.full, full[s], rot))
        pc = torch.tensor(pc0, dtype=torch.float32, device=dev)
        pc, _, _ = lm_shared_pc(problems, pc, 3 * cfg["steps"], 1e-6, cfg["num_threads"])
    return pc.cpu().numpy().astype(np.float64)
