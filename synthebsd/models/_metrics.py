"""Metrics of model outputs against the truth, as the classical methods are scored.

Orientation errors count every indexable point: a point predicted not indexed, or given
the wrong class, is a failure (as in :func:`synthebsd.analyze.indexing_summary`), so the
fractions within 2° and 5° are over all indexable points. Calibration asks whether the
predicted error can be trusted: of the points predicted within 2°, how many are.
"""

from __future__ import annotations

import numpy as np

from synthebsd.conventions import Region

__all__ = ["orientation_metrics", "segmentation_metrics"]


def _fraction(mask: np.ndarray, of: np.ndarray) -> float | None:
    n = int(of.sum())
    return float((mask & of).sum() / n) if n else None


def orientation_metrics(
    error_deg: np.ndarray,
    predicted_error_deg: np.ndarray,
    predicted_class: np.ndarray,
    region: np.ndarray,
    phase_id: np.ndarray,
    max_uncertainty_deg: float,
) -> dict:
    """Scores of an orientation model on labelled patterns.

    Parameters
    ----------
    error_deg
        (n,) disorientation to the truth in degrees (ignored where ``phase_id`` < 0).
    predicted_error_deg
        (n,) the model's uncertainty in degrees.
    predicted_class, region
        (n,) predicted and true region classes (:class:`~synthebsd.conventions.Region`).
    phase_id
        (n,) true phase ids, −1 where there is no orientation.
    max_uncertainty_deg
        Predicted error above which a point is not indexed.

    Returns
    -------
    metrics
        ``median_error_deg``, ``p95_error_deg`` (over indexed indexable points with the
        right class), ``fraction_within_2deg`` / ``5deg`` and ``fraction_not_indexed``
        (over indexable points), ``class_accuracy`` (all points), ``pore_recall`` and
        ``pore_precision``, ``fraction_non_indexable_given_orientation``, and the
        calibration: ``fraction_within_2deg_of_predicted_below_2deg``,
        ``mean_predicted_error_deg`` and ``mean_error_deg`` (indexable points).
    """
    error_deg = np.asarray(error_deg, dtype=float)
    unc = np.asarray(predicted_error_deg, dtype=float)
    pred_cls = np.asarray(predicted_class)
    region = np.asarray(region)
    indexable = np.asarray(phase_id) >= 0
    indexed = (unc <= max_uncertainty_deg) & np.isin(
        pred_cls, [Region.METAL, Region.COLLECTOR, Region.ELECTROLYTE]
    )
    right = indexable & indexed & (pred_cls == region)
    e = error_deg[right]
    pore_true, pore_pred = region == Region.PORE, pred_cls == Region.PORE
    confident = indexable & indexed & (unc < 2.0)
    return {
        "n_points": int(region.size),
        "n_indexable": int(indexable.sum()),
        "median_error_deg": float(np.median(e)) if e.size else None,
        "p95_error_deg": float(np.percentile(e, 95)) if e.size else None,
        "fraction_within_2deg": _fraction(right & (error_deg < 2), indexable),
        "fraction_within_5deg": _fraction(right & (error_deg < 5), indexable),
        "fraction_not_indexed": _fraction(~indexed, indexable),
        "class_accuracy": float((pred_cls == region).mean()) if region.size else None,
        "pore_recall": _fraction(pore_pred, pore_true),
        "pore_precision": _fraction(pore_true, pore_pred),
        "fraction_non_indexable_given_orientation": _fraction(indexed, ~indexable),
        "fraction_within_2deg_of_predicted_below_2deg": _fraction(error_deg < 2, confident),
        "mean_predicted_error_deg": float(unc[indexable].mean()) if indexable.any() else None,
        "mean_error_deg": float(error_deg[indexable].mean()) if indexable.any() else None,
    }


def segmentation_metrics(predicted: np.ndarray, target: np.ndarray, n_classes: int) -> dict:
    """Accuracy and per-class IoU, precision and recall of a labelled map.

    Parameters
    ----------
    predicted, target
        Class codes of the same shape (target −1: ignored).
    n_classes
        Number of classes (4 Region codes, 5 with grain boundaries).

    Returns
    -------
    metrics
        ``accuracy``, ``per_class`` {name: iou, precision, recall, n_points}, and
        ``pore_iou``, ``pore_precision``, ``pore_recall`` at the top level.
    """
    predicted, target = np.asarray(predicted).ravel(), np.asarray(target).ravel()
    valid = target >= 0
    predicted, target = predicted[valid], target[valid]
    names = [r.name.lower() for r in Region] + ["grain_boundary"]
    per_class = {}
    for c in range(n_classes):
        p, t = predicted == c, target == c
        inter, union = int((p & t).sum()), int((p | t).sum())
        per_class[names[c]] = {
            "n_points": int(t.sum()),
            "iou": inter / union if union else None,
            "precision": inter / int(p.sum()) if p.any() else None,
            "recall": inter / int(t.sum()) if t.any() else None,
        }
    pore = per_class["pore"]
    return {
        "accuracy": float((predicted == target).mean()) if target.size else None,
        "per_class": per_class,
        "pore_iou": pore["iou"],
        "pore_precision": pore["precision"],
        "pore_recall": pore["recall"],
    }
