"""The end-to-end method-validation study: scene → patterns → indexing → errors vs truth.

Each method is scored on patterns that a richer model made than the one it is given (no
inverse crime, :mod:`synthebsd.workflows._forward_models`): the ``realistic`` forward
model renders the truth, the ``indexer`` model is what a user has. The ``matched`` forward
model (patterns from the indexer's own model) is run beside it, so that the cost of the
mismatch is a number. :func:`run_study` writes into one folder:

- ``truth.h5``: the ground truth (orix); ``pattern_truth.h5``: per pattern the projection
  centre, the diffracting phase and point (a pore's floor), dose and mixing weights;
- ``patterns.h5`` (realistic) and ``patterns_matched.h5``: noisy patterns (kikuchipy
  h5ebsd); with ``indexing.nlpar`` also ``patterns_nlpar.h5`` (and
  ``patterns_matched_nlpar.h5``), the same after non-local pattern averaging, which every
  method then indexes;
- ``<method>.h5`` for ``hough``, ``dictionary``, ``refined``, ``neural`` and
  ``neural_refined`` (a trained checkpoint, ``IndexingConfig.neural_checkpoint``; realistic),
  ``*_kinematical`` (the kinematical shortcut, realistic) and ``*_matched``: orix maps;
- ``summary.json``: per method the errors in degrees, success fractions, pores and
  electrolyte given an orientation, patterns per second, the forward and indexer models;
- PNG figures: IPF maps of truth and each method, error maps, an error histogram, the
  realistic-against-matched comparison, the dose map when beam damage is on;
- ``config.yaml``: the configuration that made all of it (``--config`` re-runs it).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import h5py
import numpy as np
import yaml

from synthebsd import __version__
from synthebsd.analyze import (
    IndexingResult,
    dictionary_index,
    hough_index,
    indexing_summary,
    nlpar_patterns,
    orientation_error_map,
    preprocess_patterns,
    refine_orientations,
)
from synthebsd.config import StudyConfig
from synthebsd.conventions import SCENE_STREAM, stream_rng
from synthebsd.io import atomic_path, load_patterns, save_crystal_map, save_json, save_patterns
from synthebsd.simulate import (
    PatternModel,
    generate_microstructure,
    pattern_ground_truth,
    simulate_patterns,
)
from synthebsd.viz import (
    plot_dose_map,
    plot_error_histogram,
    plot_error_map,
    plot_ipf_key,
    plot_ipf_map,
    plot_method_comparison,
    plot_region_map,
)
from synthebsd.workflows._forward_models import IndexerModel, forward_model, indexer_model
from synthebsd.workflows._study_neural import neural_rows

__all__ = ["format_summary", "index_methods", "run_study"]


def _save_pattern_truth(truth, model: PatternModel, out: Path) -> None:
    """Add the pattern physics' ground truth to ``truth`` and write it (see module doc)."""
    gt = pattern_ground_truth(model)
    for key in (
        "dose_e_per_nm2",
        "damage_fraction",
        "contrast_factor",
        "mixing_self_weight",
        "mixing_same_grain_weight",
    ):
        if key in gt:
            truth.prop[key] = np.asarray(gt[key], dtype=np.float64)
    save_crystal_map(truth, out / "truth.h5")
    with atomic_path(out / "pattern_truth.h5") as tmp, h5py.File(tmp, "w") as f:
        for key, value in gt.items():
            f.create_dataset(key, data=np.asarray(value))
        f.attrs["map_shape"] = truth.shape
        f.attrs["order"] = "points in C order (row by row); offsets in map cells (row, col)"
    if model.dose is not None:
        plot_dose_map(truth, model.dose, out / "truth_dose.png")


#: Share of ``indexing.memory_budget_gib`` that preprocessed patterns may take in memory;
#: a larger map stays lazy and every method corrects its chunks again.
IN_MEMORY_SHARE = 0.25
#: Pipelines that start from the preprocessed patterns; each is charged the
#: preprocessing once (``refined*`` continue the dictionary's pipeline, ``neural`` reads
#: the raw patterns).
PREPROCESSED_PIPELINES = ("hough", "dictionary", "neural_refined")


def charge_preprocessing(results: dict[str, IndexingResult], seconds: float) -> None:
    """Add the preprocessing time to every pipeline that starts from its output.

    The patterns are corrected once and shared, so each pipeline's rate holds that
    work once, as if it ran alone (``timings["preprocess_s"]`` records the share).
    """
    for name, res in results.items():
        if name.startswith(PREPROCESSED_PIPELINES):
            res.seconds += seconds
            res.timings = {**res.timings, "preprocess_s": seconds}


def _stage(name: str) -> float:
    print(f"[synthebsd] {name} ...", flush=True)
    return time.perf_counter()


def _nlpar(path: Path, config: StudyConfig) -> tuple[Path, dict]:
    """NLPAR of the patterns in ``path`` into ``<stem>_nlpar.h5``: its path, and λ, the
    search radius and the seconds it took (:func:`~synthebsd.analyze.nlpar_patterns`)."""
    cfg = config.indexing
    _stage(f"NLPAR (PyEBSDIndex, search radius {cfg.nlpar_search_radius}) of {path.name}")
    averaged, info = nlpar_patterns(load_patterns(path, lazy=True), **cfg.nlpar_kwargs())
    target = path.with_name(f"{path.stem}_nlpar.h5")
    save_patterns(averaged, target)
    return target, info | {"patterns": target.name}


def run_study(
    config: StudyConfig | None = None,
    out_dir: str | Path = "demo-output",
    cache_dir: str | Path | None = None,
) -> dict:
    """Run the end-to-end study and write its outputs to ``out_dir``.

    Parameters
    ----------
    config
        Study configuration; default :class:`~synthebsd.config.StudyConfig`.
    out_dir
        Output folder (created if missing; files in it are replaced atomically).
    cache_dir
        Master-pattern cache folder; default ``$SYNTHEBSD_CACHE`` or ``~/.cache/synthebsd``.

    Returns
    -------
    summary
        The dictionary written to ``summary.json``.
    """
    config = config or StudyConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    timings: dict[str, float] = {}
    energy = config.detector.energy_kv

    t = _stage("scene")
    truth = generate_microstructure(config.scene, stream_rng(config.seed, SCENE_STREAM))
    save_crystal_map(truth, out / "truth.h5")
    plot_ipf_map(truth, out / "truth_ipf.png", "Ground truth (IPF-Z)")
    plot_ipf_key(truth, out / "ipf_key.png")
    layers = ("collector", "metal", "electrolyte")
    plot_region_map(
        truth,
        out / "truth_regions.png",
        {name: getattr(config.scene, name).phase for name in layers},
    )
    timings["scene_s"] = time.perf_counter() - t

    t = _stage("master patterns (truth and indexer models)")
    index_models = {"": indexer_model(config, truth, cache_dir=cache_dir)}
    if (
        config.indexing.dictionary
        and config.indexing.kinematical_dictionary
        and (config.indexer.engine or config.master_pattern.engine) != "kinematical"
    ):
        index_models["_kinematical"] = indexer_model(
            config, truth, "kinematical", cache_dir=cache_dir, candidates_only=True
        )
    exact = indexer_model(config, truth, exact_pc=True, cache_dir=cache_dir)
    forward = {
        name: forward_model(name, config, truth, index_models[""], cache_dir)
        for name in config.forward_models
    }
    timings["master_patterns_s"] = time.perf_counter() - t

    results: dict[str, tuple[IndexingResult, str, IndexerModel]] = {}
    neural_info: dict | None = None
    nlpar_info: dict[str, dict] = {}
    for name, fm in forward.items():
        suffix = "" if name == "realistic" else f"_{name}"
        t = _stage(f"rendering {truth.size} patterns ({name} forward model)")
        model = PatternModel(truth, fm.master_patterns, fm.detector, config.patterns, energy)
        lazy = simulate_patterns(
            truth,
            fm.master_patterns,
            fm.detector,
            config.patterns,
            energy,
            config.seed,
            model=model,
        )
        save_patterns(lazy, out / f"patterns{suffix}.h5")
        if name == "realistic":
            _save_pattern_truth(truth, model, out)
        timings[f"patterns{suffix}_s"] = time.perf_counter() - t
        source = out / f"patterns{suffix}.h5"
        if config.indexing.nlpar:
            source, nlpar_info[name] = _nlpar(source, config)
        t = _stage(f"preprocessing ({name} forward model)")
        patterns = preprocess_patterns(
            load_patterns(source, lazy=True),
            in_memory_max_bytes=config.indexing.memory_budget_gib * 2**30 * IN_MEMORY_SHARE,
        )
        timings[f"preprocess{suffix}_s"] = preprocess_s = time.perf_counter() - t
        indexers = {"": exact} if name == "matched" else index_models
        for variant, im in indexers.items():
            for method, res in _index(patterns, im, config, truth, variant == "").items():
                results[f"{method}{variant}{suffix}"] = (res, name, im)
        if name == "realistic":  # the network on the same patterns, counts
            raw = load_patterns(source, lazy=True)
            rows, neural_info = neural_rows(raw, patterns, index_models[""], config, truth)
            if neural_info["skipped"] and config.indexing.neural_checkpoint is not None:
                print(f"[synthebsd] neural rows skipped: {neural_info['skipped']}", flush=True)
            results |= {method: (res, name, index_models[""]) for method, res in rows.items()}
        this_model = {m: res for m, (res, fm, _) in results.items() if fm == name}
        charge_preprocessing(this_model, preprocess_s)

    t = _stage("errors and figures")
    methods = {}
    errors = {}
    for name, (res, fm_name, im) in results.items():
        err = orientation_error_map(truth, res.xmap)
        errors[name] = err
        save_crystal_map(res.xmap, out / f"{name}.h5")
        plot_ipf_map(res.xmap, out / f"{name}_ipf.png", f"{name} (IPF-Z)")
        plot_error_map(truth, err, out / f"{name}_error.png", f"{name}: error to truth")
        methods[name] = indexing_summary(truth, res.xmap, err, im.phase_names)
        methods[name] |= {
            "forward_model": fm_name,
            "indexer": im.name,
            "seconds": res.seconds,
            "patterns_per_second": res.patterns_per_second,
            "seconds_by_stage": dict(res.timings),
        }
    if errors:
        plot_error_histogram(
            {k: v for k, v in errors.items() if methods[k]["forward_model"] == "realistic"},
            out / "error_histogram.png",
        )
        plot_method_comparison(methods, out / "forward_models.png")
    timings["report_s"] = time.perf_counter() - t

    im = index_models[""]
    summary = {
        "synthebsd": __version__,
        "python": platform.python_version(),
        "seed": config.seed,
        "scene": config.scene.name,
        "map_shape": list(truth.shape),
        "step_size_um": truth.dx,
        "n_patterns": truth.size,
        "pattern_shape": list(config.detector.shape_px),
        "dose_counts": config.patterns.dose_counts,
        "band_contrast": config.patterns.band_contrast,
        "projection_centre_bruker": list(config.detector.pc_bruker),
        "candidate_phases": im.phase_names,
        "forward_models": {
            name: {
                "master_patterns": fm.keys,
                "pc_per_point": bool(np.asarray(fm.detector.pcz).size > 1),
                "pc_range_bruker": np.ptp(
                    np.asarray(fm.detector.pc).reshape(-1, 3), axis=0
                ).tolist(),
            }
            for name, fm in forward.items()
        },
        "indexer": {
            "master_patterns": im.keys,
            "smoothed": config.indexing.smooth_master_pattern,
            "backend": config.indexing.backend,
            "pc_bruker": np.asarray(im.detector.pc).reshape(3).tolist(),
            "pc_calibration_error": im.pc_error.tolist(),
        },
        "methods": methods,
        "neural": neural_info,
        "nlpar": nlpar_info or None,
        "timings": timings,
    }
    save_json(summary, out / "summary.json")
    return summary


def index_methods(
    patterns, im: IndexerModel, config: StudyConfig, truth, with_hough: bool = True
) -> dict[str, IndexingResult]:
    """The study's indexing step, for other workflows (the benchmark, in-situ runs).

    Hough (if ``config.indexing.hough`` and ``with_hough``), dictionary indexing and
    refinement (``config.indexing``) of preprocessed ``patterns`` with the indexer model
    ``im``; returns the :class:`~synthebsd.analyze.IndexingResult` of each by name
    (``hough``, ``dictionary``, ``refined``).
    """
    return _index(patterns, im, config, truth, with_hough)


def _index(patterns, im: IndexerModel, config: StudyConfig, truth, with_hough: bool) -> dict:
    """Hough (once per pattern set), dictionary indexing and refinement with one model."""
    cfg = config.indexing
    energy = config.detector.energy_kv
    out = {}
    if cfg.hough and with_hough:
        _stage(f"Hough indexing (PyEBSDIndex), {im.name}")
        out["hough"] = hough_index(
            patterns, im.phase_list, im.detector, cfg.min_hough_confidence, truth
        )
    if cfg.dictionary:
        _stage(f"dictionary indexing ({cfg.backend}), {im.name} model")
        out["dictionary"] = dictionary_index(
            patterns,
            im.master_patterns,
            im.detector,
            energy,
            cfg.dictionary_resolution_deg,
            cfg.min_dictionary_score,
            truth,
            **cfg.dictionary_kwargs(),
        )
        if cfg.refine:
            _stage(f"orientation refinement ({cfg.backend}), {im.name} model")
            out["refined"] = refine_orientations(
                patterns,
                out["dictionary"].xmap,
                im.master_patterns,
                im.detector,
                energy,
                cfg.refine_trust_region_deg,
                cfg.refine_initial_step_deg,
                cfg.refine_pseudo_symmetry,
                **cfg.refine_kwargs(),
            )
    return out


def format_summary(summary: dict) -> str:
    """A short fixed-width table of the per-method numbers."""
    head = (
        f"{'method':<26}{'median°':>9}{'p95°':>8}{'<2°':>7}{'<5°':>7}{'not idx':>9}"
        f"{'pores idx':>10}{'electr idx':>11}{'pat/s':>9}"
    )
    lines = [head, "-" * len(head)]

    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"

    for name, m in summary["methods"].items():
        given = {k: v.get("fraction_given_orientation") for k, v in m["non_indexable"].items()}
        lines.append(
            f"{name:<26}{f(m['median_error_deg'], '9.3f')}{f(m['p95_error_deg'], '8.2f')}"
            f"{f(m['fraction_within_2deg'], '7.3f')}{f(m['fraction_within_5deg'], '7.3f')}"
            f"{f(m['fraction_not_indexed'], '9.3f')}{f(given.get('pore'), '10.3f')}"
            f"{f(given.get('electrolyte'), '11.3f')}{m['patterns_per_second']:9.1f}"
        )
    return "\n".join(lines)
