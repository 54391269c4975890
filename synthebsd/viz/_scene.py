"""One-page panel of a generated cross-section: regions, IPF, grain boundaries, pores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle
from orix.crystal_map import CrystalMap
from orix.vector import Vector3d

from synthebsd.conventions import REGION_COLOURS, Region
from synthebsd.viz._figure import new_figure, save_figure
from synthebsd.viz._maps import grain_boundary_segments, ipf_rgb, region_colormap

__all__ = ["plot_scene_panel"]


def plot_scene_panel(
    xmap: CrystalMap, path: str | Path, title: str = "", phase_names: dict | None = None
) -> Path:
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
    cmap = region_colormap()
    names = phase_names or {}
    region_names = [r.name.lower() for r in Region]
    labels = [f"{n} ({names[n]})" if n in names else n for n in region_names]

    fig = new_figure((12, 9), layout="constrained")
    axes = fig.subplots(2, 2)
    ax = axes[0, 0]
    ax.imshow(region, cmap=cmap, vmin=-0.5, vmax=3.5, extent=extent, interpolation="nearest")
    handles = [Rectangle((0, 0), 1, 1, color=REGION_COLOURS[r]) for r in Region]
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
    metal = (region == Region.METAL).sum()
    porosity = pore.sum() / max(pore.sum() + metal, 1)
    ax.set_title(f"pore mask (porosity {porosity:.1%} of the metal layer)")
    for ax in axes.ravel():
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=110, tight=False)
