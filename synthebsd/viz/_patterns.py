"""Pattern figures: master patterns in the stereographic projection, pattern galleries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthebsd.viz._figure import new_figure, save_figure

__all__ = ["plot_master_pattern", "plot_pattern_grid"]


def plot_master_pattern(path: str | Path, png_path: str | Path, title: str = "") -> Path:
    """Both hemispheres of an EMsoft-layout master-pattern file, stereographic projection.

    The file is read back with kikuchipy (so the picture shows what kikuchipy sees).
    """
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    fig = new_figure((10, 5.4))
    axes = fig.subplots(1, 2)
    for ax, hemisphere in zip(axes, ("upper", "lower"), strict=True):
        mp = kp.load(path, projection="stereographic", hemisphere=hemisphere)
        data = np.asarray(mp.data, dtype=float).squeeze()
        n = data.shape[-1]
        yy, xx = np.mgrid[-1 : 1 : n * 1j, -1 : 1 : n * 1j]
        data = np.where(xx**2 + yy**2 <= 1, data, np.nan)
        ax.imshow(data, cmap="gray", extent=(-1, 1, -1, 1))
        ax.set_title(f"{mp.phase.name}, {hemisphere} hemisphere")
        ax.set_axis_off()
    fig.suptitle(f"{title} master pattern, stereographic projection".strip())
    return save_figure(fig, png_path)


def plot_pattern_grid(
    rows: Sequence[tuple[str, Sequence[tuple[np.ndarray, str]]]],
    path: str | Path,
    title: str = "",
) -> Path:
    """A grid of patterns: one row per ``(row label, [(pattern, panel label), ...])``."""
    n_cols = max(len(panels) for _, panels in rows)
    fig = new_figure((2.6 * n_cols, 3.0 * len(rows)), layout="tight")
    axes = np.asarray(fig.subplots(len(rows), n_cols, squeeze=False))
    for (name, panels), ax_row in zip(rows, axes, strict=True):
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
        for (image, label), ax in zip(panels, ax_row, strict=False):
            ax.imshow(image, cmap="gray")
            ax.set_title(label, fontsize=8)
        ax_row[0].set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=110, tight=False)
