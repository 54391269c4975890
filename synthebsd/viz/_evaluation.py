"""The figure of ``synthebsd evaluate``: every method on every held-out case."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthebsd.viz._figure import colormap, new_figure, save_figure

__all__ = ["plot_evaluation"]


def _mean_sd(rows: list[dict], key: str, missing: float | None) -> tuple[float, float]:
    """Mean and s.d. (0 for one value) of ``key`` over ``rows``; None values count as
    ``missing``, or are left out where it is None."""
    values = [r.get(key) for r in rows]
    values = [missing if v is None else v for v in values]
    values = np.array([v for v in values if v is not None], dtype=float)
    if values.size == 0:
        return np.nan, 0.0
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def plot_evaluation(table: list[dict], path: str | Path, title: str = "") -> Path:
    """Success within 2° (solid) and 5° (light), and the median error, per case and method.

    ``table`` holds rows with ``case``, ``method``, ``fraction_within_2deg``,
    ``fraction_within_5deg`` and ``median_error_deg`` (degrees), as in
    ``synthebsd evaluate``'s ``summary.json``; several rows of one case and method (its
    seeds) give the mean, with the standard deviation over them as an error bar.
    """
    cases = list(dict.fromkeys(r["case"] for r in table))
    methods = list(dict.fromkeys(r["method"] for r in table))
    by: dict[tuple[str, str], list[dict]] = {}
    for r in table:
        by.setdefault((r["case"], r["method"]), []).append(r)
    n_seeds = max((len(v) for v in by.values()), default=1)
    fig = new_figure((max(7.0, 1.3 * len(cases) * max(1, len(methods)) / 3), 7.5))
    top, bottom = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)
    x = np.arange(len(cases))
    width = 0.8 / max(len(methods), 1)
    colours = colormap("tab10")
    empty: list[dict] = []
    for k, method in enumerate(methods):
        offset = x + (k - (len(methods) - 1) / 2) * width
        for key, alpha, label in (
            ("fraction_within_5deg", 0.35, None),
            ("fraction_within_2deg", 1.0, method),
        ):
            stats = [_mean_sd(by.get((c, method), empty), key, 0.0) for c in cases]
            mean, sd = np.array(stats).T
            top.bar(offset, mean, width * 0.95, color=colours(k), alpha=alpha, label=label,
                    yerr=sd if n_seeds > 1 else None, error_kw={"lw": 0.8})  # fmt: skip
        stats = [_mean_sd(by.get((c, method), empty), "median_error_deg", None) for c in cases]
        mean, sd = np.array(stats).T
        bottom.bar(
            offset,
            np.maximum(mean, 1e-3),
            width * 0.95,
            color=colours(k),
            yerr=sd if n_seeds > 1 else None,
            error_kw={"lw": 0.8},
        )
    seeds = f", mean ± s.d. over {n_seeds} seeds" if n_seeds > 1 else ""
    top.set_xticks(x, [""] * len(cases))  # the cases are named under the lower panel
    top.set_ylim(0, 1.05)
    top.set_ylabel("fraction of indexable points")
    top.set_title(f"{title}: within 2° (solid), 5° (light){seeds}")
    top.legend(fontsize=7, loc="upper right", ncol=len(methods))
    bottom.set_xticks(x, cases, rotation=15, ha="right")
    bottom.set_yscale("log")
    bottom.set_ylabel("median error (°)")
    bottom.axhline(1.0, color="k", lw=0.8, ls=":")
    bottom.axhline(0.2, color="k", lw=0.8, ls="--")
    bottom.set_title("median disorientation of points given the right phase (goals: 1°, 0.2°)")
    return save_figure(fig, path)
