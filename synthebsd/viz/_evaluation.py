"""The figure of ``synthebsd evaluate``: every method on every held-out case."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthebsd.viz._figure import colormap, new_figure, save_figure

__all__ = ["plot_evaluation"]


def plot_evaluation(table: list[dict], path: str | Path, title: str = "") -> Path:
    """Success within 2° (solid) and 5° (light), and the median error, per case and method.

    ``table`` holds rows with ``case``, ``method``, ``fraction_within_2deg``,
    ``fraction_within_5deg`` and ``median_error_deg`` (degrees), as in
    ``synthebsd evaluate``'s ``summary.json``.
    """
    cases = list(dict.fromkeys(r["case"] for r in table))
    methods = list(dict.fromkeys(r["method"] for r in table))
    by = {(r["case"], r["method"]): r for r in table}
    fig = new_figure((max(7.0, 1.3 * len(cases) * max(1, len(methods)) / 3), 7.5))
    top, bottom = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)
    x = np.arange(len(cases))
    width = 0.8 / max(len(methods), 1)
    colours = colormap("tab10")
    for k, method in enumerate(methods):
        offset = x + (k - (len(methods) - 1) / 2) * width
        for key, alpha, label in (
            ("fraction_within_5deg", 0.35, None),
            ("fraction_within_2deg", 1.0, method),
        ):
            values = [
                (by[(c, method)].get(key) or 0.0) if (c, method) in by else np.nan for c in cases
            ]
            top.bar(offset, values, width * 0.95, color=colours(k), alpha=alpha, label=label)
        med = [
            by[(c, method)].get("median_error_deg") if (c, method) in by else None for c in cases
        ]
        bottom.bar(
            offset,
            [np.nan if v is None else max(v, 1e-3) for v in med],
            width * 0.95,
            color=colours(k),
        )
    top.set_xticks(x, [""] * len(cases))  # the cases are named under the lower panel
    top.set_ylim(0, 1.05)
    top.set_ylabel("fraction of indexable points")
    top.set_title(f"{title}: within 2° (solid), 5° (light)")
    top.legend(fontsize=7, loc="upper right", ncol=len(methods))
    bottom.set_xticks(x, cases, rotation=15, ha="right")
    bottom.set_yscale("log")
    bottom.set_ylabel("median error (°)")
    bottom.axhline(1.0, color="k", lw=0.8, ls=":")
    bottom.axhline(0.2, color="k", lw=0.8, ls="--")
    bottom.set_title("median disorientation of points given the right phase (goals: 1°, 0.2°)")
    return save_figure(fig, path)
