"""One-page panel of a generated cross-section: phases, IPF, grain boundaries, pores."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from orix.crystal_map import CrystalMap
from orix.vector import Vector3d

from synthebsd.analyze._figures import grain_boundary_segments, ipf_rgb
from synthebsd.datasets import atomic_path

__all__ = ["plot_scene_panel"]

_REGION_NAMES = ("collector", "metal", "pore", "electrolyte")
_REGION_COLOURS = ("tab:orange", "tab:blue", "black", "0.6")


def plot_scene_panel(
    xmap: CrystalMap, path: str | Path, title: str = "", phase_names: dict | None = None
) -> None:
    """Write a 2 × 2 panel PNG of a ground-truth map, atomically.

    Panels: regions (collector, metal, pore, electrolyte), IPF colours for the sample y
    axis (the growth direction up to its sign; indexable phases only, electrolyte grey
    otherwise), grain boundaries over the regions (neighbouring ``grain_id`` differ),
    and the pore mask.

    Parameters
    ----------
    xmap
        Map with ``region``, ``grain_id`` and ``pore`` properties.
    path
        PNG file to write.
    title
        Figure title.
    phase_names
        Region name → phase name, for the legend (e.g. ``{"metal": "Li"}``).
    """
    shape = xmap.shape
    extent = [0, shape[1] * xmap.dx, shape[0] * xmap.dy, 0]
    region = np.asarray(xmap.prop["region"]).reshape(shape)
    grains = np.asarray(xmap.prop["grain_id"]).reshape(shape)
    pore = np.asarray(xmap.prop["pore"]).reshape(shape).astype(bool)
    cmap = ListedColormap(list(_REGION_COLOURS))
    names = phase_names or {}
    labels = [f"{n} ({names[n]})" if n in names else n for n in _REGION_NAMES]

    fig, axes = plt.subplots(2, 2, figsize=(12, 9), constrained_layout=True)
    ax = axes[0, 0]
    ax.imshow(region, cmap=cmap, vmin=-0.5, vmax=3.5, extent=extent, interpolation="nearest")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _REGION_COLOURS]
    ax.legend(handles, labels, loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_title("phases / regions")

    ax = axes[0, 1]
    ax.imshow(ipf_rgb(xmap, Vector3d.yvector()), extent=extent, interpolation="nearest")
    ax.set_title("IPF-Y (growth direction); black: pore, grey: not indexable")

    ax = axes[1, 0]
    ax.imshow(
        region, cmap=cmap, vmin=-0.5, vmax=3.5, extent=extent, interpolation="nearest", alpha=0.6
    )
    segments = grain_boundary_segments(grains, xmap.dx, xmap.dy)
    ax.add_collection(LineCollection(segments, colors="k", linewidths=0.4))
    n_grains = len(np.unique(grains[grains >= 0]))
    ax.set_title(f"grain boundaries ({n_grains} grains)")

    ax = axes[1, 1]
    ax.imshow(pore, cmap="gray_r", extent=extent, interpolation="nearest")
    metal = (region == 1).sum()
    porosity = pore.sum() / max(pore.sum() + metal, 1)
    ax.set_title(f"pore mask (porosity {porosity:.1%} of the metal layer)")
    for ax in axes.ravel():
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    if title:
        fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
