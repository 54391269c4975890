"""Every metric of one indexing method on one map, in one JSON-ready dictionary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from synthebsd.analyze.metrics._accuracy import (
    confidence_analysis,
    orientation_accuracy,
    phase_confusion,
)
from synthebsd.analyze.metrics._grains import grain_metrics, reconstruct_grains
from synthebsd.analyze.metrics._orientation import orientation_error_map
from synthebsd.analyze.metrics._pores import pore_mask_metrics
from synthebsd.analyze.metrics._texture import texture_metrics

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap

__all__ = ["SCORE_PROPERTIES", "method_metrics", "method_score"]

#: Map properties that hold a method's confidence, in order of preference, and whether a
#: higher value means more confident: dictionary/refinement NCC, Hough confidence metric,
#: neural predicted error.
SCORE_PROPERTIES: tuple[tuple[str, bool], ...] = (
    ("scores", True),
    ("cm", True),
    ("uncertainty_deg", False),
)


def method_score(xmap: CrystalMap) -> tuple[str, np.ndarray, bool] | None:
    """The confidence score of an indexed map (:data:`SCORE_PROPERTIES`), if it has one.

    Returns
    -------
    score
        ``(property name, one value per point, higher_is_better)`` or None. A dictionary
        map's ``scores`` with several columns (top-k) gives its best (first) column.
    """
    for name, higher in SCORE_PROPERTIES:
        if name in xmap.prop:
            value = np.asarray(xmap.prop[name], dtype=float)
            return name, value.reshape(xmap.size, -1)[:, 0], higher
    return None


def method_metrics(
    truth: CrystalMap,
    xmap: CrystalMap,
    errors: np.ndarray | None = None,
    candidate_phases: list[str] | None = None,
    grain_threshold_deg: float = 5.0,
    grain_connectivity: int = 1,
    min_grain_px: int = 1,
    texture: bool = True,
) -> dict[str, Any]:
    """All metrics of one indexed map against the truth.

    Parameters
    ----------
    truth
        Ground truth (``region``, ``grain_id``, ``pore`` properties).
    xmap
        Indexed map on the same points (phases matched by name).
    errors
        :func:`~synthebsd.analyze.metrics.orientation_error_map` (degrees), if computed.
    candidate_phases
        Phases the method could assign (default every truth phase).
    grain_threshold_deg, grain_connectivity, min_grain_px
        Grain reconstruction (:func:`~synthebsd.analyze.metrics.reconstruct_grains`).
    texture
        Also compute :func:`~synthebsd.analyze.metrics.texture_metrics`.

    Returns
    -------
    metrics
        ``orientation`` (:func:`orientation_accuracy`), ``phase_confusion``,
        ``confidence`` (:func:`confidence_analysis` of the map's score over every point
        with a score: pores and other points without a candidate phase have no right
        answer and count as wrong, so the threshold is the one that also rejects them;
        ``score`` names the property; None without a score),
        ``pores`` (:func:`pore_mask_metrics`), ``grains`` (:func:`grain_metrics`) and
        ``texture``.
    """
    errors = orientation_error_map(truth, xmap) if errors is None else np.asarray(errors)
    accuracy = orientation_accuracy(truth, xmap, errors, candidate_phases)
    confidence = None
    score = method_score(xmap)
    if score is not None:
        name, value, higher = score
        confidence = confidence_analysis(value, errors, None, higher) | {"score": name}
    grain_id = reconstruct_grains(xmap, grain_threshold_deg, grain_connectivity, min_grain_px)
    return {
        "orientation": accuracy,
        "phase_confusion": phase_confusion(truth, xmap),
        "confidence": confidence,
        "pores": pore_mask_metrics(truth, xmap),
        "grains": grain_metrics(truth, xmap, grain_id, threshold_deg=grain_threshold_deg),
        "texture": texture_metrics(truth, xmap) if texture else None,
    }
