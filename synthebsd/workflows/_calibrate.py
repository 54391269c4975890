"""``synthebsd calibrate CHECKPOINT CONFIG --out DIR``: the predicted error of an
orientation checkpoint calibrated on held-out patterns.

:func:`calibrate_run` runs the checkpoint on the ``validation`` data of a training run
configuration (patterns it was not trained on), fits the isotonic map from its predicted
to the observed error (:func:`synthebsd.models.fit_uncertainty_calibration`) and writes

- ``model.safetensors``: the same weights with ``uncertainty_calibration`` in their
  metadata (a calibration already there is replaced: the fit is on the raw head);
- ``calibration_raw.png`` and ``calibration.png``: observed against predicted error,
  before and after;
- ``summary.json``: the held-out metrics before and after (the after values are
  in-sample: judge the calibration on other held-out data, e.g. ``synthebsd evaluate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthebsd.config import TrainRunConfig
from synthebsd.io import save_json

__all__ = ["calibrate_run"]


def calibrate_run(
    checkpoint: str | Path,
    config: TrainRunConfig,
    out_dir: str | Path,
    *,
    batch_size: int = 256,
    device: str = "cpu",
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Calibrate a checkpoint's predicted error on a run's held-out data.

    Parameters
    ----------
    checkpoint
        An orientation checkpoint (``"shipped"`` for the shipped one).
    config
        A training run configuration; its ``validation`` data are used.
    out_dir
        Output folder (created).
    batch_size, device
        How the network runs.
    progress
        Show progress.
    cache_dir
        Master-pattern cache; default ``$SYNTHEBSD_CACHE`` or ``~/.cache/synthebsd``.

    Returns
    -------
    summary
        What ``summary.json`` holds.

    Raises
    ------
    ValueError
        If the configuration has no ``validation`` data, the checkpoint is not an
        orientation model or does not fit the data's detector shape or phases, or there
        are too few held-out points with an orientation.
    """
    from synthebsd import models  # lazy: torch
    from synthebsd.viz import plot_calibration  # lazy: matplotlib
    from synthebsd.workflows._train import build_training_data

    if config.validation is None:
        raise ValueError("calibrate needs held-out data: the run config has no 'validation'")
    path = models.resolve_checkpoint(checkpoint)
    ck = models.load_checkpoint(path, device=device)
    if ck.task != "orientation":
        raise models.IncompatibleInputError(f"{path} is a {ck.task} checkpoint, not orientation")
    data = build_training_data(config.validation, cache_dir)
    ck.check_patterns(tuple(data.detector.shape))
    ck.check_phases(list(data.phase_names.values()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    cols = models.held_out_predictions(ck, data, batch_size, device, progress)
    has = cols["phase_id"] >= 0
    calibration = models.fit_uncertainty_calibration(
        cols["uncertainty_deg"][has], cols["error_deg"][has]
    )
    part = config.validation
    calibration["data"] = {
        "store": None if part.store is None else str(part.store),
        "seed": part.seed if part.store is None else None,
        "max_patterns": part.max_patterns,
        "forward_model_key": getattr(data, "forward_model_key", None),
    }
    calibrated = models.apply_uncertainty_calibration(calibration, cols["uncertainty_deg"])
    threshold = ck.max_uncertainty_deg
    metrics = {
        name: models.orientation_metrics(
            np.nan_to_num(cols["error_deg"], nan=180.0),
            unc,
            cols["predicted_class"],
            cols["region"],
            cols["phase_id"],
            threshold,
        )
        for name, unc in (("raw", cols["uncertainty_deg"]), ("calibrated", calibrated))
    }
    written = models.save_checkpoint(
        out / "model.safetensors",
        ck.model,
        {**ck.metadata, "uncertainty_calibration": calibration},
    )
    err = cols["error_deg"][has]
    plot_calibration(
        cols["uncertainty_deg"][has], err, out / "calibration_raw.png", "held out, raw head"
    )
    plot_calibration(calibrated[has], err, out / "calibration.png", "held out, calibrated")
    summary = {
        "checkpoint": str(path),
        "calibrated_checkpoint": str(written),
        "n_points": int(cols["phase_id"].size),
        "n_fitted": calibration["n_points"],
        "n_steps": len(calibration["expected_deg"]),
        "metrics_in_sample": metrics,
    }
    save_json(summary, out / "summary.json")
    return summary
