"""Indexing errors against ground truth.

Errors are disorientation angles (orix, crystal symmetry of the true phase applied) in
degrees. A point counts as correctly indexed within θ only if it was given the true phase
and its disorientation is below θ; points given no phase or the wrong phase count as
failures, so success fractions are over all indexable points, never over the easy ones.
"""

from __future__ import annotations

import numpy as np
from orix.crystal_map import CrystalMap
from orix.quaternion import Orientation

from synthebsd.conventions import Region

__all__ = ["indexing_summary", "orientation_error_map", "pattern_ncc"]


def orientation_error_map(truth: CrystalMap, result: CrystalMap) -> np.ndarray:
    """Disorientation in degrees between result and truth at each point.

    Parameters
    ----------
    truth
        Ground-truth map.
    result
        Indexing result with the same number of points, whose phases are matched to the
        truth's by name.

    Returns
    -------
    errors
        Flat float array (one value per point): the disorientation angle in degrees where
        truth and result agree on the phase, NaN elsewhere (truth not indexable, result
        not indexed, or wrong phase).
    """
    if truth.size != result.size:
        raise ValueError(f"Maps differ in size: truth {truth.size}, result {result.size} points")
    errors = np.full(truth.size, np.nan)
    for pid, phase in truth.phases:
        if pid < 0:
            continue
        result_ids = [r for r, ph in result.phases if r >= 0 and ph.name == phase.name]
        same = (truth.phase_id == pid) & np.isin(result.phase_id, result_ids)
        if not same.any():
            continue
        o_true = Orientation(truth.rotations[same], symmetry=phase.point_group)
        o_found = Orientation(result.rotations[same], symmetry=phase.point_group)
        errors[same] = o_true.angle_with(o_found, degrees=True)
    return errors


def indexing_summary(
    truth: CrystalMap,
    result: CrystalMap,
    errors: np.ndarray | None = None,
    candidate_phases: list[str] | None = None,
) -> dict:
    """Error statistics of one indexing result against the truth.

    Parameters
    ----------
    truth, result
        Ground truth and indexing result (same points; phases matched by name).
    errors
        :func:`orientation_error_map` of the two, if already computed.
    candidate_phases
        Names of the phases the method could assign; points of other true phases (e.g.
        a crystalline electrolyte the indexer was not given) are not indexable for it and
        are reported with the pores. Default: every phase of the truth.

    Returns
    -------
    summary
        ``n_points`` (indexable points); ``median_error_deg`` and ``p95_error_deg`` over
        the indexable points given the right phase; ``fraction_within_1deg``, ``_2deg``
        and ``_5deg`` over all indexable points; ``fraction_not_indexed`` and
        ``fraction_wrong_phase`` of indexable points; per non-indexable region (pores,
        and the electrolyte unless it is a candidate) the number of points and the
        fraction wrongly given an orientation; and the error statistics per true phase.
    """
    errors = orientation_error_map(truth, result) if errors is None else errors
    names = {pid: ph.name for pid, ph in truth.phases if pid >= 0}
    candidates = set(names.values()) if candidate_phases is None else set(candidate_phases)
    candidate_ids = [pid for pid, name in names.items() if name in candidates]
    indexable = np.isin(truth.phase_id, candidate_ids)
    n = int(indexable.sum())
    ok = ~np.isnan(errors)

    def stats(mask: np.ndarray) -> dict:
        m = int(mask.sum())
        e = errors[mask & ok]
        out = {
            "n_points": m,
            "median_error_deg": float(np.median(e)) if e.size else None,
            "p95_error_deg": float(np.percentile(e, 95)) if e.size else None,
        }
        for limit in (1, 2, 5):
            out[f"fraction_within_{limit}deg"] = float(np.sum(e < limit) / m) if m else None
        return out

    summary = stats(indexable)
    summary["fraction_not_indexed"] = float(np.sum(indexable & (result.phase_id < 0)) / max(n, 1))
    summary["fraction_wrong_phase"] = float(
        np.sum(indexable & (result.phase_id >= 0) & ~ok) / max(n, 1)
    )
    summary["per_phase"] = {names[pid]: stats(truth.phase_id == pid) for pid in candidate_ids}
    region = truth.prop.get("region")
    summary["non_indexable"] = {}
    if region is not None:
        electrolyte_ids = [pid for pid in names if pid not in candidate_ids]
        for reg in (Region.PORE, Region.ELECTROLYTE):
            mask = (region == reg) & ~indexable
            if reg == Region.ELECTROLYTE and not np.any(mask):
                continue
            m = int(mask.sum())
            summary["non_indexable"][reg.name.lower()] = {
                "n_points": m,
                "crystalline": bool(np.any(np.isin(truth.phase_id[mask], electrolyte_ids))),
                "fraction_given_orientation": float(np.sum(mask & (result.phase_id >= 0)) / m)
                if m
                else None,
            }
    return summary


def pattern_ncc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of patterns, pairwise along the leading axes.

    Parameters
    ----------
    a, b
        Pattern stacks of shape (..., rows, cols), broadcastable against each other.

    Returns
    -------
    ncc
        Array of the leading shape with values in [-1, 1].
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a.reshape(*a.shape[:-2], -1)
    b = b.reshape(*b.shape[:-2], -1)
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
