"""Figures without pyplot: no global state, no backend switch, written atomically.

Every figure of synthebsd is a :class:`matplotlib.figure.Figure` made here and saved with
:func:`save_figure`; matplotlib's Agg canvas renders it whatever backend the user's
session (a notebook, a GUI) has selected, and that backend is never changed.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from synthebsd.io import atomic_path

__all__ = ["colormap", "new_figure", "save_figure"]


def new_figure(figsize: tuple[float, float], **kwargs) -> Figure:
    """A figure of ``figsize`` inches (keyword arguments as for :class:`Figure`)."""
    return Figure(figsize=figsize, **kwargs)


def colormap(name: str):
    """A registered matplotlib colour map by name (a copy: safe to modify)."""
    return mpl.colormaps[name].copy()


def save_figure(fig: Figure, path: str | Path, dpi: int = 120, tight: bool = True) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (temporary name, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight" if tight else None)
    return path
