"""In-situ validation: plating and stripping sequences, re-imaged with accumulating damage.

The generator's sequences (:func:`~synthebsd.simulate.plating_sequence`,
:func:`~synthebsd.simulate.stripping_sequence`: same grain ids and orientations in every
frame; the metal thickens and its grains coarsen, then thins while voids open) are each
rendered frame by frame with the realistic forward model and indexed by every method
(:mod:`synthebsd.workflows._runs`), at each dose of the run.

Beam damage accumulates across frames: the same area is scanned again, so each map
point starts frame k with the dose that the scans of frames 0 … k−1 left there (the
whole scan's dose at that point, not only the part received before its own pattern).
Dose is booked per map point (the microscope's frame); material that moves between
frames (the electrolyte lifted by plating) inherits the dose of the point it moves to,
a simplification.

For every frame and method the measured mean grain size (equivalent-circle diameter of
the reconstructed metal grains, 5° threshold) and porosity (not-indexed fraction of the
metal layer) are compared with the truth's. The smallest change between frames that a
method can detect is reported as 1.96 × the root-mean-square of the frame-to-frame
change of its measurement error (measured − true), over the frame pairs of all
sequences: a constant bias cancels in a difference, an error that drifts (with the
accumulating damage, say) or scatters does not.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dask
import numpy as np
import yaml
from orix.crystal_map import CrystalMap

from synthebsd import __version__
from synthebsd.config import InsituConfig, StudyConfig
from synthebsd.conventions import PHASE_IDS, SCENE_STREAM, stream_rng
from synthebsd.io import atomic_path, save_json
from synthebsd.simulate import (
    default_footprints,
    dose_map,
    plating_sequence,
    scan_index,
    stripping_sequence,
)
from synthebsd.viz import plot_insitu_series
from synthebsd.workflows._runs import index_run, score_run

__all__ = ["detectable_change", "run_insitu", "scan_total_dose"]

_SEQUENCES = {"plating": plating_sequence, "stripping": stripping_sequence}


def _reversal(shape: tuple[int, int], order_name: str) -> tuple[int, ...]:
    """Axes to flip so that the scan of the flipped map visits the points in reverse."""
    order = scan_index(shape, order_name)
    reverse = order.size - 1 - order
    for axes in ((0, 1), (0,), (1,)):
        if np.array_equal(np.flip(order, axes), reverse):
            return axes
    raise ValueError(f"No flip reverses the {order_name} scan of a {shape} map")


def scan_total_dose(xmap: CrystalMap, config: StudyConfig) -> np.ndarray:
    """Dose (e/nm²) that one whole scan of ``xmap`` leaves at every point (flat).

    The sum over every scanned point of the dose it deposits there, before and after
    the point's own exposure: :func:`~synthebsd.simulate.dose_map` of the scan (the dose
    from earlier points and half the point's own) plus that of the reversed scan (later
    points and the other half), the reversed scan being the scan of the map flipped so
    that it is visited backwards. Prior dose excluded.
    """
    cfg = config.patterns
    damage = cfg.damage.model_copy(update={"prior_dose_e_per_nm2": 0.0})
    tilt = config.detector.sample_tilt_deg
    energy = config.detector.energy_kv
    footprints = default_footprints(xmap, energy, tilt, cfg.beam, cfg.mixing)
    forward = dose_map(xmap, footprints, tilt, cfg.beam, damage)
    axes = _reversal(xmap.shape, cfg.beam.scan_order)
    flipped_ids = np.flip(xmap.phase_id.reshape(xmap.shape), axes).ravel()
    flipped = CrystalMap(
        rotations=xmap.rotations,
        phase_id=flipped_ids,
        x=xmap.x,
        y=xmap.y,
        phase_list=xmap.phases.deepcopy(),
    )
    backward = dose_map(flipped, footprints, tilt, cfg.beam, damage)
    backward = np.flip(backward.reshape(xmap.shape), axes).ravel()
    return forward + backward


def detectable_change(measured: list[np.ndarray], truth: list[np.ndarray]) -> float | None:
    """1.96 × RMS of the frame-to-frame change of the error, over several sequences.

    Parameters
    ----------
    measured, truth
        Per sequence, the measured and true value of each frame.

    Returns
    -------
    change
        In the quantity's unit; None with fewer than one finite frame pair.
    """
    diffs = []
    for m, t in zip(measured, truth, strict=True):
        e = np.asarray(m, float) - np.asarray(t, float)
        d = np.diff(e)
        diffs.append(d[np.isfinite(d)])
    d = np.concatenate(diffs) if diffs else np.empty(0)
    return float(1.96 * np.sqrt(np.mean(d**2))) if d.size else None


def _frame_study(config: InsituConfig, dose: float) -> StudyConfig:
    data = config.study.model_dump(mode="json")
    data["seed"] = config.seed
    data["scene"] = {
        "preset": config.preset,
        "shape_px": list(config.shape_px),
        "step_size_um": config.step_size_um,
        **config.scene_overrides,
    }
    data["patterns"]["dose_counts"] = dose
    data["patterns"]["damage"]["enabled"] = config.accumulate_damage
    data["indexing"] |= {
        "hough": "hough" in config.methods,
        "dictionary": "dictionary" in config.methods,
        "refine": "refined" in config.methods,
        "kinematical_dictionary": False,
    }
    data["forward_models"] = ["realistic"]
    return StudyConfig.model_validate(data)


def _frame_values(metrics: dict[str, Any]) -> dict[str, float]:
    g, p = metrics["grains"], metrics["pores"]
    n = p["n_layer_points"] or 1
    nan = float("nan")
    return {
        "mean_ecd_um": nan if g["mean_ecd_found_um"] is None else g["mean_ecd_found_um"],
        "true_mean_ecd_um": nan if g["mean_ecd_true_um"] is None else g["mean_ecd_true_um"],
        "porosity": p["n_found"] / n,
        "true_porosity": p["n_true"] / n,
        "n_grains": g["n_found"],
        "true_n_grains": g["n_true"],
        "fraction_within_2deg": metrics["orientation"]["fraction_within_2deg"],
        "pore_iou": p["iou"],
    }


def run_insitu(
    config: InsituConfig | None = None,
    out_dir: str | Path = "insitu-output",
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Render and index the plating and stripping sequences; write results and figures.

    Writes ``insitu.json`` (per sequence, dose, frame and method the measured and true
    grain size and porosity, the success fraction, the median prior dose of the metal's
    points (e/nm²; the collector's small footprint gives it far more, harmlessly), and per
    method and dose the smallest detectable changes), ``insitu.csv``, one figure per dose
    (``insitu_dose<d>.png``) and every frame's maps under
    ``<sequence>/dose<d>/frame<k>/``.
    """
    from tqdm.auto import tqdm

    config = config or InsituConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    t0 = time.perf_counter()
    frames = {}
    for name in config.sequences:
        scene = _frame_study(config, config.dose_counts[0]).scene
        frames[name] = _SEQUENCES[name](
            scene, config.n_frames, stream_rng(config.seed, SCENE_STREAM)
        )
    rows: list[dict[str, Any]] = []
    total = len(config.dose_counts) * sum(len(f) for f in frames.values())
    with (
        dask.config.set(scheduler="threads"),
        tqdm(total=total, desc="in-situ frames", unit="frame") as bar,
    ):
        for dose in config.dose_counts:
            study = _frame_study(config, dose)
            for name, seq in frames.items():
                prior = np.zeros(seq[0].size) if config.accumulate_damage else None
                for k, truth in enumerate(seq):
                    results, im, info = index_run(
                        study,
                        truth,
                        "realistic",
                        config.methods,
                        config.neural_checkpoint,
                        cache_dir,
                        prior_dose=prior,
                    )
                    folder = out / name / f"dose{dose:g}" / f"frame{k}"
                    scored = score_run(truth, results, im, folder)
                    metal = truth.phase_id == PHASE_IDS["metal"]
                    prior_metal = (
                        float(np.median(prior[metal]))
                        if prior is not None and metal.any()
                        else 0.0
                    )
                    for method, metrics in scored.items():
                        rows.append(
                            {"sequence": name, "dose_counts": dose, "frame": k, "method": method}
                            | _frame_values(metrics)
                            | {
                                "metal_prior_dose_e_per_nm2": prior_metal,
                                "patterns_per_second": metrics["patterns_per_second"],
                            }
                        )
                    if prior is not None:
                        prior = prior + scan_total_dose(truth, study)
                    bar.update()
    results = _report(config, rows, out)
    results |= {"synthebsd": __version__, "run_s": time.perf_counter() - t0}
    results["n_frames_indexed"] = total
    save_json(results, out / "insitu.json")
    return results


def _report(config: InsituConfig, rows: list[dict], out: Path) -> dict[str, Any]:
    import csv
    import io

    methods = list(dict.fromkeys(r["method"] for r in rows))
    detect = {}
    for dose in config.dose_counts:
        panels = {}
        for name in config.sequences:
            for quantity, label in (
                ("mean_ecd_um", "mean grain ECD (µm)"),
                ("porosity", "porosity"),
            ):
                sel = [r for r in rows if r["sequence"] == name and r["dose_counts"] == dose]
                truth = [r[f"true_{quantity}"] for r in sel if r["method"] == methods[0]]
                series = {m: [r[quantity] for r in sel if r["method"] == m] for m in methods}
                panels[f"{name}: {label}"] = (truth, series)
        plot_insitu_series(
            panels,
            out / f"insitu_dose{dose:g}.png",
            f"In-situ frames at {dose:g} counts/px, beam damage "
            + ("accumulating" if config.accumulate_damage else "off"),
        )
        for m in methods:
            entry = {}
            for quantity in ("mean_ecd_um", "porosity"):
                measured, truth = [], []
                for name in config.sequences:
                    sel = [
                        r
                        for r in rows
                        if r["sequence"] == name and r["dose_counts"] == dose and r["method"] == m
                    ]
                    measured.append(np.array([r[quantity] for r in sel], float))
                    truth.append(np.array([r[f"true_{quantity}"] for r in sel], float))
                entry[f"detectable_{quantity}_change"] = detectable_change(measured, truth)
                entry[f"mean_abs_{quantity}_error"] = float(
                    np.nanmean(np.abs(np.concatenate(measured) - np.concatenate(truth)))
                )
            detect.setdefault(m, {})[f"{dose:g}"] = entry
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(out / "insitu.csv") as tmp:
        tmp.write_text(buffer.getvalue())
    return {
        "config": config.model_dump(mode="json"),
        "frames": rows,
        "detectable_change": detect,
        "figures": [f"insitu_dose{d:g}.png" for d in config.dose_counts],
    }
