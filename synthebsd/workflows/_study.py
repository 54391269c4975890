"""The end-to-end study: scene → patterns → Hough and dictionary indexing → errors vs truth.

:func:`run_study` writes into one folder:

- ``truth.h5``, ``hough.h5``, ``dictionary.h5``, ``refined.h5``: orix crystal maps (with
  dynamical patterns also ``dictionary_kinematical.h5`` and ``refined_kinematical.h5``:
  the same indexing with kinematical master patterns),
- ``patterns.h5``: the noisy patterns (kikuchipy h5ebsd; ``kikuchipy.load`` reads it),
- ``summary.json``: per method, errors in degrees, success fractions, patterns per second,
- PNG figures: IPF maps of truth and each method, error maps, an error histogram,
- ``config.yaml``: the configuration that made all of it.

With a pattern-physics model switched on (``patterns.damage``, ``patterns.mixing``,
``patterns.surface_layer``, pore shadowing) the truth map also carries, per point, the
cumulative dose ``dose_e_per_nm2``, ``damage_fraction``, ``contrast_factor``,
``mixing_self_weight`` and ``mixing_same_grain_weight``; ``pattern_truth.h5`` holds the
full mixing weights (n × K, cells at the stored (row, col) offsets), and
``truth_dose.png`` shows the dose map when beam damage is on.
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
    crystalline_phases,
    dictionary_index,
    hough_index,
    indexing_summary,
    orientation_error_map,
    preprocess_patterns,
    refine_orientations,
    smooth_master_pattern,
)
from synthebsd.config import StudyConfig
from synthebsd.conventions import SCENE_STREAM, stream_rng
from synthebsd.io import atomic_path, load_patterns, save_crystal_map, save_json, save_patterns
from synthebsd.simulate import (
    PatternModel,
    generate_microstructure,
    get_master_pattern,
    make_detector,
    pattern_ground_truth,
    simulate_patterns,
)
from synthebsd.viz import (
    plot_dose_map,
    plot_error_histogram,
    plot_error_map,
    plot_ipf_key,
    plot_ipf_map,
    plot_region_map,
)

__all__ = ["format_summary", "run_study"]


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


def _stage(name: str) -> float:
    print(f"[synthebsd] {name} ...", flush=True)
    return time.perf_counter()


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

    t = _stage(f"{config.master_pattern.engine} master patterns")
    truth_phases = [(pid, phase) for pid, phase in truth.phases if pid >= 0]
    detector = make_detector(config.detector)

    master_patterns = {
        pid: get_master_pattern(phase, energy, config.master_pattern, cache_dir)
        for pid, phase in truth_phases
    }

    def indexing_model(mp):
        # The indexer's model: smoothed to the detector resolution (see smooth_master_pattern).
        if not config.indexing.smooth_master_pattern:
            return mp
        return smooth_master_pattern(mp, detector, config.patterns.psf_sigma_px)

    timings["master_patterns_s"] = time.perf_counter() - t

    t = _stage(f"rendering {truth.size} patterns")
    model = PatternModel(truth, master_patterns, detector, config.patterns, energy)
    lazy = simulate_patterns(
        truth, master_patterns, detector, config.patterns, energy, config.seed, model=model
    )
    save_patterns(lazy, out / "patterns.h5")
    if not model.plain:
        _save_pattern_truth(truth, model, out)
    signal = load_patterns(out / "patterns.h5")
    timings["patterns_s"] = time.perf_counter() - t

    patterns = preprocess_patterns(signal)
    phase_list = crystalline_phases(truth.phases)
    idx_cfg = config.indexing
    # Dictionaries from the engine that made the patterns; with dynamical patterns also
    # from kinematical master patterns, the usual shortcut, to show what it costs.
    dictionaries = {"": [indexing_model(master_patterns[pid]) for pid in phase_list.ids]}
    if (
        idx_cfg.dictionary
        and idx_cfg.kinematical_dictionary
        and config.master_pattern.engine != "kinematical"
    ):
        kinematical = config.master_pattern.model_copy(update={"engine": "kinematical"})
        dictionaries["_kinematical"] = [
            indexing_model(get_master_pattern(phase, energy, kinematical, cache_dir))
            for _, phase in truth_phases
        ]
    results = {}
    if idx_cfg.hough:
        _stage("Hough indexing (PyEBSDIndex)")
        results["hough"] = hough_index(
            patterns, phase_list, detector, idx_cfg.min_hough_confidence, truth
        )
    for suffix, mps in dictionaries.items() if idx_cfg.dictionary else ():
        engine = "kinematical" if suffix else config.master_pattern.engine
        _stage(f"dictionary indexing (kikuchipy, {engine} dictionaries)")
        results[f"dictionary{suffix}"] = dictionary_index(
            patterns,
            mps,
            detector,
            energy,
            idx_cfg.dictionary_resolution_deg,
            idx_cfg.min_dictionary_score,
            truth,
        )
        if idx_cfg.refine:
            _stage("orientation refinement (kikuchipy)")
            results[f"refined{suffix}"] = refine_orientations(
                patterns,
                results[f"dictionary{suffix}"].xmap,
                mps,
                detector,
                energy,
                idx_cfg.refine_trust_region_deg,
                idx_cfg.refine_initial_step_deg,
                idx_cfg.refine_pseudo_symmetry,
            )

    t = _stage("errors and figures")
    methods = {}
    errors = {}
    for name, res in results.items():
        err = orientation_error_map(truth, res.xmap)
        errors[name] = err
        save_crystal_map(res.xmap, out / f"{name}.h5")
        plot_ipf_map(res.xmap, out / f"{name}_ipf.png", f"{name} (IPF-Z)")
        plot_error_map(truth, err, out / f"{name}_error.png", f"{name}: error to truth")
        methods[name] = indexing_summary(truth, res.xmap, err)
        methods[name]["seconds"] = res.seconds
        methods[name]["patterns_per_second"] = res.patterns_per_second
    if errors:
        plot_error_histogram(errors, out / "error_histogram.png")
    timings["report_s"] = time.perf_counter() - t

    summary = {
        "synthebsd": __version__,
        "python": platform.python_version(),
        "seed": config.seed,
        "map_shape": list(truth.shape),
        "step_size_um": truth.dx,
        "n_patterns": truth.size,
        "pattern_shape": list(detector.shape),
        "dose_counts": config.patterns.dose_counts,
        "band_contrast": config.patterns.band_contrast,
        "projection_centre_bruker": list(config.detector.pc_bruker),
        "pattern_engine": config.master_pattern.engine,
        "methods": methods,
        "timings": timings,
    }
    save_json(summary, out / "summary.json")
    return summary


def format_summary(summary: dict) -> str:
    """A short fixed-width table of the per-method numbers."""
    head = f"{'method':<22}{'median°':>9}{'p95°':>8}{'<2°':>7}{'<5°':>7}{'not idx':>9}{'pores idx':>10}{'pat/s':>9}"
    lines = [head, "-" * len(head)]
    for name, m in summary["methods"].items():
        pore = m["non_indexable"].get("pore", {}).get("fraction_given_orientation")

        def f(v, fmt):
            return format(v, fmt) if v is not None else "-"

        lines.append(
            f"{name:<22}{f(m['median_error_deg'], '9.3f')}{f(m['p95_error_deg'], '8.2f')}"
            f"{f(m['fraction_within_2deg'], '7.3f')}{f(m['fraction_within_5deg'], '7.3f')}"
            f"{f(m['fraction_not_indexed'], '9.3f')}{f(pore, '10.3f')}{m['patterns_per_second']:9.1f}"
        )
    return "\n".join(lines)
