"""One indexing run against ground truth, shared by the benchmark and the in-situ run.

A run renders a ground-truth map with a forward model of the study
(:mod:`synthebsd.workflows._forward_models`), indexes the patterns with every method (the
study's :func:`~synthebsd.workflows._study.index_methods`; the neural model and neural +
refinement when a checkpoint is given), writes the truth and every method's map, and
scores the maps **as read back from those files** with
:func:`~synthebsd.analyze.method_metrics`, so that every number can be recomputed from
the files.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from synthebsd.analyze import method_metrics, nlpar_patterns, preprocess_patterns
from synthebsd.analyze.indexing import IndexingResult
from synthebsd.config import StudyConfig
from synthebsd.io import load_crystal_map, save_crystal_map, save_patterns
from synthebsd.simulate import PatternModel, simulate_patterns
from synthebsd.workflows._forward_models import IndexerModel, forward_model, indexer_model
from synthebsd.workflows._study import charge_preprocessing, index_methods
from synthebsd.workflows._study_neural import neural_rows

__all__ = ["index_run", "score_run"]

#: Grain reconstruction settings of every scored map (recorded with the results).
GRAIN_SETTINGS = {"grain_threshold_deg": 5.0, "grain_connectivity": 1, "min_grain_px": 1}


def _neural(
    checkpoint_path: Path,
    signal,
    patterns,
    im: IndexerModel,
    config: StudyConfig,
    truth,
    methods: tuple[str, ...],
) -> tuple[dict[str, IndexingResult], str | None]:
    """The study's neural rows (:func:`~synthebsd.workflows._study_neural.neural_rows`).

    A checkpoint that does not fit this run (e.g. one trained on Li in a grid that also
    holds Na cells) gives no rows and the reason, with a warning: a grid point without
    the network is not a point where the network scored 0.
    """
    indexing = config.indexing.model_copy(
        update={
            "neural_checkpoint": str(checkpoint_path),
            "neural_refine": "neural_refined" in methods,
        }
    )
    run = config.model_copy(update={"indexing": indexing})
    rows, info = neural_rows(signal, patterns, im, run, truth)
    from synthebsd.models import OutsideTrainingRangeWarning  # lazy: torch

    for message in info["warnings"]:
        warnings.warn(message, OutsideTrainingRangeWarning, stacklevel=2)
    if info["skipped"]:
        warnings.warn(f"neural rows of {checkpoint_path} skipped: {info['skipped']}", stacklevel=2)
    return rows, info["skipped"]


def index_run(
    config: StudyConfig,
    truth,
    forward: str,
    methods: tuple[str, ...],
    checkpoint: Path | None = None,
    cache_dir: str | Path | None = None,
    prior_dose: np.ndarray | None = None,
    patterns_path: Path | None = None,
) -> tuple[dict[str, IndexingResult], IndexerModel, dict[str, Any]]:
    """Render ``truth`` with one forward model and index it with every method.

    Parameters
    ----------
    config
        The run's study configuration (pattern physics, indexer model, indexing).
    truth
        Ground-truth map.
    forward
        ``realistic`` or ``matched`` (:func:`~synthebsd.workflows._forward_models.forward_model`).
    methods
        Subset of :data:`~synthebsd.config.METHODS`.
    checkpoint
        Orientation checkpoint for ``neural`` and ``neural_refined``.
    cache_dir
        Master-pattern cache folder.
    prior_dose
        Dose (e/nm²) each map point received before this scan (flat, C order), added to
        the scan's own cumulative dose; needs beam damage on.
    patterns_path
        Also write the raw patterns there (kikuchipy h5ebsd).

    Returns
    -------
    results, indexer, info
        Each method's result (the time of Hough, the dictionary and neural +
        refinement includes the preprocessing once), the indexer model, and ``render_s``,
        ``render_patterns_per_second``, ``dose_e_per_nm2`` (the dose of each point during
        its exposure, or None without damage), ``neural_skipped`` (why a checkpoint gave
        no rows, or None).
    """
    im = indexer_model(config, truth, cache_dir=cache_dir)
    fm = forward_model(forward, config, truth, im, cache_dir)
    energy = config.detector.energy_kv
    t = time.perf_counter()
    model = PatternModel(truth, fm.master_patterns, fm.detector, config.patterns, energy)
    if prior_dose is not None:
        if model.dose is None:
            raise ValueError("A prior dose needs beam damage on (patterns.damage.enabled)")
        prior = np.asarray(prior_dose, dtype=float).ravel()
        if prior.size != truth.size:
            raise ValueError(f"prior_dose has {prior.size} values for {truth.size} points")
        model.dose = model.dose + prior
    signal = simulate_patterns(
        truth, fm.master_patterns, fm.detector, config.patterns, energy, config.seed, model=model
    )
    signal.compute(show_progressbar=False)
    render_s = time.perf_counter() - t
    if patterns_path is not None:
        save_patterns(signal, patterns_path)
    if config.indexing.nlpar:  # every method, the network too, gets the averaged patterns
        signal, _ = nlpar_patterns(signal, **config.indexing.nlpar_kwargs())
    t = time.perf_counter()
    patterns = preprocess_patterns(signal)
    preprocess_s = time.perf_counter() - t
    results = index_methods(patterns, im, config, truth, with_hough="hough" in methods)
    neural_skipped = None
    if checkpoint is not None and "neural" in methods:
        rows, neural_skipped = _neural(checkpoint, signal, patterns, im, config, truth, methods)
        results |= rows
    charge_preprocessing(results, preprocess_s)
    info = {
        "neural_skipped": neural_skipped,
        "render_s": render_s,
        "render_patterns_per_second": truth.size / render_s if render_s > 0 else None,
        "dose_e_per_nm2": None if model.dose is None else model.dose.copy(),
    }
    return results, im, info


def score_run(
    truth,
    results: dict[str, IndexingResult],
    im: IndexerModel,
    out_dir: Path,
) -> dict[str, dict[str, Any]]:
    """Write ``truth.h5`` and ``<method>.h5``, read them back and score every method.

    Returns
    -------
    methods
        Per method :func:`~synthebsd.analyze.method_metrics` of the maps as read from
        the files, plus ``seconds`` and ``patterns_per_second`` of its indexing step.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    save_crystal_map(truth, out_dir / "truth.h5")
    truth_read = load_crystal_map(out_dir / "truth.h5")
    scored = {}
    for name, res in results.items():
        save_crystal_map(res.xmap, out_dir / f"{name}.h5")
        xmap = load_crystal_map(out_dir / f"{name}.h5")
        scored[name] = method_metrics(
            truth_read, xmap, candidate_phases=im.phase_names, **GRAIN_SETTINGS
        ) | {"seconds": res.seconds, "patterns_per_second": res.patterns_per_second}
    return scored
