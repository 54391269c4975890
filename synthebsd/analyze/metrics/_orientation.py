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
    truth: CrystalMap, result: CrystalMap, errors: np.ndarray | None = None
) -> dict:
    """Error statistics of one indexing result against the truth.

    Returns
    -------
    summary
        ``n_indexable``; ``median_error_deg`` and ``p95_error_deg`` over the indexable
        points given the right phase; ``fraction_within_2deg`` and
        ``fraction_within_5deg`` over all indexable points; ``fraction_not_indexed`` and
        ``fraction_wrong_phase`` of indexable points; per non-indexable region (pore,
        electrolyte) the number of points and the fraction wrongly given an orientation;
        and the same error statistics per true phase.
    """
    errors = orientation_error_map(truth, result) if errors is None else errors
    indexable = truth.phase_id >= 0
    n = int(indexable.sum())
    ok = ~np.isnan(errors)

    def stats(mask: np.ndarray) -> dict:
        m = int(mask.sum())
        e = errors[mask & ok]
        return {
            "n_points": m,
            "median_error_deg": float(np.median(e)) if e.size else None,
            "p95_error_deg": float(np.percentile(e, 95)) if e.size else None,
            "fraction_within_2deg": float(np.sum(e < 2) / m) if m else None,
            "fraction_within_5deg": float(np.sum(e < 5) / m) if m else None,
        }

    summary = stats(indexable)
    summary["fraction_not_indexed"] = float(np.sum(indexable & (result.phase_id < 0)) / max(n, 1))
    summary["fraction_wrong_phase"] = float(
        np.sum(indexable & (result.phase_id >= 0) & ~ok) / max(n, 1)
    )
    summary["per_phase"] = {
        phase.name: stats(truth.phase_id == pid) for pid, phase in truth.phases if pid >= 0
    }
    region = truth.prop.get("region")
    summary["non_indexable"] = {}
    if region is not None:
        for reg in (Region.PORE, Region.ELECTROLYTE):
            mask = region == reg
            m = int(mask.sum())
            summary["non_indexable"][reg.name.lower()] = {
                "n_points": m,
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
