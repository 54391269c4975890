"""How well a method indexed a map: orientation accuracy, phase confusion, confidence.

Errors are disorientations (:func:`~synthebsd.analyze.metrics.orientation_error_map`,
orix, crystal symmetry) in degrees. A point is a success within θ only if it was given
its true phase and its disorientation is below θ: not-indexed and wrong-phase points are
failures, and every fraction is over all indexable points of a phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score

from synthebsd.analyze.metrics._orientation import orientation_error_map
from synthebsd.conventions import Region

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap

__all__ = [
    "NOT_INDEXED",
    "SUCCESS_LIMITS_DEG",
    "confidence_analysis",
    "orientation_accuracy",
    "phase_confusion",
]

#: Disorientation limits (degrees) of the reported success fractions.
SUCCESS_LIMITS_DEG = (1, 2, 5)
#: Column of the phase confusion matrix for points given no phase.
NOT_INDEXED = "not indexed"


def _error_stats(errors: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Statistics of ``errors`` over ``mask``; NaN errors (failures) count in the fractions."""
    n = int(mask.sum())
    e = errors[mask]
    ok = e[np.isfinite(e)]
    out: dict[str, Any] = {
        "n_points": n,
        "n_right_phase": int(ok.size),
        "median_error_deg": float(np.median(ok)) if ok.size else None,
        "mean_error_deg": float(np.mean(ok)) if ok.size else None,
        "p95_error_deg": float(np.percentile(ok, 95)) if ok.size else None,
    }
    for limit in SUCCESS_LIMITS_DEG:
        out[f"fraction_within_{limit}deg"] = float(np.sum(ok < limit) / n) if n else None
    return out


def _candidate_ids(truth: CrystalMap, candidate_phases: list[str] | None) -> list[int]:
    names = {pid: ph.name for pid, ph in truth.phases if pid >= 0}
    if candidate_phases is None:
        return list(names)
    unknown = set(candidate_phases) - set(names.values())
    if unknown:
        raise ValueError(
            f"Candidate phases {sorted(unknown)} are not phases of the truth map "
            f"({sorted(names.values())})"
        )
    return [pid for pid, name in names.items() if name in candidate_phases]


def orientation_accuracy(
    truth: CrystalMap,
    result: CrystalMap,
    errors: np.ndarray | None = None,
    candidate_phases: list[str] | None = None,
) -> dict[str, Any]:
    """Per-point disorientation summary, over all indexable points and by true phase.

    Parameters
    ----------
    truth, result
        Ground truth and indexing result (same points; phases matched by name).
    errors
        :func:`orientation_error_map` of the two (degrees), if already computed.
    candidate_phases
        Phases the method could assign; points of other phases are not indexable for it
        (not scored here; see :func:`phase_confusion`). Default: every truth phase.

    Returns
    -------
    accuracy
        ``n_points``, ``n_right_phase``, ``median_error_deg``, ``mean_error_deg`` and
        ``p95_error_deg`` (over the points given the right phase), ``fraction_within_1deg``,
        ``_2deg``, ``_5deg`` (over all indexable points), ``fraction_not_indexed``,
        ``fraction_wrong_phase``, and the same statistics under ``per_phase`` by phase
        name.
    """
    errors = orientation_error_map(truth, result) if errors is None else np.asarray(errors)
    if errors.shape != (truth.size,):
        raise ValueError(f"errors has shape {errors.shape}; expected ({truth.size},)")
    ids = _candidate_ids(truth, candidate_phases)
    indexable = np.isin(truth.phase_id, ids)
    n = max(int(indexable.sum()), 1)
    out = _error_stats(errors, indexable)
    not_indexed = indexable & (result.phase_id < 0)
    out["fraction_not_indexed"] = float(not_indexed.sum() / n)
    out["fraction_wrong_phase"] = float(
        np.sum(indexable & ~not_indexed & ~np.isfinite(errors)) / n
    )
    out["per_phase"] = {
        truth.phases[pid].name: _error_stats(errors, truth.phase_id == pid) for pid in ids
    }
    return out


def _true_classes(truth: CrystalMap) -> tuple[np.ndarray, list[str]]:
    """Row label of every point: ``pore`` and ``electrolyte`` by region, else the phase."""
    labels = np.array(
        [truth.phases[pid].name if pid >= 0 else NOT_INDEXED for pid in truth.phase_id],
        dtype=object,
    )
    region = truth.prop.get("region")
    if region is not None:
        region = np.asarray(region)
        labels[region == Region.ELECTROLYTE] = "electrolyte"
        labels[region == Region.PORE] = "pore"
    order = [ph.name for pid, ph in truth.phases if pid >= 0]
    rows = [r for r in order if np.any(labels == r)]
    rows += [r for r in ("electrolyte", "pore", NOT_INDEXED) if np.any(labels == r)]
    return labels, rows


def phase_confusion(truth: CrystalMap, result: CrystalMap) -> dict[str, Any]:
    """Confusion matrix of indexed phase against true phase.

    Rows are the true classes: each crystalline phase of the truth by name, then
    ``electrolyte`` (every point of the electrolyte region, crystalline or amorphous) and
    ``pore`` (the pore region), and ``not indexed`` for any other point without a phase.
    Columns are the result's phases by name and ``not indexed``.

    Returns
    -------
    confusion
        ``rows``, ``columns`` (lists of names), ``counts`` (list of lists of ints, rows ×
        columns) and ``fractions`` (each row divided by its total).
    """
    if truth.size != result.size:
        raise ValueError(f"Maps differ in size: truth {truth.size}, result {result.size} points")
    labels, rows = _true_classes(truth)
    found = np.array(
        [result.phases[pid].name if pid >= 0 else NOT_INDEXED for pid in result.phase_id],
        dtype=object,
    )
    columns = [ph.name for pid, ph in result.phases if pid >= 0] + [NOT_INDEXED]
    counts = np.array([[np.sum((labels == r) & (found == c)) for c in columns] for r in rows])
    totals = counts.sum(axis=1, keepdims=True)
    return {
        "rows": rows,
        "columns": columns,
        "counts": counts.astype(int).tolist(),
        "fractions": (counts / np.maximum(totals, 1)).tolist(),
    }


def confidence_analysis(
    score: np.ndarray,
    errors: np.ndarray,
    mask: np.ndarray | None = None,
    higher_is_better: bool = True,
    correct_below_deg: float = 5.0,
) -> dict[str, Any]:
    """How well a method's score tells its correct points (error < 5°) from wrong ones.

    A point is correct when its disorientation (degrees) is below ``correct_below_deg``;
    NaN errors (not indexed, wrong phase) are wrong. The best threshold is the one of
    scikit-learn's :func:`~sklearn.metrics.precision_recall_curve` that maximises F1 of
    the class "correct"; a point is accepted when its (sign-adjusted) score is at or
    above it.

    Parameters
    ----------
    score
        One score per point (Hough ``cm``, dictionary NCC, neural uncertainty, ...).
    errors
        Disorientations in degrees, NaN for failures.
    mask
        Points to use (e.g. the indexable ones); default all with a finite score.
    higher_is_better
        False for scores where low means confident (fit, uncertainty).
    correct_below_deg
        Error limit of a correct point, degrees.

    Returns
    -------
    confidence
        ``n_points``, ``fraction_correct``, ``roc_auc`` (None when one class is absent),
        ``best_threshold`` (in the score's own units and direction), ``precision`` and
        ``recall`` of the correct class at it, ``f1``, ``higher_is_better``.
    """
    score = np.asarray(score, dtype=float).ravel()
    errors = np.asarray(errors, dtype=float).ravel()
    if score.shape != errors.shape:
        raise ValueError(f"score has {score.size} values, errors {errors.size}")
    use = np.isfinite(score) if mask is None else (np.asarray(mask, bool) & np.isfinite(score))
    s = score[use] if higher_is_better else -score[use]
    correct = np.nan_to_num(errors[use], nan=np.inf) < correct_below_deg
    out: dict[str, Any] = {
        "n_points": int(use.sum()),
        "fraction_correct": float(correct.mean()) if correct.size else None,
        "higher_is_better": higher_is_better,
        "correct_below_deg": correct_below_deg,
        "roc_auc": None,
        "best_threshold": None,
        "precision": None,
        "recall": None,
        "f1": None,
    }
    if not correct.any() or correct.all():
        return out
    out["roc_auc"] = float(roc_auc_score(correct, s))
    precision, recall, thresholds = precision_recall_curve(correct, s)
    p, r = precision[:-1], recall[:-1]
    f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-300), 0.0)
    best = int(np.argmax(f1))
    out["best_threshold"] = float(thresholds[best] if higher_is_better else -thresholds[best])
    out["precision"] = float(p[best])
    out["recall"] = float(r[best])
    out["f1"] = float(f1[best])
    return out
