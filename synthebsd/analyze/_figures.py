"""Figures of ground truth and indexing results (matplotlib, written to PNG).

IPF colours use orix's TSL colour key for each phase's point group, for the sample
direction normal to the cross-section (Z, out of the map).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from orix.crystal_map import CrystalMap
from orix.plot import IPFColorKeyTSL
from orix.vector import Vector3d

__all__ = [
    "ipf_rgb",
    "plot_error_histogram",
    "plot_error_map",
    "plot_ipf_key",
    "plot_ipf_map",
    "plot_master_pattern",
    "plot_region_map",
]

# IPF colours use every hue, so non-crystal points are drawn in black and greys.
_NOT_INDEXED_RGB = (0.0, 0.0, 0.0)
_ELECTROLYTE_RGB = (0.55, 0.55, 0.55)
_REGION_COLOURS = {  # Region code → (label, colour)
    0: ("collector", "tab:orange"),
    1: ("metal", "tab:blue"),
    2: ("pore", "black"),
    3: ("electrolyte", "0.55"),
}


def ipf_rgb(xmap: CrystalMap, direction: Vector3d | None = None) -> np.ndarray:
    """IPF colours (rows, cols, 3) in [0, 1].

    Points without an orientation are black; in a ground-truth map (with a ``region``
    property) the electrolyte is grey and pores stay black.
    """
    direction = Vector3d.zvector() if direction is None else direction
    rgb = np.zeros((xmap.size, 3))
    rgb[:] = _NOT_INDEXED_RGB
    for pid, phase in xmap.phases:
        if pid < 0:
            continue
        mask = xmap.phase_id == pid
        if mask.any():
            key = IPFColorKeyTSL(phase.point_group, direction=direction)
            rgb[mask] = key.orientation2color(xmap[mask].orientations)
    if "region" in xmap.prop:
        rgb[np.asarray(xmap.prop["region"]) == 3] = _ELECTROLYTE_RGB
    return rgb.reshape(*xmap.shape, 3)


def _extent(xmap: CrystalMap) -> list[float]:
    rows, cols = xmap.shape
    return [0, cols * xmap.dx, rows * xmap.dy, 0]


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_ipf_map(xmap: CrystalMap, path: str | Path, title: str) -> None:
    """IPF-Z map with a phase legend; black = not indexed / not indexable, red = pore."""
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.imshow(ipf_rgb(xmap), extent=_extent(xmap), interpolation="nearest")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm), depth from top")
    ax.set_title(title)
    names = [ph.name for pid, ph in xmap.phases if pid >= 0]
    legend = ("black: pore\ngrey: electrolyte") if "region" in xmap.prop else "black: not indexed"
    ax.text(
        1.01,
        0.0,
        "IPF-Z colours\nphases: " + ", ".join(names) + "\n" + legend,
        transform=ax.transAxes,
        va="bottom",
        fontsize=8,
    )
    _save(fig, Path(path))


def grain_boundary_segments(grain_id: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Pixel-edge segments ((x0, y0), (x1, y1)) in µm between pixels of different grains.

    Edges next to points outside grains (``grain_id`` < 0) are not boundaries.
    """
    rows, cols = np.nonzero(
        (grain_id[:, 1:] != grain_id[:, :-1]) & (grain_id[:, 1:] >= 0) & (grain_id[:, :-1] >= 0)
    )
    vertical = [
        ((c + 1) * dx, r * dy, (c + 1) * dx, (r + 1) * dy)
        for r, c in zip(rows, cols, strict=False)
    ]
    rows, cols = np.nonzero(
        (grain_id[1:, :] != grain_id[:-1, :]) & (grain_id[1:, :] >= 0) & (grain_id[:-1, :] >= 0)
    )
    horizontal = [
        (c * dx, (r + 1) * dy, (c + 1) * dx, (r + 1) * dy)
        for r, c in zip(rows, cols, strict=False)
    ]
    return np.array(vertical + horizontal, dtype=float).reshape(-1, 2, 2)


def plot_region_map(truth: CrystalMap, path: str | Path) -> None:
    """Regions of a ground-truth map (collector, metal, pore, electrolyte) with grain
    boundaries drawn where neighbouring ``grain_id`` values differ."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap

    region = np.asarray(truth.prop["region"]).reshape(truth.shape)
    grains = np.asarray(truth.prop["grain_id"]).reshape(truth.shape)
    codes = sorted(_REGION_COLOURS)
    cmap = ListedColormap([_REGION_COLOURS[c][1] for c in codes])
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.imshow(
        region,
        cmap=cmap,
        vmin=-0.5,
        vmax=len(codes) - 0.5,
        extent=_extent(truth),
        interpolation="nearest",
    )
    ax.add_collection(
        LineCollection(
            grain_boundary_segments(grains, truth.dx, truth.dy), colors="white", linewidths=0.8
        )
    )
    handles = [plt.Rectangle((0, 0), 1, 1, color=_REGION_COLOURS[c][1]) for c in codes]
    names = {
        0: truth.phases[1].name if 1 in truth.phases.ids else "collector",
        1: truth.phases[0].name if 0 in truth.phases.ids else "metal",
    }
    labels = [f"{_REGION_COLOURS[c][0]}" + (f" ({names[c]})" if c in names else "") for c in codes]
    n_pore = int(np.sum(region == 2))
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_title(f"Regions and grain boundaries; porosity {n_pore / region.size:.1%} of map")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    _save(fig, Path(path))


def plot_master_pattern(path: str | Path, png_path: str | Path, title: str = "") -> None:
    """Both hemispheres of an EMsoft-layout master-pattern file, stereographic projection.

    The file is read back with kikuchipy (so the picture shows what kikuchipy sees).
    """
    import kikuchipy as kp

    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4))
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
    _save(fig, Path(png_path))


def plot_ipf_key(xmap: CrystalMap, path: str | Path) -> None:
    """orix's IPF-Z colour key for each phase of the map, side by side."""
    phases = [ph for pid, ph in xmap.phases if pid >= 0]
    fig = plt.figure(figsize=(3 * len(phases), 3))
    for i, phase in enumerate(phases):
        ax = fig.add_subplot(1, len(phases), i + 1, projection="ipf", symmetry=phase.point_group)
        ax.plot_ipf_color_key(show_title=False)
        ax.set_title(f"{phase.name} ({phase.point_group.name}), IPF-Z", pad=20)
    _save(fig, Path(path))


def plot_error_map(
    truth: CrystalMap, errors: np.ndarray, path: str | Path, title: str, vmax_deg: float = 5.0
) -> None:
    """Map of disorientation to truth in degrees; grey where truth has no orientation,
    magenta where the method failed (not indexed or wrong phase)."""
    rgba = plt.get_cmap("viridis")(np.clip(np.nan_to_num(errors) / vmax_deg, 0, 1))
    failed = (truth.phase_id >= 0) & np.isnan(errors)
    rgba[truth.phase_id < 0] = (0.6, 0.6, 0.6, 1.0)
    rgba[failed] = (1.0, 0.0, 1.0, 1.0)
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.imshow(rgba.reshape(*truth.shape, 4), extent=_extent(truth), interpolation="nearest")
    sm = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, vmax_deg))
    fig.colorbar(sm, ax=ax, label=f"disorientation to truth (°, clipped at {vmax_deg:g})")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"{title}\ngrey: not indexable, magenta: not indexed / wrong phase")
    _save(fig, Path(path))


def plot_error_histogram(errors_by_method: dict[str, np.ndarray], path: str | Path) -> None:
    """Histogram of disorientation errors (log-spaced bins) for each method."""
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.logspace(-3, np.log10(62.8), 60)
    for name, err in errors_by_method.items():
        e = err[~np.isnan(err)]
        if e.size:
            ax.hist(
                np.clip(e, bins[0], None),
                bins=bins,
                histtype="step",
                lw=1.5,
                label=f"{name} (median {np.median(e):.2f}°, n={e.size})",
            )
    ax.set_xscale("log")
    ax.axvline(2, color="k", ls=":", lw=1)
    ax.set_xlabel("disorientation to truth (°)")
    ax.set_ylabel("points")
    ax.legend(fontsize=8)
    _save(fig, Path(path))
