"""``synthebsd calibrate CHECKPOINT CONFIG --out DIR``: an orientation checkpoint
calibrated on held-out patterns.

:func:`calibrate_run` runs the checkpoint on the ``validation`` data of a training run
configuration (patterns it was not trained on), optionally fits the rotation that each
pattern's projection-centre offset makes the network read
(:func:`synthebsd.models.fit_pc_correction`), then the isotonic map from its predicted
error to the error observed (after that correction)
(:func:`synthebsd.models.fit_uncertainty_calibration`) and writes

- ``model.safetensors``: the same weights with ``uncertainty_calibration`` (and
  ``pc_correction``) in their metadata (calibrations already there are replaced: both
  fits are on the raw network);
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
    pc_correction: bool = False,
    flip: bool = False,
    rotations_deg: tuple[float, ...] = (),
) -> dict[str, Any]:
    """Calibrate a checkpoint's orientations and predicted error on a run's held-out data.

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
    pc_correction
        Also fit the PC correction first (needs items with a ``pc``; the held-out data
        should span many scenes, whose PCs differ). It pays where maps lie far from the
        training PC and their PC is known well: the held-out items give the network their
        exact PC, so the predicted error fitted after it leaves out the error of a PC
        calibration. False (the default) drops any correction the checkpoint had.
    flip
        Fit on predictions averaged with each pattern's left–right mirror
        (:func:`~synthebsd.models.predict_with_flip`) and mark the checkpoint so
        (``test_time_flip``), so that its predictions do the same. Needs a training PC
        on the detector's middle column (PCx within 0.02 of 0.5).
    rotations_deg
        With ``flip``, also average the flip pairs of each pattern turned by these angles
        (degrees) about the PC (:class:`~synthebsd.models.InferenceViews`), and mark the
        checkpoint so (``test_time_rotations_deg``).

    Returns
    -------
    summary
        What ``summary.json`` holds.

    Raises
    ------
    ValueError
        If the configuration has no ``validation`` data, the checkpoint is not an
        orientation model or does not fit the data's detector shape or phases, there
        are too few held-out points with an orientation, a PC correction is asked for
        and the items carry no PC, or the flip is asked for off the middle column.
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
    rotations_deg = tuple(float(r) for r in rotations_deg)
    if rotations_deg and not flip:
        raise ValueError("Turned views come in flip pairs: --rotations needs --flip")
    pc_x = float(ck.metadata["detector"]["pc_bruker"][0])
    if flip and abs(pc_x - 0.5) > models.FLIP_PC_TOLERANCE:
        raise ValueError(
            f"The test-time flip needs the pattern centre on the detector's middle column; "
            f"this checkpoint was trained at PCx = {pc_x:.3f}"
        )
    data = build_training_data(config.validation, cache_dir)
    ck.check_patterns(tuple(data.detector.shape))
    ck.check_phases(list(data.phase_names.values()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    cols = models.held_out_predictions(ck, data, batch_size, device, progress, flip, rotations_deg)
    has = cols["phase_id"] >= 0
    part = config.validation
    source = {
        "store": None if part.store is None else str(part.store),
        "seed": part.seed if part.store is None else None,
        "max_patterns": part.max_patterns,
        "forward_model_key": getattr(data, "forward_model_key", None),
    }
    metadata = {k: v for k, v in ck.metadata.items() if k != "pc_correction"}
    metadata["test_time_flip"] = flip
    metadata["test_time_rotations_deg"] = list(rotations_deg)
    raw_error_deg = np.nan_to_num(cols["error_deg"], nan=180.0)
    error_deg = raw_error_deg.copy()  # after the PC correction, if one is fitted
    skipped = None if pc_correction else "not asked for"
    if pc_correction:
        if "pc_bruker" not in cols:
            raise ValueError("The held-out items carry no 'pc': no PC correction can be fitted")
        try:
            fit = _fit_pc_correction(ck, cols, has)
        except models.TooFewPointsError as e:  # a network this far off has no PC effect to fit
            skipped = str(e)
        else:
            metadata["pc_correction"] = fit["correction"] | {"data": source}
            error_deg[has] = fit["error_deg"]
    calibration = models.fit_uncertainty_calibration(cols["uncertainty_deg"][has], error_deg[has])
    calibration["data"] = source
    calibrated = models.apply_uncertainty_calibration(calibration, cols["uncertainty_deg"])
    threshold = ck.max_uncertainty_deg
    metrics = {
        name: models.orientation_metrics(
            raw_error_deg if name == "raw" else error_deg,
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
        {**metadata, "uncertainty_calibration": calibration},
    )
    plot_calibration(
        cols["uncertainty_deg"][has],
        cols["error_deg"][has],
        out / "calibration_raw.png",
        "held out, raw network",
    )
    title = "held out, PC-corrected and calibrated" if pc_correction else "held out, calibrated"
    plot_calibration(calibrated[has], error_deg[has], out / "calibration.png", title)
    summary = {
        "checkpoint": str(path),
        "calibrated_checkpoint": str(written),
        "n_points": int(cols["phase_id"].size),
        "n_fitted": calibration["n_points"],
        "n_steps": len(calibration["expected_deg"]),
        "pc_correction": metadata.get("pc_correction"),
        "pc_correction_skipped": skipped,
        "test_time_flip": flip,
        "test_time_rotations_deg": list(rotations_deg),
        "metrics_in_sample": metrics,
    }
    save_json(summary, out / "summary.json")
    return summary


def _fit_pc_correction(ck, cols: dict[str, np.ndarray], has: np.ndarray) -> dict[str, Any]:
    """The checkpoint's PC correction fitted on the held-out points with an orientation,
    and those points' disorientations after it (degrees)."""
    from synthebsd import models  # lazy: torch

    correction, error_deg = models.fit_pc_correction(
        cols["quaternion"][has],
        cols["true_quaternion"][has],
        cols["phase_id"][has],
        cols["pc_bruker"][has],
        ck.phase_names,
        tuple(ck.metadata["detector"]["pc_bruker"]),
        (ck.metadata.get("symmetry") or {}).get("friedel", True),
        return_errors=True,
    )
    return {"correction": correction, "error_deg": error_deg}
