"""A trained model applied to any pattern map ``kikuchipy.load`` opens (``synthebsd predict``).

:func:`predict_map` reads the map and its detector as :func:`index_map` does
(:func:`map_geometry`, :func:`detector_for_signal`), checks that the checkpoint fits them
(pattern shape and tilts: errors; projection centre and dose outside the range the model
was trained on: warnings, also written to the summary), predicts orientations, region
classes and uncertainties (optionally the classes of a segmentation checkpoint), and
writes an orix map, figures and ``summary.json``. With ``refine`` it also refines the
network's orientations as ``synthebsd evaluate``'s neural + refinement does (no
dictionary).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from synthebsd.analyze import nlpar_patterns, refine_orientations
from synthebsd.config import IndexingConfig
from synthebsd.io import load_patterns, save_crystal_map, save_json
from synthebsd.phases import get_phase_list
from synthebsd.viz import plot_class_map, plot_ipf_map, plot_score_map, plot_uncertainty_map
from synthebsd.workflows._index_map import (
    detector_for_signal,
    fitted_pc_summary,
    indexer_master_patterns,
    map_geometry,
    master_pattern_summary,
    preprocess_file_map,
)
from synthebsd.workflows._study_neural import in_phase_list, not_indexed_where

__all__ = ["predict_map"]


def _out_of_range_messages(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``fn()`` and the messages of the ``OutsideTrainingRangeWarning``s it issued, every
    warning handed on to the caller's filters."""
    from synthebsd.models import OutsideTrainingRangeWarning  # lazy: torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutsideTrainingRangeWarning)
        result = fn()
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, [
        str(w.message) for w in caught if issubclass(w.category, OutsideTrainingRangeWarning)
    ]


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
    refine: bool = False,
    energy_kv: float = 20.0,
    engine: Literal["dynamical", "kinematical"] = "dynamical",
    half_size_px: int | None = None,
    cache_dir: str | Path | None = None,
    refine_pc: Literal["none", "map", "pattern"] = "none",
    flip: bool | None = None,
) -> dict:
    """Predict an orientation map with a trained checkpoint and write the results.

    Parameters
    ----------
    checkpoint
        Orientation checkpoint (``.safetensors``, :func:`synthebsd.models.save_checkpoint`),
        or ``"shipped"`` for the package's default one.
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
    refine
        Also refine every point the network calls crystalline, whatever its predicted
        error, from its orientation (NCC on the background-corrected patterns, torch
        Levenberg–Marquardt with :class:`~synthebsd.config.IndexingConfig`'s settings
        for neural + refinement, the file's mean PC); points the refinement leaves below
        NCC ``min_dictionary_score`` (0.2) are not indexed. Writes ``neural_refined.h5``,
        ``neural_refined_ipf.png`` and ``neural_refined_score.png``.
    energy_kv, engine, half_size_px, cache_dir
        The refinement's master patterns, as in :func:`index_map`.
    refine_pc
        With ``refine``, also fit the projection centre, as in :func:`index_map`.
    flip
        Average each pattern with its left–right mirror
        (:func:`~synthebsd.models.predict_with_flip`, a warning when the PC is off the
        detector's middle column), and with the checkpoint's turned pairs if it has
        them; False: neither; None: as the checkpoint was calibrated (``test_time_flip``,
        ``test_time_rotations_deg``).

    Returns
    -------
    summary
        What ``summary.json`` holds: file, checkpoint (model, phases, forward-model key,
        coverage), map shape and steps, fraction indexed (overall and per phase),
        fraction per predicted class, median predicted error of indexed points, the
        test-time views used, patterns per second, the detector used, the estimated
        dose, and the warnings issued; with ``refine``, ``refined`` (fraction indexed,
        median NCC, seconds by stage, patterns per second of network and refinement
        together, master patterns).

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

    if refine and engine not in ("dynamical", "kinematical"):
        raise ValueError(f"engine must be 'dynamical' or 'kinematical', got {engine!r}")
    if refine_pc not in ("none", "map", "pattern"):
        raise ValueError(f"refine_pc must be 'none', 'map' or 'pattern', got {refine_pc!r}")
    checkpoint = models.resolve_checkpoint(checkpoint)
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
    one_pc = detector.deepcopy()  # the refinement's, as index's: the map's mean PC
    if pc_bruker is None:  # the file's own (possibly per-pattern) PCs decide the range
        detector.pc = np.asarray(signal.detector.pc, dtype=float).reshape(-1, 3)

    def check_inputs() -> float:
        ck.check_detector(detector)
        dose = models.map_dose_counts(signal)
        ck.check_dose(dose)
        if seg is not None:
            seg.check_detector(detector)
        return dose

    dose, messages = _out_of_range_messages(check_inputs)

    nlpar_info, averaged = None, signal
    if nlpar_search_radius is not None:
        averaged, nlpar_info = nlpar_patterns(signal, nlpar_search_radius)
    t0 = time.perf_counter()
    regions = None
    if seg is not None:
        if like.ndim != 2:
            raise ValueError("A segmentation checkpoint needs a 2-D map")
        regions = models.predict_regions(seg, signal, batch_size=batch_size, device=device)
    # every point the network calls crystalline (the refinement's starts), then the cut
    start, flip_messages = _out_of_range_messages(  # the flip warns off the middle column
        lambda: models.predict_orientations(
            ck, averaged, like=like, batch_size=batch_size, device=device,
            max_uncertainty_deg=np.inf, regions=regions, pc_bruker=detector.pc, flip=flip,
        )
    )  # fmt: skip
    messages += flip_messages
    flipped = "flip_angle_deg" in start.prop
    threshold = float(
        ck.max_uncertainty_deg if max_uncertainty_deg is None else max_uncertainty_deg
    )
    xmap = not_indexed_where(start, np.asarray(start.prop["uncertainty_deg"]) > threshold)
    seconds = time.perf_counter() - t0
    refined = None
    if refine:
        refined = _refine(
            start, signal, one_pc, energy_kv, engine, half_size_px, cache_dir, device,
            refine_pc, seconds,
        )  # fmt: skip

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_crystal_map(xmap, out / "neural.h5")
    label = f"{ck.metadata['model']['name']}, {path.name}"
    plot_ipf_map(xmap, out / "neural_ipf.png", f"{label} (IPF-Z)")
    plot_uncertainty_map(
        xmap, out / "neural_uncertainty.png", f"{label}: predicted error", threshold
    )
    plot_class_map(xmap, out / "neural_classes.png", f"{label}: predicted classes")
    if refined is not None:
        save_crystal_map(refined["xmap"], out / "neural_refined.h5")
        title = f"{label} + refinement"
        plot_ipf_map(refined["xmap"], out / "neural_refined_ipf.png", f"{title} (IPF-Z)")
        plot_score_map(
            refined["xmap"], "scores", out / "neural_refined_score.png", f"{title}: NCC"
        )

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
        "test_time_flip": flipped,
        "test_time_rotations_deg": list(ck.test_time_rotations_deg) if flipped else [],
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
        "refined": None if refined is None else refined["summary"],
    }
    save_json(summary, out / "summary.json")
    return summary


def _refine(
    start, signal, detector, energy_kv, engine, half_size_px, cache_dir, device, refine_pc,
    network_s,
):  # fmt: skip
    """Neural + refinement: the study's settings, from every crystalline start; its rate
    counts the network's ``network_s`` too."""
    cfg = IndexingConfig(device=device, refine_pc=refine_pc)
    present = np.unique(start.phase_id[start.phase_id >= 0])
    by_id = {pid: phase.name for pid, phase in start.phases}
    names = [by_id[int(pid)] for pid in present]
    if not names:
        raise ValueError("refine: the network calls no point of the map crystalline")
    phase_list = get_phase_list(names)  # the predicted phases only: master patterns
    begin = in_phase_list(start, phase_list, start)
    t0 = time.perf_counter()
    patterns, static_bg = preprocess_file_map(signal)
    preprocess_s = time.perf_counter() - t0
    mps = indexer_master_patterns(
        phase_list, detector, energy_kv, engine, half_size_px, cache_dir, smooth=True
    )
    kwargs = cfg.neural_refine_kwargs(detector.shape)
    res = refine_orientations(
        patterns,
        begin,
        mps,
        detector,
        energy_kv,
        cfg.refine_trust_region_deg,
        cfg.refine_initial_step_deg,
        cfg.neural_refine_pseudo_symmetry,
        **kwargs,
    )
    scores = np.asarray(res.xmap.prop["scores"], dtype=float)
    xmap = not_indexed_where(res.xmap, ~(scores >= cfg.min_dictionary_score))
    indexed = xmap.phase_id >= 0
    seconds = {"network_s": network_s, "preprocess_s": preprocess_s, "refine_s": res.seconds}
    summary = {
        "fraction_indexed": float(indexed.mean()),
        "median_ncc_indexed": float(np.median(scores[indexed])) if indexed.any() else None,
        "min_ncc": cfg.min_dictionary_score,
        "seconds_by_stage": seconds,
        "patterns_per_second": start.size / sum(seconds.values()),
        "static_background": static_bg,
        "energy_kv": float(energy_kv),
        "master_patterns": master_pattern_summary(phase_list, engine, half_size_px, True),
        "refined_pc": fitted_pc_summary(res.detector, refine_pc),
        "coarse_steps": cfg.neural_refine_coarse_steps,
        "coarse_binning": kwargs["coarse_binning"],
        "pseudo_symmetry": cfg.neural_refine_pseudo_symmetry,
    }
    return {"xmap": xmap, "summary": summary}
