"""Benchmark and in-situ figures: metric curves per method with their spread over seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from synthebsd.viz._figure import colormap, new_figure, save_figure

__all__ = ["plot_insitu_series", "plot_metric_bars", "plot_metric_lines"]

Series = tuple[Sequence[float], Sequence[float], Sequence[float]]


def _legend_of_all(target, axes, fontsize: float) -> None:
    """One legend on ``target`` for every method drawn in any of ``axes`` (a method
    missing from the last panel, e.g. a network skipped for a cell, is still named)."""
    handles: dict[str, object] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    target.legend(list(handles.values()), list(handles), fontsize=fontsize, loc="best")


def _colours(names: Sequence[str]) -> dict[str, tuple]:
    cmap = colormap("tab10")
    return {name: cmap(k % 10) for k, name in enumerate(names)}


def plot_metric_lines(
    panels: Mapping[str, Mapping[str, Series]],
    path: str | Path,
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
    ylim: tuple[float, float] | None = None,
    xticklabels: Sequence[str] | None = None,
) -> Path:
    """One panel per key of ``panels``, one line per method: mean ± spread.

    Parameters
    ----------
    panels
        ``{panel title: {method: (x, mean, spread)}}``; ``spread`` (e.g. the standard
        deviation over seeds) is drawn as error bars, NaN values are gaps.
    path
        PNG file.
    xlabel, ylabel, title
        Axis labels (with units) and figure title.
    logx
        Logarithmic x axis (doses).
    ylim
        y limits; default automatic.
    xticklabels
        Labels of x = 0, 1, … (a categorical axis such as damage settings).
    """
    if not panels:
        raise ValueError("No data to plot")
    names = list(dict.fromkeys(m for series in panels.values() for m in series))
    colours = _colours(names)
    n = len(panels)
    fig = new_figure((4.2 * n + 1.0, 3.8))
    axes = fig.subplots(1, n, squeeze=False, sharey=True)[0]
    for ax, (panel, series) in zip(axes, panels.items(), strict=True):
        for method, (x, mean, spread) in series.items():
            ax.errorbar(
                np.asarray(x, float),
                np.asarray(mean, float),
                yerr=np.asarray(spread, float),
                marker="o",
                ms=4,
                capsize=3,
                color=colours[method],
                label=method,
            )
        if logx:
            ax.set_xscale("log")
        if xticklabels is not None:
            ax.set_xticks(np.arange(len(xticklabels)), xticklabels)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    _legend_of_all(axes[-1], axes, fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_metric_bars(
    labels: Sequence[str],
    values: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    ylabel: str,
    title: str,
    ylim: tuple[float, float] | None = (0.0, 1.05),
) -> Path:
    """Grouped bars: one group per label, one bar per method (mean ± spread).

    ``values`` is ``{method: (means, spreads)}``, each as long as ``labels``.
    """
    if not labels or not values:
        raise ValueError("No data to plot")
    colours = _colours(list(values))
    fig = new_figure((max(6.0, 1.3 * len(labels) + 2), 4.5))
    ax = fig.add_subplot()
    width = 0.8 / len(values)
    x = np.arange(len(labels))
    for k, (method, (mean, spread)) in enumerate(values.items()):
        ax.bar(
            x + (k - (len(values) - 1) / 2) * width,
            np.asarray(mean, float),
            width * 0.95,
            yerr=np.asarray(spread, float),
            capsize=2,
            color=colours[method],
            label=method,
        )
    ax.set_xticks(x, labels, rotation=25, ha="right", fontsize=8)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def plot_insitu_series(
    panels: Mapping[str, tuple[Sequence[float], Mapping[str, Sequence[float]]]],
    path: str | Path,
    title: str,
) -> Path:
    """In-situ frames: the truth and each method's measured value per frame.

    ``panels`` is ``{panel title (quantity, unit): (truth per frame, {method: values per
    frame})}``; the truth is drawn black, each method in its colour, and a lower row
    shows each method's error (measured − truth).
    """
    if not panels:
        raise ValueError("No data to plot")
    names = list(dict.fromkeys(m for _, series in panels.values() for m in series))
    colours = _colours(names)
    n = len(panels)
    fig = new_figure((4.2 * n + 1.0, 6.5))
    axes = fig.subplots(2, n, squeeze=False, sharex=True)
    for k, (panel, (truth, series)) in enumerate(panels.items()):
        top, bottom = axes[0, k], axes[1, k]
        frames = np.arange(len(truth))
        top.plot(frames, truth, "k-", lw=2.5, label="truth")
        for method, values in series.items():
            v = np.asarray(values, float)
            top.plot(frames, v, "o-", ms=3, color=colours[method], label=method)
            bottom.plot(frames, v - np.asarray(truth, float), "o-", ms=3, color=colours[method])
        bottom.axhline(0, color="k", lw=1)
        top.set_title(panel, fontsize=10)
        bottom.set_xlabel("frame")
        bottom.set_ylabel("measured − truth")
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
    _legend_of_all(axes[0, -1], axes[0], fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)
