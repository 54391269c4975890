"""Post-hoc calibration of an orientation model's predicted error, on held-out patterns.

The uncertainty head learns the expected error E[error | pattern] on its training data
(:func:`~synthebsd.models.uncertainty_nll`). On patterns it has not seen it ranks points
well but is overconfident where it predicts little error: the shipped model's points
predicted at 0.3–0.8° were 2.1–2.3° off in the held-out evaluation (its training data
are fitted better than new data). An isotonic regression of the observed error on the
predicted one, fitted on held-out patterns, maps the head's output to the mean error
observed there and keeps its order. The checkpoint stores the fitted steps
(``uncertainty_calibration``); :func:`~synthebsd.models.predict_orientations` applies them
before it calls points "not indexed".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from synthebsd.models._checkpoint import Checkpoint

__all__ = [
    "apply_uncertainty_calibration",
    "fit_uncertainty_calibration",
    "held_out_predictions",
]

#: Fewest held-out indexable points a calibration is fitted on.
MIN_CALIBRATION_POINTS = 200
#: Smallest calibrated error, in degrees (an expected error is > 0).
_MIN_EXPECTED_DEG = 1e-3


def fit_uncertainty_calibration(
    predicted_error_deg: np.ndarray,
    error_deg: np.ndarray,
    min_points: int = MIN_CALIBRATION_POINTS,
) -> dict[str, Any]:
    """Fit the monotone map from predicted to expected error on held-out points.

    Parameters
    ----------
    predicted_error_deg
        (n,) the uncertainty head's raw predictions, in degrees (> 0).
    error_deg
        (n,) the observed disorientations to the truth, in degrees, of the same points
        (points with an orientation only).
    min_points
        Fewest points to fit on.

    Returns
    -------
    calibration
        ``log_predicted_deg`` and ``expected_deg`` (the steps of the isotonic fit, natural
        log of the predicted error → mean observed error in degrees), ``n_points``, and
        the mean predicted and observed errors of the fitted points.

    Raises
    ------
    ValueError
        If the arrays differ in size, hold NaN, infinities or predictions ≤ 0, or there
        are fewer than ``min_points`` points.
    """
    from sklearn.isotonic import IsotonicRegression  # lazy: scikit-learn

    pred = np.asarray(predicted_error_deg, dtype=float).ravel()
    err = np.asarray(error_deg, dtype=float).ravel()
    if pred.shape != err.shape:
        raise ValueError(f"{pred.size} predicted errors for {err.size} observed errors")
    if not (np.isfinite(pred).all() and np.isfinite(err).all()):
        raise ValueError("Predicted and observed errors must be finite (NaN or inf given)")
    if (pred <= 0).any():
        raise ValueError("Predicted errors must be > 0 degrees")
    if pred.size < min_points:
        raise ValueError(
            f"A calibration needs at least {min_points} held-out points with an orientation, "
            f"got {pred.size}"
        )
    fit = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=_MIN_EXPECTED_DEG)
    fit.fit(np.log(pred), err)
    return {
        "log_predicted_deg": fit.X_thresholds_.tolist(),
        "expected_deg": fit.y_thresholds_.tolist(),
        "n_points": int(pred.size),
        "mean_predicted_deg": float(pred.mean()),
        "mean_error_deg": float(err.mean()),
    }


def apply_uncertainty_calibration(
    calibration: dict[str, Any] | None, predicted_error_deg: np.ndarray
) -> np.ndarray:
    """The calibrated expected errors (degrees) of raw predictions; unchanged without one.

    Between the fitted steps the map is linear in the log of the prediction; outside
    them it is constant (the fit's ends).
    """
    pred = np.asarray(predicted_error_deg, dtype=float)
    if calibration is None:
        return pred
    x = np.asarray(calibration["log_predicted_deg"], dtype=float)
    y = np.asarray(calibration["expected_deg"], dtype=float)
    return np.interp(np.log(np.maximum(pred, 1e-12)), x, y)


@torch.no_grad()
def held_out_predictions(
    checkpoint: Checkpoint,
    dataset,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: bool = True,
    flip: bool = False,
    rotations_deg: tuple[float, ...] = (),
) -> dict[str, np.ndarray]:
    """The raw predictions of an orientation checkpoint on labelled items, with the truth.

    Parameters
    ----------
    checkpoint
        An orientation checkpoint.
    dataset
        Items of the dataset contract (``pattern``, ``quaternion``, ``phase_id``,
        ``region``), map-style or iterable, e.g. a training run's ``validation`` data.
    batch_size, device
        How the network runs.
    progress
        Show a progress bar.
    flip, rotations_deg
        See each pattern through these test-time views, as
        :func:`~synthebsd.models.predict_orientations` does with them
        (:func:`~synthebsd.models.inference_views`, at the training PC).

    Returns
    -------
    columns
        ``error_deg`` (symmetry-aware disorientation to the truth, NaN without a phase),
        ``uncertainty_deg`` (raw, before any calibration), ``predicted_class``,
        ``region`` and ``phase_id``, one value per item; ``quaternion`` and
        ``true_quaternion`` (n, 4), and ``pc_bruker`` (n, 3) where the items have a ``pc``.
    """
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from synthebsd.models._inference import inference_views
    from synthebsd.models._rotation import symmetry_table
    from synthebsd.models._tasks import orientation_columns

    if checkpoint.task != "orientation":
        raise ValueError(f"Checkpoint {checkpoint.path} is a {checkpoint.task} model")
    device = torch.device(device)
    model = checkpoint.model.to(device)
    friedel = (checkpoint.metadata.get("symmetry") or {}).get("friedel", True)
    operators = torch.as_tensor(
        symmetry_table(checkpoint.phase_names, friedel), dtype=torch.float32, device=device
    )
    loader = DataLoader(dataset, batch_size=batch_size)
    batches = tqdm(loader, desc="held-out predictions", unit="batch", disable=not progress)
    views = inference_views(checkpoint, flip, rotations_deg)
    c = orientation_columns(model, batches, operators, device, views)
    error = np.where(c["pid"] >= 0, c["err"], np.nan)
    out = {
        "error_deg": error,
        "uncertainty_deg": c["unc"],
        "predicted_class": c["cls"],
        "region": c["reg"],
        "phase_id": c["pid"],
        "quaternion": c["q"].reshape(-1, 4),
        "true_quaternion": c["q_true"].reshape(-1, 4),
    }
    if "pc" in c:
        out["pc_bruker"] = c["pc"]
    return out
