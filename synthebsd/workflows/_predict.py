"""A trained model applied to any pattern map ``kikuchipy.load`` opens (``synthebsd predict``).

:func:`predict_map` reads the map and its detector as :func:`index_map` does
(:func:`map_geometry`, :func:`detector_for_signal`), checks that the checkpoint fits them
(pattern shape and tilts: errors; projection centre and dose outside the range the model
was trained on: warnings, also written to the summary), predicts orientations, region
classes and uncertainties (optionally the classes of a segmentation checkpoint), and
writes an orix map, figures and ``summary.json``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from synthebsd.analyze import nlpar_patterns
from synthebsd.io import load_patterns, save_crystal_map, save_json
from synthebsd.viz import plot_class_map, plot_ipf_map, plot_uncertainty_map
from synthebsd.workflows._index_map import detector_for_signal, map_geometry

__all__ = ["predict_map"]


def predict_map(
    checkpoint: str | Path,
    path: str | Path,
    out_dir: str | Path = "predict-output",
    segmentation: str | Path | None = None,
    pc_bruker: tuple[float, float, float] | None = None,
    sample_tilt_deg: float | None = None,
    max_uncertainty_deg: float | None = None,
    batch_size: int = 512,
    device: str = "cpu",
    nlpar_search_radius: int | None = None,
) -> dict:
    """Predict an orientation map with a trained checkpoint and write the results.

    Parameters
    ----------
    checkpoint
        Orientation checkpoint (``.safetensors``, :func:`synthebsd.models.save_checkpoint`).
    path
        Any pattern file :func:`kikuchipy.load` reads, 1-D or 2-D navigation; raw counts.
    out_dir
        Output folder (created if missing).
    segmentation
        Optional segmentation checkpoint: its classes (with spatial context) replace the
        orientation model's, 2-D maps only.
    pc_bruker, sample_tilt_deg
        Override the file's projection centre (Bruker) and sample tilt, as in
        :func:`index_map`.
    max_uncertainty_deg
        Predicted error in degrees above which a point is not indexed; default the
        checkpoint's.
    batch_size
        Patterns per forward pass.
    device
        torch device (``"cpu"``, ``"cuda"``, ...).
    nlpar_search_radius
        The orientation network reads the patterns after NLPAR within this many map
        points (:func:`~synthebsd.analyze.nlpar_patterns`, λ fitted on the map), as for
        low-dose maps; a segmentation checkpoint still reads the raw ones (its pattern
        statistics describe single patterns). None: no averaging. Needs a 2-D map.

    Returns
    -------
    summary
        What ``summary.json`` holds: file, checkpoint (model, phases, forward-model key,
        coverage), map shape and steps, fraction indexed (overall and per phase),
        fraction per predicted class, median predicted error of indexed points, patterns
        per second, the detector used, the estimated dose, and the warnings issued.

    Raises
    ------
    FileNotFoundError
        If the pattern file or a checkpoint does not exist.
    ValueError
        If a file cannot be read, a checkpoint is corrupt
        (:class:`~synthebsd.models.CheckpointError`) or does not fit the patterns or
        detector (:class:`~synthebsd.models.IncompatibleInputError`).
    """
    from synthebsd import models  # lazy: synthebsd.models imports torch

    ck = models.load_checkpoint(checkpoint, device=device)
    if ck.task != "orientation":
        raise ValueError(
            f"{checkpoint} is a {ck.task} checkpoint; predict needs an orientation one"
        )
    seg = models.load_checkpoint(segmentation, device=device) if segmentation else None
    path = Path(path)
    signal = load_patterns(path, lazy=True)
    like = map_geometry(signal)
    detector, det_info = detector_for_signal(signal, pc_bruker, sample_tilt_deg)
    if pc_bruker is None:  # the file's own (possibly per-pattern) PCs decide the range
        detector.pc = np.asarray(signal.detector.pc, dtype=float).reshape(-1, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", models.OutsideTrainingRangeWarning)
        ck.check_detector(detector)
        dose = models.map_dose_counts(signal)
        ck.check_dose(dose)
        if seg is not None:
            seg.check_detector(detector)
    messages = [
        str(w.message)
        for w in caught
        if issubclass(w.category, models.OutsideTrainingRangeWarning)
    ]
    for w in caught:  # hand them on to the caller's filters
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    nlpar_info, averaged = None, signal
    if nlpar_search_radius is not None:
        averaged, nlpar_info = nlpar_patterns(signal, nlpar_search_radius)
    t0 = time.perf_counter()
    regions = None
    if seg is not None:
        if like.ndim != 2:
            raise ValueError("A segmentation checkpoint needs a 2-D map")
        regions = models.predict_regions(seg, signal, batch_size=batch_size, device=device)
    xmap = models.predict_orientations(
        ck, averaged, like=like, batch_size=batch_size, device=device,
        max_uncertainty_deg=max_uncertainty_deg, regions=regions, pc_bruker=detector.pc,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    threshold = float(
        ck.max_uncertainty_deg if max_uncertainty_deg is None else max_uncertainty_deg
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_crystal_map(xmap, out / "neural.h5")
    label = f"{ck.metadata['model']['name']}, {path.name}"
    plot_ipf_map(xmap, out / "neural_ipf.png", f"{label} (IPF-Z)")
    plot_uncertainty_map(
        xmap, out / "neural_uncertainty.png", f"{label}: predicted error", threshold
    )
    plot_class_map(xmap, out / "neural_classes.png", f"{label}: predicted classes")

    indexed = xmap.phase_id >= 0
    unc = np.asarray(xmap.prop["uncertainty_deg"], dtype=float)
    classes = np.asarray(xmap.prop["region"])
    summary = {
        "file": str(path.resolve()),
        "checkpoint": {
            "path": str(Path(checkpoint).resolve()),
            "model": ck.metadata["model"]["name"],
            "phases": ck.phase_names,
            "forward_model_key": ck.metadata.get("forward_model_key"),
            "coverage": ck.metadata.get("coverage"),
            "weights_sha256": ck.metadata.get("weights_sha256"),
            "uncertainty_calibrated": ck.uncertainty_calibration is not None,
        },
        "segmentation_checkpoint": str(Path(segmentation).resolve()) if segmentation else None,
        "n_patterns": int(xmap.size),
        "map_shape": list(like.shape),
        "step_sizes": [float(like.dy), float(like.dx)] if like.ndim == 2 else [float(like.dx)],
        "scan_unit": like.scan_unit,
        "max_uncertainty_deg": threshold,
        "fraction_indexed": float(indexed.mean()),
        "fraction_per_phase": {
            name: float((xmap.phase_id == pid).mean()) for pid, name in ck.phase_names.items()
        },
        "fraction_per_class": {
            name: float((classes == code).mean())
            for code, name in enumerate(models.CLASS_NAMES)
            if code < 4 or (classes == code).any()
        },
        "median_uncertainty_deg_indexed": float(np.median(unc[indexed]))
        if indexed.any()
        else None,
        "seconds": seconds,
        "patterns_per_second": xmap.size / seconds if seconds > 0 else None,
        "detector": det_info,
        "dose_counts_estimated": dose,
        "nlpar": nlpar_info,
        "warnings": messages,
        "device": str(device),
    }
    save_json(summary, out / "summary.json")
    return summary
