"""Figures of the neural models: learning curves, uncertainty maps, calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import ticker
from matplotlib.colors import LogNorm
from matplotlib.patches import Rectangle
from orix.crystal_map import CrystalMap

from synthebsd.conventions import REGION_COLOURS, Region
from synthebsd.viz._figure import colormap, new_figure, save_figure
from synthebsd.viz._maps import _extent, _unit, region_colormap

__all__ = ["plot_calibration", "plot_class_map", "plot_learning_curves", "plot_uncertainty_map"]

_LOSS_KEYS = (
    "loss",
    "orientation_loss_deg",
    "class_loss",
    "uncertainty_loss",
    "segmentation_loss",
)
_VALIDATION_KEYS = ("median_error_deg", "fraction_within_2deg", "class_accuracy", "pore_iou")


def plot_learning_curves(history: list[dict], path: str | Path, title: str = "") -> Path:
    """Training losses against step (left) and validation metrics (right, if any).

    Parameters
    ----------
    history
        Log entries of :func:`synthebsd.models.train`: ``{"step", "loss", ...}``, and
        ``{"step", "validation": {...}}`` for validation passes.
    """
    logs = [h for h in history if "loss" in h]
    vals = [h for h in history if h.get("validation")]
    fig = new_figure((11, 4))
    ax = fig.add_subplot(1, 2, 1)
    for key in _LOSS_KEYS:
        pts = [(h["step"], h[key]) for h in logs if h.get(key) is not None]
        if pts:
            s, v = zip(*pts, strict=True)
            ax.plot(s, v, label=key, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (orientation in °)")
    if any(v > 0 for h in logs for k, v in h.items() if k in _LOSS_KEYS and v is not None):
        ax.set_yscale("symlog", linthresh=1e-2)
    ax.legend(fontsize=8)
    ax.set_title(f"{title} training".strip())
    ax2 = fig.add_subplot(1, 2, 2)
    for key in _VALIDATION_KEYS:
        pts = [
            (h["step"], h["validation"][key]) for h in vals if h["validation"].get(key) is not None
        ]
        if pts:
            s, v = zip(*pts, strict=True)
            ax2.plot(s, v, "o-", label=key, lw=1)
    ax2.set_xlabel("step")
    ax2.set_title("validation" if vals else "validation (none)")
    if vals:
        ax2.legend(fontsize=8)
    return save_figure(fig, path)


def plot_uncertainty_map(
    xmap: CrystalMap, path: str | Path, title: str, threshold_deg: float
) -> Path:
    """Map of the predicted error (``uncertainty_deg``, log scale) of every point.

    Points above ``threshold_deg`` (called not indexed) are outlined in white.
    """
    rows, cols = xmap.shape if xmap.ndim == 2 else (1, xmap.size)
    values = np.asarray(xmap.prop["uncertainty_deg"], dtype=float).reshape(rows, cols)
    fig = new_figure((7, 5))
    ax = fig.add_subplot()
    lo = max(float(np.nanmin(values)), 1e-3)
    hi = max(float(np.nanmax(values)), lo * 10)
    im = ax.imshow(
        values,
        cmap=colormap("magma"),
        norm=LogNorm(lo, hi),
        extent=_extent(xmap),
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, label="predicted error (°)")
    if rows > 1 and cols > 1 and (values > threshold_deg).any():
        xs = (np.arange(cols) + 0.5) * xmap.dx
        ys = (np.arange(rows) + 0.5) * xmap.dy
        ax.contour(
            xs, ys, (values > threshold_deg).astype(float), [0.5], colors="w", linewidths=0.7
        )
    ax.set_xlabel(f"x ({_unit(xmap)})")
    ax.set_ylabel(f"y ({_unit(xmap)})")
    ax.set_title(f"{title} (white: above {threshold_deg:g}°, not indexed)")
    return save_figure(fig, path)


def plot_calibration(
    predicted_error_deg: np.ndarray, error_deg: np.ndarray, path: str | Path, title: str = ""
) -> Path:
    """Mean observed error against the prediction, in log-spaced bins (lines: quartiles).

    The uncertainty head predicts the expected (mean) error, so a calibrated model lies
    on the diagonal.
    """
    pred = np.asarray(predicted_error_deg, dtype=float)
    err = np.asarray(error_deg, dtype=float)
    ok = np.isfinite(pred) & np.isfinite(err) & (pred > 0)
    pred, err = pred[ok], err[ok]
    fig = new_figure((5, 5))
    ax = fig.add_subplot()
    if pred.size:
        edges = np.geomspace(max(pred.min(), 1e-3), max(pred.max(), 1e-2), 13)
        idx = np.digitize(pred, edges[1:-1])
        centre, med, q1, q3 = [], [], [], []
        for b in range(len(edges) - 1):
            e = err[idx == b]
            if e.size:
                centre.append(np.sqrt(edges[b] * edges[b + 1]))
                med.append(e.mean())
                q1.append(np.percentile(e, 25))
                q3.append(np.percentile(e, 75))
        # the quartile range as a line, not error bars about the mean: a skewed bin's
        # mean can lie outside its quartiles
        ax.vlines(centre, q1, q3, color="C0")
        ax.plot(centre, med, "o", color="C0")
        ax.plot(edges[[0, -1]], edges[[0, -1]], "k:", lw=1, label="calibrated")
        ax.set_xscale("log")
        ax.set_yscale("log")
        # plain degrees on the log axes: matplotlib's default labels every minor tick
        # in 10^x notation, and they overlap over one decade
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(ticker.LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(ticker.NullFormatter())
        ax.legend(fontsize=8, title=f"{pred.size} points", title_fontsize=8)
    ax.set_xlabel("predicted error (°)")
    ax.set_ylabel("observed disorientation (°)")
    ax.set_title(title)
    return save_figure(fig, path)


def plot_class_map(xmap: CrystalMap, path: str | Path, title: str) -> Path:
    """Predicted region classes (``region`` property, Region codes) in the region colours.

    Grain-boundary points (code 4, segmentation models trained for them) are white.
    """
    rows, cols = xmap.shape if xmap.ndim == 2 else (1, xmap.size)
    codes = np.asarray(xmap.prop["region"]).reshape(rows, cols)
    fig = new_figure((7, 5))
    ax = fig.add_subplot()
    cmap = region_colormap().with_extremes(over="white")
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=3.5, extent=_extent(xmap), interpolation="nearest")
    handles = [Rectangle((0, 0), 1, 1, color=REGION_COLOURS[r]) for r in Region]
    labels = [r.name.lower() for r in Region]
    if (codes > 3).any():
        handles.append(Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="k"))
        labels.append("grain boundary")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_xlabel(f"x ({_unit(xmap)})")
    ax.set_ylabel(f"y ({_unit(xmap)})")
    ax.set_title(title)
    return save_figure(fig, path)
