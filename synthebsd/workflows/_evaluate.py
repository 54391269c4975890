"""``synthebsd evaluate CHECKPOINT --out DIR``: a checkpoint on held-out scenes, beside the
classical methods, on the same patterns.

:func:`evaluate_checkpoint` runs one study (:func:`~synthebsd.workflows.run_study`,
realistic forward model) per :class:`~synthebsd.config.EvaluationCase` and seed
(:attr:`~synthebsd.config.EvaluateConfig.n_seeds`, other scenes and noise) into
``DIR/<case>/seed<seed>/`` with the checkpoint as ``indexing.neural_checkpoint``: Hough, dictionary
indexing + refinement, the network, and the network + refinement, all scored by
:func:`~synthebsd.analyze.indexing_summary` against the truth. To those numbers it adds,
from the maps the studies wrote (so they can be recomputed from the files):

- region classes (neural): accuracy over all points and pore IoU, precision and recall
  (:func:`~synthebsd.models.segmentation_metrics`); for the classical methods, which
  have no pore class, the pore recall and precision of "not indexed";
- calibration of the predicted error (neural): of the points indexed with a predicted
  error below 2°, the fraction within 2° of the truth, and the mean predicted against
  the mean observed error.

``DIR/summary.json`` holds one table (a row per case, seed and method), the pooled rows
per method (over the cases without NLPAR; the NLPAR cases have their own low-dose goal),
and the issue's goals with the values reached over all seeds, at each seed, and their
spread. Cases with pattern physics other than the default
(:attr:`~synthebsd.config.EvaluationCase.patterns`) stay out of the pooled rows and the
goals: ``unseen_physics`` sets each beside its twin (same scenes and noise seeds, default
physics), what physics a network was not trained on costs every method.
``DIR/evaluation.png`` is the one figure (success and median error per case and method,
mean and s.d. over seeds), ``DIR/calibration.png`` the network's calibration over all
runs without NLPAR and with the default physics.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import yaml

from synthebsd.analyze import indexing_summary, orientation_error_map
from synthebsd.config import EvaluateConfig, EvaluationCase, StudyConfig
from synthebsd.conventions import Region
from synthebsd.io import atomic_path, load_crystal_map, save_json
from synthebsd.viz import plot_calibration, plot_evaluation
from synthebsd.workflows._study import run_study

__all__ = [
    "METHODS",
    "case_study_config",
    "evaluate_checkpoint",
    "format_evaluation",
    "score_case",
]

#: The rows compared, in table order.
METHODS = ("hough", "dictionary", "refined", "neural", "neural_refined")
_KEYS = (
    "median_error_deg",
    "p95_error_deg",
    "fraction_within_2deg",
    "fraction_within_5deg",
    "fraction_not_indexed",
    "fraction_wrong_phase",
)


def case_study_config(
    case: EvaluationCase, config: EvaluateConfig, checkpoint: str, seed: int | None = None
) -> StudyConfig:
    """The study of one held-out case at ``seed`` (default the case's own; realistic
    forward model with the case's pattern physics, the checkpoint's rows)."""
    pc = np.add(config.detector.pc_bruker, case.pc_offset_bruker)
    return StudyConfig(
        seed=case.seed if seed is None else seed,
        scene=case.scene,
        detector=config.detector.model_copy(update={"pc_bruker": tuple(float(v) for v in pc)}),
        master_pattern=config.master_pattern,
        patterns=case.pattern_config(),
        indexing=config.indexing.model_copy(
            update={"neural_checkpoint": checkpoint, "nlpar": case.nlpar}
        ),
        forward_models=("realistic",),
    )  # fmt: skip


def _fraction(mask: np.ndarray, of: np.ndarray) -> float | None:
    n = int(of.sum())
    return float((mask & of).sum() / n) if n else None


def score_case(case_dir: str | Path, methods=METHODS) -> dict[str, dict]:
    """The table rows of one case, computed from the files its study wrote.

    Returns
    -------
    rows
        Per method present: :func:`indexing_summary`'s numbers (``_KEYS``), the pore
        recall / precision of its pore class (neural) or of "not indexed" (classical),
        and for the network the region-class accuracy, pore IoU and the calibration.
    """
    from synthebsd.models import segmentation_metrics  # lazy: torch

    case_dir = Path(case_dir)
    truth = load_crystal_map(case_dir / "truth.h5")
    study = yaml.safe_load((case_dir / "config.yaml").read_text())
    candidates = [study["scene"][layer]["phase"] for layer in ("metal", "collector")]
    if study["indexing"].get("electrolyte_candidate"):
        candidates.append(study["scene"]["electrolyte"]["phase"])
    region = np.asarray(truth.prop["region"]).astype(int)
    pore = region == Region.PORE
    rows = {}
    for method in methods:
        path = case_dir / f"{method}.h5"
        if not path.is_file():
            continue
        xmap = load_crystal_map(path)
        err = orientation_error_map(truth, xmap)
        s = indexing_summary(truth, xmap, err, candidates)
        row = {k: s[k] for k in _KEYS}
        row["n_indexable"] = s["n_points"]
        row["pore_given_orientation"] = (
            s["non_indexable"].get("pore", {}).get("fraction_given_orientation")
        )
        row["n_points"] = int(region.size)
        if "region" in xmap.prop and method.startswith("neural"):
            predicted = np.asarray(xmap.prop["region"]).astype(int)
            seg = segmentation_metrics(predicted, region, 4)
            row["class_accuracy"] = seg["accuracy"]
            row["pore_iou"] = seg["pore_iou"]
            row["pore_precision"] = seg["pore_precision"]
            row["pore_recall"] = seg["pore_recall"]
            flagged = predicted == Region.PORE
        else:
            flagged = xmap.phase_id < 0
            row["class_accuracy"] = None
            row["pore_iou"] = _fraction(flagged & pore, flagged | pore)
            row["pore_precision"] = _fraction(pore, flagged)
            row["pore_recall"] = _fraction(flagged, pore)
        # counts, so that pooled pore metrics are those of all pore points together
        row["n_pore"] = int(pore.sum())
        row["n_pore_flagged"] = int(flagged.sum())
        row["n_pore_found"] = int((flagged & pore).sum())
        if method == "neural":
            unc = np.asarray(xmap.prop["uncertainty_deg"], dtype=float)
            indexable = np.isin(
                truth.phase_id, [p for p, ph in truth.phases if ph.name in candidates]
            )
            confident = indexable & (xmap.phase_id >= 0) & (unc < 2.0)
            ok = np.nan_to_num(err, nan=180.0)
            row["fraction_within_2deg_of_predicted_below_2deg"] = _fraction(ok < 2.0, confident)
            row["n_predicted_below_2deg"] = int(confident.sum())
            given = indexable & (xmap.phase_id >= 0) & np.isfinite(err)
            row["mean_predicted_error_deg"] = float(unc[given].mean()) if given.any() else None
            row["mean_error_deg"] = float(err[given].mean()) if given.any() else None
        rows[method] = row
    return rows


#: Pooled as the weighted mean over runs with these weights; other keys use n_indexable.
_POOL_WEIGHTS = {
    "class_accuracy": "n_points",
    "fraction_within_2deg_of_predicted_below_2deg": "n_predicted_below_2deg",
}
#: What a table row says about its run, not measured.
_LABELS = ("case", "seed", "seed_index", "method", "dose_counts", "damage", "nlpar",
           "unseen_physics")  # fmt: skip
#: Summed over runs.
_COUNTS = ("n_indexable", "n_points", "n_pore", "n_pore_flagged", "n_pore_found",
           "n_predicted_below_2deg", "n_patterns", "seconds")  # fmt: skip


def _pooled(rows: list[dict]) -> dict:
    """One method's rows (cases × seeds) pooled: fractions as the mean weighted by the
    points they are over, medians and p95 likewise (not the median of all points), pore
    metrics from the counts of all runs together, counts summed, the speed as all
    patterns over all seconds."""
    out = {}
    for key in rows[0]:
        if key in _LABELS:
            continue
        if key in _COUNTS:
            out[key] = sum(r[key] for r in rows)
            continue
        weight = _POOL_WEIGHTS.get(key, "n_indexable")
        pairs = [(r[key], r[weight]) for r in rows if r.get(key) is not None]
        if not pairs or key == "patterns_per_second":
            out[key] = None
            continue
        v, w = np.array(pairs, dtype=float).T
        out[key] = float((v * w).sum() / w.sum()) if w.sum() else None
    found, flagged, pore = out["n_pore_found"], out["n_pore_flagged"], out["n_pore"]
    out["pore_iou"] = found / (flagged + pore - found) if flagged + pore - found else None
    out["pore_precision"] = found / flagged if flagged else None
    out["pore_recall"] = found / pore if pore else None
    out["patterns_per_second"] = out["n_patterns"] / out["seconds"] if out["seconds"] else None
    return out


def _pool_table(table: list[dict]) -> dict[str, dict]:
    """Per method present, its rows on patterns as recorded (not after NLPAR) with the
    default physics pooled (:func:`_pooled`)."""
    raw = [r for r in table if not r["nlpar"] and not r["unseen_physics"]]
    return {
        m: _pooled([r for r in raw if r["method"] == m])
        for m in METHODS
        if any(r["method"] == m for r in raw)
    }


#: The methods whose low-dose values stand beside the network's in the goals.
_LOW_DOSE_BESIDE = ("hough", "refined", "neural_refined")


def _measured_on(config: EvaluateConfig) -> str:
    """The device the network ran on, in words (the 3,000 /s goal is set for 2 CPU cores)."""
    import torch  # lazy: torch takes seconds to import

    device = config.indexing.device
    if device == "cpu":
        return f"{torch.get_num_threads()} CPU threads"
    return device


def _goal_values(table: list[dict], config: EvaluateConfig) -> list[dict]:
    """The issue's goals with the values reached on ``table``'s rows of the default
    physics."""
    table = [r for r in table if not r["unseen_physics"]]
    pooled = _pool_table(table)
    raw = [r for r in table if not r["nlpar"]]
    default = [r for r in raw if r["dose_counts"] == 1000.0 and not r["damage"]]
    low = [r for r in table if r["dose_counts"] <= config.low_dose_counts]
    low_raw = [r for r in low if not r["nlpar"]]
    low_nlpar = [r for r in low if r["nlpar"]]

    def rows(sel, method, key):
        values = [r[key] for r in sel if r["method"] == method and r[key] is not None]
        return float(np.median(values)) if values else None

    speed = {m: pooled.get(m, {}).get("patterns_per_second") for m in METHODS}
    # dictionary + refinement: the two steps one after the other (the study times each)
    classical = (
        1.0 / (1.0 / speed["dictionary"] + 1.0 / speed["refined"])
        if speed.get("dictionary") and speed.get("refined")
        else None
    )
    ratio = (
        speed["neural_refined"] / classical if speed.get("neural_refined") and classical else None
    )
    return [
        {"goal": "median disorientation, default dose (neural)", "target": "<= 1 deg",
         "reached": rows(default, "neural", "median_error_deg")},
        {"goal": "within 5 deg, default dose (neural)", "target": ">= 0.95",
         "reached": rows(default, "neural", "fraction_within_5deg")},
        {"goal": f"within 2 deg at <= {config.low_dose_counts:g} counts (neural)",
         "target": ">= 0.80", "reached": rows(low_raw, "neural", "fraction_within_2deg")}
        | {m: rows(low_raw, m, "fraction_within_2deg") for m in _LOW_DOSE_BESIDE},
        {"goal": f"within 2 deg at <= {config.low_dose_counts:g} counts after NLPAR (neural)",
         "target": ">= 0.80", "reached": rows(low_nlpar, "neural", "fraction_within_2deg")}
        | {m: rows(low_nlpar, m, "fraction_within_2deg") for m in _LOW_DOSE_BESIDE},
        {"goal": "neural + refinement median", "target": "<= 0.2 deg",
         "reached": rows(default, "neural_refined", "median_error_deg")},
        {"goal": "neural + refinement speed / dictionary + refinement", "target": ">= 5x",
         "reached": ratio},
        {"goal": "region-class (phase) accuracy, all points", "target": ">= 0.99",
         "reached": pooled.get("neural", {}).get("class_accuracy")},
        {"goal": "pore IoU", "target": ">= 0.9", "reached": pooled.get("neural", {}).get("pore_iou")},
        {"goal": "predicted < 2 deg that are within 2 deg", "target": ">= 0.90",
         "reached": pooled.get("neural", {}).get("fraction_within_2deg_of_predicted_below_2deg")},
        {"goal": f"neural patterns/s in the study ({_measured_on(config)})", "target": ">= 3000",
         "reached": speed.get("neural")},
    ]  # fmt: skip


def _goals(table: list[dict], config: EvaluateConfig) -> list[dict]:
    """The goals over all runs, with the value at each seed (``per_seed``, by seed index)
    and the standard deviation over seeds (``seed_sd``; None with one seed)."""
    goals = _goal_values(table, config)
    indices = sorted({r["seed_index"] for r in table})
    per_seed = [_goal_values([r for r in table if r["seed_index"] == k], config) for k in indices]
    for g, values in zip(goals, zip(*per_seed, strict=True), strict=True):
        g["per_seed"] = [v["reached"] for v in values]
        reached = [v for v in g["per_seed"] if v is not None]
        g["seed_sd"] = float(np.std(reached, ddof=1)) if len(reached) > 1 else None
    return goals


#: What the unseen-physics block compares per method.
_UNSEEN_KEYS = ("median_error_deg", "fraction_within_2deg", "fraction_within_5deg",
                "fraction_not_indexed", "fraction_within_2deg_of_predicted_below_2deg",
                "class_accuracy", "pore_iou")  # fmt: skip


def _twin(case: EvaluationCase, config: EvaluateConfig) -> EvaluationCase | None:
    """The case of the same scene, seed, dose, damage, PC and NLPAR with default physics."""
    same = ("scene", "seed", "dose_counts", "damage", "pc_offset_bruker", "nlpar")
    for other in config.cases:
        if not other.unseen_physics and all(getattr(other, k) == getattr(case, k) for k in same):
            return other
    return None


def _unseen_physics(table: list[dict], config: EvaluateConfig) -> list[dict]:
    """Per case with pattern physics other than the default: its settings, each method's
    values pooled over its seeds (:func:`_pooled`) and those of its twin on the same
    scenes and noise seeds, and the median error at each seed."""
    out = []
    for case in (c for c in config.cases if c.unseen_physics):
        twin = _twin(case, config)
        entry = {"case": case.name, "patterns": case.patterns,
                 "twin": twin.name if twin else None, "methods": {}}  # fmt: skip
        for method in METHODS:
            values = _compared(table, case.name, method)
            if values is None:
                continue
            if twin is not None:
                values["twin"] = _compared(table, twin.name, method)
            entry["methods"][method] = values
        out.append(entry)
    return out


def _compared(table: list[dict], case: str, method: str) -> dict | None:
    """One case's rows of one method pooled over its seeds (:data:`_UNSEEN_KEYS`), and
    the median error at each seed; None without rows."""
    rows = [r for r in table if r["case"] == case and r["method"] == method]
    if not rows:
        return None
    pooled = _pooled(rows)
    values = {k: pooled.get(k) for k in _UNSEEN_KEYS}
    values["median_error_deg_per_seed"] = [r["median_error_deg"] for r in rows]
    return values


def _summary(path, config: EvaluateConfig, table, studies) -> dict:
    """summary.json of the runs done so far (written after each run)."""
    n_runs = len(config.cases) * config.n_seeds
    return {
        "checkpoint": str(path),
        "cases": [c.model_dump(mode="json") for c in config.cases],
        "seeds": {c.name: config.case_seeds(c) for c in config.cases},
        "methods": [m for m in METHODS if any(r["method"] == m for r in table)],
        "table": table,
        "pooled": _pool_table(table),
        "goals": _goals(table, config),
        "unseen_physics": _unseen_physics(table, config),
        "studies": studies,
        "notes": "Fractions within 2/5 deg are over indexable points (not indexed and wrong "
        "phase count as failures); medians over points given the right phase. Goal values are "
        "over all seeds, per_seed at each seed, seed_sd their standard deviation. Goals and "
        "pooled values leave out the cases with unseen pattern physics (unseen_physics: "
        "true; compared with their twins in 'unseen_physics'). Pooled "
        "values are over the cases without NLPAR (nlpar: false), weighted by the points "
        "they are over (indexable points; all points for class accuracy; points predicted "
        "below 2 deg for the calibration); pore IoU, "
        "precision and recall are those of all runs' pore points together; counts are totals; "
        "speeds are total patterns over total seconds on this machine, shared and loaded.",
        "runs_done": len(studies),
        "complete": len(studies) == n_runs,
    }


def evaluate_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path = "evaluate-output",
    config: EvaluateConfig | None = None,
    cache_dir: str | Path | None = None,
) -> dict:
    """Evaluate an orientation checkpoint on held-out cases beside the classical methods.

    Parameters
    ----------
    checkpoint
        A ``.safetensors`` orientation checkpoint, or ``"shipped"``.
    out_dir
        Output folder: a study per case and seed in ``<case>/seed<seed>/``, ``summary.json``,
        ``evaluation.png``, ``calibration.png``, ``config.yaml``.
    config
        The cases and the study settings; default :class:`~synthebsd.config.EvaluateConfig`.
    cache_dir
        Master-pattern cache; default ``$SYNTHEBSD_CACHE`` or ``~/.cache/synthebsd``.

    Returns
    -------
    summary
        What ``summary.json`` holds: ``table`` (rows per case, seed and method),
        ``pooled`` (per method over all runs; pore metrics from all pore points, speeds
        from all patterns), ``goals`` (over all runs, per seed and their spread) and the
        studies' checkpoint notes.

    Raises
    ------
    FileNotFoundError
        If the checkpoint does not exist.
    ValueError
        If it cannot be used for these cases (corrupt, another task, detector or phases
        that do not fit): evaluation without the network makes no sense.
    """
    from synthebsd import models  # lazy: torch

    config = config or EvaluateConfig()
    path = models.resolve_checkpoint(checkpoint)
    models.load_checkpoint(path)  # refuse a corrupt file before any study runs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    table, studies = [], {}
    unc_all, err_all = [], []
    runs = [
        (case, k, seed) for case in config.cases for k, seed in enumerate(config.case_seeds(case))
    ]
    for n, (case, k, seed) in enumerate(runs):
        print(
            f"[synthebsd] evaluate run {n + 1}/{len(runs)}: {case.name}, seed {seed}", flush=True
        )
        t0 = time.perf_counter()
        run_dir = out / case.name / f"seed{seed}"
        study = case_study_config(case, config, str(path), seed)
        summary = run_study(study, run_dir, cache_dir)
        info = summary.get("neural") or {}
        if info.get("skipped"):
            raise models.IncompatibleInputError(
                f"case {case.name}: the checkpoint cannot be used: {info['skipped']}"
            )
        for method, row in score_case(run_dir).items():
            row["patterns_per_second"] = summary["methods"][method]["patterns_per_second"]
            row["seconds"] = summary["methods"][method]["seconds"]
            row["n_patterns"] = summary["n_patterns"]
            labels = {"case": case.name, "seed": seed, "seed_index": k, "method": method,
                      "dose_counts": case.dose_counts, "damage": case.damage,
                      "nlpar": case.nlpar, "unseen_physics": case.unseen_physics}  # fmt: skip
            table.append(labels | row)
        studies[f"{case.name}/seed{seed}"] = {
            "seconds": time.perf_counter() - t0,
            "load_average_after": list(os.getloadavg()),
            "neural": info,
        }
        if not case.nlpar and not case.unseen_physics:  # the runs of the calibration goal
            truth = load_crystal_map(run_dir / "truth.h5")
            neural = load_crystal_map(run_dir / "neural.h5")
            indexed = (truth.phase_id >= 0) & (neural.phase_id >= 0)
            err = orientation_error_map(truth, neural)
            unc_all.append(np.asarray(neural.prop["uncertainty_deg"])[indexed])
            err_all.append(err[indexed])
        save_json(_summary(path, config, table, studies), out / "summary.json")
    summary = _summary(path, config, table, studies)
    save_json(summary, out / "summary.json")
    plot_evaluation(table, out / "evaluation.png", f"{Path(path).name} on held-out scenes")
    err = np.concatenate(err_all) if err_all else np.zeros(0)
    unc = np.concatenate(unc_all) if unc_all else np.zeros(0)
    plot_calibration(unc, err, out / "calibration.png", "neural: predicted vs observed error")
    return summary


def format_evaluation(summary: dict) -> str:
    """A fixed-width table of the pooled rows and the goals."""
    head = (
        f"{'method':<16}{'median°':>9}{'p95°':>8}{'<2°':>7}{'<5°':>7}{'pore IoU':>10}{'pat/s':>9}"
    )
    lines = [head, "-" * len(head)]

    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"

    for name, m in summary["pooled"].items():
        lines.append(
            f"{name:<16}{f(m['median_error_deg'], '9.3f')}{f(m['p95_error_deg'], '8.2f')}"
            f"{f(m['fraction_within_2deg'], '7.3f')}{f(m['fraction_within_5deg'], '7.3f')}"
            f"{f(m['pore_iou'], '10.3f')}{f(m['patterns_per_second'], '9.1f')}"
        )
    lines.append("")
    for g in summary["goals"]:
        spread = f" ± {g['seed_sd']:.3f} over {len(g['per_seed'])} seeds" if g["seed_sd"] else ""
        lines.append(f"{g['goal']:<58} {g['target']:>10}  {f(g['reached'], '.3f')}{spread}")
    for entry in summary.get("unseen_physics", []):
        lines += ["", f"unseen physics: {entry['case']} (its twin: {entry['twin'] or '-'}), "
                  "median° / within 5°, twin's in brackets"]  # fmt: skip
        for name, m in entry["methods"].items():
            t = m.get("twin") or {}
            lines.append(
                f"  {name:<16}{f(m['median_error_deg'], '8.3f')} / "
                f"{f(m['fraction_within_5deg'], '.3f')}  ({f(t.get('median_error_deg'), '.3f')}"
                f" / {f(t.get('fraction_within_5deg'), '.3f')})"
            )
    return "\n".join(lines)
