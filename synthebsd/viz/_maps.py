"""Map figures: IPF colours, regions, errors against truth, scores, dose.

IPF colours use orix's TSL colour key for each phase's point group, by default for the
sample direction normal to the cross-section (Z, out of the map). Region colours are
:data:`synthebsd.conventions.REGION_COLOURS` in every figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize, to_rgb
from matplotlib.patches import Rectangle
from orix.crystal_map import CrystalMap
from orix.plot import IPFColorKeyTSL
from orix.vector import Vector3d

from synthebsd.conventions import REGION_COLOURS, Region
from synthebsd.viz._figure import colormap, new_figure, save_figure

__all__ = [
    "grain_boundary_segments",
    "ipf_rgb",
    "plot_dose_map",
    "plot_error_histogram",
    "plot_error_map",
    "plot_ipf_key",
    "plot_ipf_map",
    "plot_method_comparison",
    "plot_region_map",
    "plot_score_map",
    "region_colormap",
]


def region_colormap() -> ListedColormap:
    """Colour map of the region codes 0 … 3 (use ``vmin=-0.5, vmax=3.5``)."""
    return ListedColormap([REGION_COLOURS[r] for r in Region])


def ipf_rgb(xmap: CrystalMap, direction: Vector3d | None = None) -> np.ndarray:
    """IPF colours (rows, cols, 3) in [0, 1] (a 1-D map: (n, 3)).

    Points without an orientation are black; in a ground-truth map (with a ``region``
    property) the electrolyte without an orientation takes its region colour.
    """
    direction = Vector3d.zvector() if direction is None else direction
    rgb = np.zeros((xmap.size, 3))
    for pid, phase in xmap.phases:
        if pid < 0:
            continue
        mask = xmap.phase_id == pid
        if mask.any():
            key = IPFColorKeyTSL(phase.point_group, direction=direction)
            rgb[mask] = key.orientation2color(xmap[mask].orientations)
    if "region" in xmap.prop:
        electrolyte = (np.asarray(xmap.prop["region"]) == Region.ELECTROLYTE) & (xmap.phase_id < 0)
        rgb[electrolyte] = to_rgb(REGION_COLOURS[Region.ELECTROLYTE])
    return rgb.reshape(*xmap.shape, 3)


def _extent(xmap: CrystalMap) -> list[float]:
    rows, cols = xmap.shape if xmap.ndim == 2 else (1, xmap.size)
    dy = xmap.dy if xmap.ndim == 2 else xmap.dx
    return [0, cols * xmap.dx, rows * dy, 0]


def _unit(xmap: CrystalMap) -> str:
    return "µm" if xmap.scan_unit in ("um", "µm") else xmap.scan_unit


def plot_ipf_map(xmap: CrystalMap, path: str | Path, title: str) -> Path:
    """IPF-Z map with a phase legend; black: not indexed or pore, grey: electrolyte."""
    fig = new_figure((7, 5))
    ax = fig.add_subplot()
    rows, cols = xmap.shape if xmap.ndim == 2 else (1, xmap.size)
    ax.imshow(ipf_rgb(xmap).reshape(rows, cols, 3), extent=_extent(xmap), interpolation="nearest")
    ax.set_xlabel(f"x ({_unit(xmap)})")
    ax.set_ylabel(f"y ({_unit(xmap)}), depth from top")
    ax.set_title(title)
    names = [ph.name for pid, ph in xmap.phases if pid >= 0]
    legend = "black: pore\ngrey: electrolyte" if "region" in xmap.prop else "black: not indexed"
    ax.text(
        1.01,
        0.0,
        "IPF-Z colours\nphases: " + ", ".join(names) + "\n" + legend,
        transform=ax.transAxes,
        va="bottom",
        fontsize=8,
    )
    return save_figure(fig, path)


def grain_boundary_segments(grain_id: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Pixel-edge segments ((x0, y0), (x1, y1)) in µm between pixels of different grains.

    Edges next to points outside grains (``grain_id`` < 0) are not boundaries.
    """
    rows, cols = np.nonzero(
        (grain_id[:, 1:] != grain_id[:, :-1]) & (grain_id[:, 1:] >= 0) & (grain_id[:, :-1] >= 0)
    )
    vertical = [
        ((c + 1) * dx, r * dy, (c + 1) * dx, (r + 1) * dy) for r, c in zip(rows, cols, strict=True)
    ]
    rows, cols = np.nonzero(
        (grain_id[1:, :] != grain_id[:-1, :]) & (grain_id[1:, :] >= 0) & (grain_id[:-1, :] >= 0)
    )
    horizontal = [
        (c * dx, (r + 1) * dy, (c + 1) * dx, (r + 1) * dy) for r, c in zip(rows, cols, strict=True)
    ]
    return np.array(vertical + horizontal, dtype=float).reshape(-1, 2, 2)


def plot_region_map(
    truth: CrystalMap, path: str | Path, phase_names: dict[str, str] | None = None
) -> Path:
    """Regions of a ground-truth map with grain boundaries where ``grain_id`` changes.

    ``phase_names`` (region name → phase name, e.g. ``{"metal": "Li"}``) labels the legend.
    """
    region = np.asarray(truth.prop["region"]).reshape(truth.shape)
    grains = np.asarray(truth.prop["grain_id"]).reshape(truth.shape)
    fig = new_figure((7, 5))
    ax = fig.add_subplot()
    ax.imshow(
        region,
        cmap=region_colormap(),
        vmin=-0.5,
        vmax=3.5,
        extent=_extent(truth),
        interpolation="nearest",
    )
    ax.add_collection(
        LineCollection(
            grain_boundary_segments(grains, truth.dx, truth.dy), colors="white", linewidths=0.8
        )
    )
    names = phase_names or {}
    handles = [Rectangle((0, 0), 1, 1, color=REGION_COLOURS[r]) for r in Region]
    labels = [
        r.name.lower() + (f" ({names[r.name.lower()]})" if r.name.lower() in names else "")
        for r in Region
    ]
    n_pore = int(np.sum(region == Region.PORE))
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_title(f"Regions and grain boundaries; porosity {n_pore / region.size:.1%} of map")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    return save_figure(fig, path)


def plot_ipf_key(xmap: CrystalMap, path: str | Path) -> Path:
    """orix's IPF-Z colour key for each phase of the map, side by side."""
    import orix.plot  # noqa: F401  (registers orix's "ipf" projection)

    phases = [ph for pid, ph in xmap.phases if pid >= 0]
    fig = new_figure((3 * len(phases), 3))
    for i, phase in enumerate(phases):
        ax = fig.add_subplot(1, len(phases), i + 1, projection="ipf", symmetry=phase.point_group)
        ax.plot_ipf_color_key(show_title=False)
        ax.set_title(f"{phase.name} ({phase.point_group.name}), IPF-Z", pad=20)
    return save_figure(fig, path)


def plot_error_map(
    truth: CrystalMap, errors: np.ndarray, path: str | Path, title: str, vmax_deg: float = 5.0
) -> Path:
    """Map of disorientation to truth in degrees; grey where truth has no orientation,
    magenta where the method failed (not indexed or wrong phase)."""
    rgba = colormap("viridis")(np.clip(np.nan_to_num(errors) / vmax_deg, 0, 1))
    failed = (truth.phase_id >= 0) & np.isnan(errors)
    rgba[truth.phase_id < 0] = (0.6, 0.6, 0.6, 1.0)
    rgba[failed] = (1.0, 0.0, 1.0, 1.0)
    fig = new_figure((7, 5))
    ax = fig.add_subplot()
    ax.imshow(rgba.reshape(*truth.shape, 4), extent=_extent(truth), interpolation="nearest")
    sm = ScalarMappable(cmap="viridis", norm=Normalize(0, vmax_deg))
    fig.colorbar(sm, ax=ax, label=f"disorientation to truth (°, clipped at {vmax_deg:g})")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"{title}\ngrey: not indexable, magenta: not indexed / wrong phase")
    return save_figure(fig, path)


def plot_error_histogram(errors_by_method: dict[str, np.ndarray], path: str | Path) -> Path:
    """Histogram of disorientation errors (log-spaced bins) for each method."""
    fig = new_figure((7, 4))
    ax = fig.add_subplot()
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
    return save_figure(fig, path)


def plot_error_curves(
    errors_by_method: dict[str, np.ndarray], path: str | Path, title: str = ""
) -> Path:
    """Cumulative fraction of points within each disorientation error, per method.

    Not-indexed points (NaN) count as failures: a curve ends below 1 by their share.
    The legend (beside the axes) gives the median of the indexed points and the
    fraction within 2°.
    """
    fig = new_figure((10, 4.5))
    ax = fig.add_axes((0.08, 0.12, 0.5, 0.78))
    grid = np.logspace(-3, np.log10(62.8), 400)
    colours = colormap("tab10").colors
    for i, (name, err) in enumerate(errors_by_method.items()):
        err = np.asarray(err, dtype=float)
        if err.size == 0:
            continue
        e = np.sort(np.where(np.isnan(err), np.inf, err))
        frac = np.searchsorted(e, grid, side="right") / err.size
        ok = e[np.isfinite(e)]
        median = f"{np.median(ok):.3f}°" if ok.size else "–"
        ax.plot(
            grid,
            frac,
            lw=1.4,
            color=colours[i % len(colours)],
            ls=("-", "--", ":")[(i // len(colours)) % 3],
            label=f"{name} (median {median}, ≤2°: {np.mean(err <= 2):.1%})",
        )
    ax.set_xscale("log")
    ax.axvline(2, color="k", ls=":", lw=1)
    ax.set_xlabel("disorientation to truth (°)")
    ax.set_ylabel("fraction of points within")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return save_figure(fig, path)


def plot_score_map(xmap: CrystalMap, score: str, path: str | Path, title: str) -> Path:
    """Map of an indexing score property (NCC, Hough ``cm``); black where not indexed."""
    rows, cols = xmap.shape if xmap.ndim == 2 else (1, xmap.size)
    values = np.asarray(xmap.prop[score], dtype=float)
    image = np.ma.masked_where(xmap.phase_id < 0, values).reshape(rows, cols)
    fig = new_figure((7, 5))
    ax = fig.add_subplot()
    cmap = colormap("viridis").with_extremes(bad="black")
    im = ax.imshow(image, cmap=cmap, extent=_extent(xmap), interpolation="nearest")
    fig.colorbar(im, ax=ax, label=f"{score} (black: not indexed)")
    ax.set_xlabel(f"x ({_unit(xmap)})")
    ax.set_ylabel(f"y ({_unit(xmap)})")
    ax.set_title(title)
    return save_figure(fig, path)


def plot_dose_map(truth: CrystalMap, dose_e_per_nm2: np.ndarray, path: str | Path) -> Path:
    """The cumulative dose while each pattern was recorded (scan order, probe tails)."""
    fig = new_figure((7, 5))
    ax = fig.add_subplot()
    im = ax.imshow(
        np.asarray(dose_e_per_nm2).reshape(truth.shape), extent=_extent(truth), cmap="magma"
    )
    fig.colorbar(im, ax=ax, label="cumulative dose (e/nm²)")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title("Dose while each pattern was recorded (scan order, probe tails)")
    return save_figure(fig, path)


def plot_method_comparison(methods: dict[str, dict], path: str | Path) -> Path:
    """Each method's success within 2° and 5° under every forward model, side by side.

    ``methods`` is the study's summary (``forward_model`` and ``fraction_within_*deg`` per
    method); names ending in ``_<forward model>`` are grouped with their base method.
    """
    models = list(dict.fromkeys(m["forward_model"] for m in methods.values()))
    base = {}
    for name, m in methods.items():
        suffix = f"_{m['forward_model']}"
        key = name[: -len(suffix)] if name.endswith(suffix) else name
        base.setdefault(key, {})[m["forward_model"]] = m
    names = list(base)
    fig = new_figure((max(6.0, 1.4 * len(names)), 4.5))
    ax = fig.add_subplot()
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(names))
    colours = colormap("tab10")
    for k, model in enumerate(models):
        for limit, alpha in ((5, 0.35), (2, 1.0)):
            values = [
                (base[n][model].get(f"fraction_within_{limit}deg") or 0.0)
                if model in base[n]
                else np.nan
                for n in names
            ]
            ax.bar(
                x + (k - (len(models) - 1) / 2) * width,
                values,
                width * 0.95,
                color=colours(k),
                alpha=alpha,
                label=f"{model}: within {limit}°",
            )
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of indexable points")
    ax.set_title("Success against truth: realistic patterns vs the indexer's own (matched)")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)
