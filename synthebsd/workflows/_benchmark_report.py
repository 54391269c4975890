"""The benchmark's report: results.json, CSV tables and figures from the point records."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthebsd.config import AXES, BenchmarkConfig
from synthebsd.io import atomic_path, save_json
from synthebsd.viz import plot_metric_bars, plot_metric_lines

__all__ = ["FLAT_METRICS", "flat_metrics", "summarise", "write_report"]

#: Column name → path into a method's metrics (``method_metrics`` plus timings).
FLAT_METRICS: dict[str, tuple[str, ...]] = {
    "fraction_within_1deg": ("orientation", "fraction_within_1deg"),
    "fraction_within_2deg": ("orientation", "fraction_within_2deg"),
    "fraction_within_5deg": ("orientation", "fraction_within_5deg"),
    "median_error_deg": ("orientation", "median_error_deg"),
    "mean_error_deg": ("orientation", "mean_error_deg"),
    "p95_error_deg": ("orientation", "p95_error_deg"),
    "fraction_not_indexed": ("orientation", "fraction_not_indexed"),
    "fraction_wrong_phase": ("orientation", "fraction_wrong_phase"),
    "pore_iou": ("pores", "iou"),
    "pore_precision": ("pores", "precision"),
    "pore_recall": ("pores", "recall"),
    "grains_true": ("grains", "n_true"),
    "grains_found": ("grains", "n_found"),
    "grain_ecd_relative_error": ("grains", "mean_ecd_relative_error"),
    "grain_ks_distance": ("grains", "ks_distance"),
    "grains_matched": ("grains", "fraction_matched"),
    "texture_index_difference": ("texture", "texture_index_difference"),
    "odf_distance": ("texture", "odf_distance"),
    "confidence_roc_auc": ("confidence", "roc_auc"),
    "confidence_threshold": ("confidence", "best_threshold"),
    "confidence_precision": ("confidence", "precision"),
    "confidence_recall": ("confidence", "recall"),
    "patterns_per_second": ("patterns_per_second",),
}


def _get(d: Any, path: tuple[str, ...]) -> float:
    for key in path:
        if not isinstance(d, dict) or d.get(key) is None:
            return float("nan")
        d = d[key]
    return float(d)


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """A method's headline numbers (:data:`FLAT_METRICS`, NaN where undefined), plus the
    metal's success within 2° (``metal_fraction_within_2deg``)."""
    out = {name: _get(metrics, path) for name, path in FLAT_METRICS.items()}
    metal = (metrics.get("grains") or {}).get("phase")
    out["metal_fraction_within_2deg"] = _get(
        metrics, ("orientation", "per_phase", str(metal), "fraction_within_2deg")
    )
    return out


def summarise(records: Sequence[dict]) -> list[dict[str, Any]]:
    """Mean, standard deviation (over seeds, ddof 1), min and max of every headline number
    per grid point and method, with the point's peak memory and task time."""
    groups: dict[str, list[dict]] = {}
    for rec in records:
        groups.setdefault(rec["key"], []).append(rec)
    rows = []
    for key, recs in groups.items():
        methods = list(dict.fromkeys(m for r in recs for m in r["methods"]))
        for method in methods:
            flats = [flat_metrics(r["methods"][method]) for r in recs if method in r["methods"]]
            row: dict[str, Any] = {"key": key, **recs[0]["point"], "method": method}
            row["n_seeds"] = len(flats)
            for name in flats[0]:
                v = np.array([f[name] for f in flats], dtype=float)
                ok = v[np.isfinite(v)]
                row[f"{name}_mean"] = float(ok.mean()) if ok.size else None
                row[f"{name}_std"] = float(ok.std(ddof=1)) if ok.size > 1 else None
                row[f"{name}_min"] = float(ok.min()) if ok.size else None
                row[f"{name}_max"] = float(ok.max()) if ok.size else None
            row["peak_rss_gib_max"] = max(r["peak_rss_gib"] for r in recs)
            row["task_seconds_mean"] = float(np.mean([r["seconds"] for r in recs]))
            rows.append(row)
    return rows


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    if not rows:
        return
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _on_base(row: dict, config: BenchmarkConfig, free: set[str]) -> bool:
    base = config.base.model_dump(mode="json")
    return all(row[a] == base[a] for a in AXES if a not in free)


def _series(rows, config, axis: str, metric: str, x_of=None):
    """{preset: {method: (x, mean, std)}} of the rows on the base but ``axis``/preset."""
    panels: dict[str, dict[str, tuple[list, list, list]]] = {}
    for row in rows:
        if not _on_base(row, config, {axis, "preset"}):
            continue
        x = row[axis] if x_of is None else x_of(row[axis])
        series = panels.setdefault(row["preset"], {}).setdefault(row["method"], ([], [], []))
        series[0].append(x)
        series[1].append(np.nan if row[f"{metric}_mean"] is None else row[f"{metric}_mean"])
        series[2].append(np.nan if row[f"{metric}_std"] is None else row[f"{metric}_std"])
    out = {}
    for preset, methods in panels.items():
        out[preset] = {}
        for method, (x, m, s) in methods.items():
            order = np.argsort(x)
            out[preset][method] = tuple(np.asarray(v, float)[order] for v in (x, m, s))
        if all(len(v[0]) < 2 for v in out[preset].values()):
            del out[preset]
    return out


def _figures(rows: list[dict], config: BenchmarkConfig, out: Path) -> list[str]:
    written = []
    averaged = ", patterns after NLPAR" if config.study.indexing.nlpar else ""
    success = _series(rows, config, "dose_counts", "fraction_within_2deg")
    if success:
        plot_metric_lines(
            success,
            out / "success_vs_dose.png",
            "dose (counts per pixel at the background peak)",
            "fraction of indexable points within 2°",
            f"Success vs dose (mean ± s.d. over seeds{averaged})",
            logx=True,
            ylim=(0, 1.05),
        )
        median = _series(rows, config, "dose_counts", "median_error_deg")
        plot_metric_lines(
            median,
            out / "error_vs_dose.png",
            "dose (counts per pixel at the background peak)",
            "median disorientation to truth (°)",
            f"Orientation error vs dose (points given the right phase{averaged})",
            logx=True,
        )
        pores = _series(rows, config, "dose_counts", "pore_iou")
        if pores:
            plot_metric_lines(
                pores,
                out / "pore_iou_vs_dose.png",
                "dose (counts per pixel at the background peak)",
                "pore IoU (not indexed; a network: its pore class)",
                "Pores found vs dose",
                logx=True,
                ylim=(0, 1.05),
            )
        written += ["success_vs_dose.png", "error_vs_dose.png"]
        written += ["pore_iou_vs_dose.png"] if pores else []
    damage_values = [None] + sorted(d for d in config.grid.damage if d is not None)[::-1]
    labels = ["off" if d is None else f"D_c × {d:g}" for d in damage_values]
    damage = _series(
        rows, config, "damage", "fraction_within_2deg", x_of=lambda d: damage_values.index(d)
    )
    if damage:
        plot_metric_lines(
            damage,
            out / "success_vs_damage.png",
            "beam damage (critical dose multiple; smaller = more sensitive)",
            "fraction of indexable points within 2°",
            "Success vs beam damage",
            ylim=(0, 1.05),
            xticklabels=labels,
        )
        written.append("success_vs_damage.png")
    mismatch = [
        r for r in rows if _on_base(r, config, {"forward_model", "pc_error", "indexer_engine"})
    ]
    if len({r["key"] for r in mismatch}) > 1:
        keys = list(dict.fromkeys(r["key"] for r in mismatch))
        by_key = {r["key"]: r for r in mismatch}
        labels = [
            f"{by_key[k]['forward_model']}, PC err {by_key[k]['pc_error']:g}, "
            f"{by_key[k]['indexer_engine']}"
            for k in keys
        ]
        values: dict[str, tuple[list, list]] = {}
        for method in dict.fromkeys(r["method"] for r in mismatch):
            means, stds = [], []
            for k in keys:
                row = next((r for r in mismatch if r["key"] == k and r["method"] == method), {})
                means.append(row.get("fraction_within_2deg_mean") or 0.0)
                stds.append(row.get("fraction_within_2deg_std") or 0.0)
            values[method] = (means, stds)
        plot_metric_bars(
            labels,
            values,
            out / "mismatch_cost.png",
            "fraction of indexable points within 2°",
            "The cost of each mismatch (forward model, PC error, indexer master pattern)",
        )
        written.append("mismatch_cost.png")
    return written


def write_report(
    config: BenchmarkConfig, records: list[dict], out: Path, meta: dict[str, Any]
) -> dict[str, Any]:
    """Write ``results.json``, ``results.csv`` (a row per point, seed and method),
    ``summary.csv`` (mean ± spread over seeds) and the figures; return the results."""
    per_seed = [
        {"key": r["key"], **r["point"], "seed": r["seed"], "method": m}
        | flat_metrics(metrics)
        | {"peak_rss_gib": r["peak_rss_gib"], "task_seconds": r["seconds"]}
        for r in records
        for m, metrics in r["methods"].items()
    ]
    summary = summarise(records)
    _write_csv(per_seed, out / "results.csv")
    _write_csv(summary, out / "summary.csv")
    figures = _figures(summary, config, out)
    results = {
        **meta,
        "config": config.model_dump(mode="json"),
        "n_tasks": len(records),
        "points": records,
        "summary": summary,
        "figures": figures,
    }
    save_json(results, out / "results.json")
    return results
