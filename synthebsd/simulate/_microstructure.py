"""Microstructures of anode-free cells: layered cross-sections and in-situ sequences.

A cross-section (``(row, col)``, origin top left, ``y`` down in µm) holds, from the top:
the solid electrolyte, the plated metal and the current collector, separated by rough
interfaces. Every layer is a Laguerre tessellation with log-normal grain sizes
(:mod:`synthebsd.simulate._tessellation`), equiaxed or columnar (an anisotropic metric
stretches cells along the growth direction, up the map), with grain orientations from
the layer's texture (:mod:`synthebsd.simulate._texture`). Metal grains carry smooth
orientation gradients and low-angle sub-grains; stripping voids open at the
metal|electrolyte interface.

All random ingredients of a cell (interfaces, seeds, orientations, sub-grains, pores)
are drawn once from the seed, in a fixed order; a single scene and the frames of a
plating or stripping sequence are deterministic renderings of them, so grain ids and
orientations agree between frames (a grain's orientation never changes; it only
disappears when consumed). Geometry of the sequences: the collector is fixed; the
electrolyte moves as a rigid body, lifted by plated metal and lowered by stripping; the
metal keeps its grains in the collector's frame.

Orientations are orix rotations (passive, Bunge convention, sample → crystal); sample
frame x along the columns, y down the rows, z out of the map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation
from orix.vector import Vector3d
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import cKDTree

from synthebsd._microstructure_config import LayerConfig, MicrostructureConfig
from synthebsd.phases import get_phase
from synthebsd.simulate._scene import Region, random_rotations
from synthebsd.simulate._tessellation import (
    lognormal_diameters,
    power_labels,
    prescribed_area_tessellation,
)
from synthebsd.simulate._texture import texture_orientations

__all__ = [
    "PHASE_IDS",
    "generate_microstructure",
    "plating_sequence",
    "stripping_sequence",
]

#: Phase ids of the layers in a generated map (a layer that is not indexable gets -1).
PHASE_IDS = {"metal": 0, "collector": 1, "electrolyte": 2}

# Depth of a void's centre below the interface, in void radii: the void opens into the
# metal; the part of the disk in the metal is (π − acos(0.4) + 0.4·√0.84) r² ≈ 2.349 r².
_PORE_DEPTH = 0.4
_PORE_AREA_IN_METAL = np.pi - np.arccos(_PORE_DEPTH) + _PORE_DEPTH * np.sqrt(1 - _PORE_DEPTH**2)


def rough_profile(
    n_cols: int, amplitude_px: float, correlation_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Zero-mean height profile (px) with RMS ``amplitude_px``.

    White noise filtered by a Gaussian of σ = ``correlation_px`` / 2 (periodic), so the
    autocorrelation exp(−r² / 4σ²) falls to 1/e at r = ``correlation_px``.
    """
    noise = rng.standard_normal(n_cols)
    if amplitude_px == 0:
        return np.zeros(n_cols)
    profile = gaussian_filter1d(noise, sigma=max(correlation_px / 2, 0.5), mode="wrap")
    profile -= profile.mean()
    return profile * amplitude_px / max(profile.std(), 1e-12)


@dataclass
class _Tessellation:
    """One layer's grains: pixels of its domain, their labels, seeds and orientations."""

    rows: np.ndarray  # domain pixel rows (in the layer's own frame)
    cols: np.ndarray
    labels: np.ndarray  # persistent-grain label per domain pixel
    seeds: np.ndarray  # (n, 2) seed (col, row/aspect) in the metric
    weights: np.ndarray
    rotations: np.ndarray  # (n_total, 4) quaternions, persistent then transient grains
    aspect: float = 1.0

    @property
    def n_grains(self) -> int:
        return len(self.rotations)


@dataclass
class _Cell:
    """Everything random about one generated cell; frames are rendered from it."""

    config: MicrostructureConfig
    collector_top: np.ndarray  # row of the collector surface per column (float)
    metal_top: np.ndarray  # row of the metal|electrolyte interface, full thickness
    collector: _Tessellation
    metal: _Tessellation
    electrolyte: _Tessellation
    transient_seeds: np.ndarray  # (k, 2) metal seeds consumed during plating
    transient_times: np.ndarray  # (k,) fraction of plating at which each is consumed
    grain_axes: np.ndarray  # (n_metal_total, 3) lattice-rotation axes of the gradients
    grain_gradients: np.ndarray  # (n_metal_total, 2) in-plane gradient (rad / px)
    grain_centres: np.ndarray  # (n_metal_total, 2) (col, row) gradient origins, px
    subgrain_tree: cKDTree | None
    subgrain_rotations: np.ndarray  # (n_sub, 4)
    pore_cols: np.ndarray
    pore_radii: np.ndarray  # px, nominal final radii
    pore_times: np.ndarray  # nucleation times in [0, 1)


def _tessellate(
    layer: LayerConfig,
    rows: np.ndarray,
    cols: np.ndarray,
    step_um: float,
    rng: np.random.Generator,
) -> _Tessellation:
    """Laguerre tessellation of a layer's domain pixels with its grain-size distribution."""
    g = layer.grains
    aspect = g.aspect_ratio if g.shape == "columnar" else 1.0
    if rows.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return _Tessellation(rows, cols, empty, np.empty((0, 2)), np.empty(0), np.empty((0, 4)))
    mean_px = g.mean_ecd_um / step_um
    diameters = lognormal_diameters(float(rows.size), mean_px, g.ecd_log_sigma, rng)
    points = np.column_stack([cols, rows / aspect]).astype(float)
    labels, seeds, weights = prescribed_area_tessellation(
        points, np.pi / 4 * diameters**2, rng, point_area=1.0 / aspect
    )
    return _Tessellation(rows, cols, labels, seeds, weights, np.empty((0, 4)), aspect)


def _domain(top: np.ndarray, bottom: np.ndarray, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels with top(col) ≤ row < bottom(col), rows from ``first_row``."""
    n_rows = int(np.ceil(max(bottom.max(), first_row + 1))) - first_row
    rows = np.arange(first_row, first_row + n_rows)[:, None]
    inside = (rows >= top[None, :]) & (rows < bottom[None, :])
    r, c = np.nonzero(inside)
    return r + first_row, c


def _build_cell(
    config: MicrostructureConfig,
    rng: np.random.Generator,
    orientation_sets: Mapping[str, Rotation] | None,
) -> _Cell:
    n_rows, n_cols = config.shape_px
    step = config.step_size_um
    sets = dict(orientation_sets or {})

    ci, ei = config.collector_interface, config.electrolyte_interface
    collector_top = (n_rows - config.collector.thickness_um / step) + rough_profile(
        n_cols, ci.amplitude_um / step, ci.correlation_length_um / step, rng
    )
    metal_top = (
        n_rows - (config.collector.thickness_um + config.metal.thickness_um) / step
    ) + rough_profile(n_cols, ei.amplitude_um / step, ei.correlation_length_um / step, rng)
    # No metal plated: no metal anywhere; otherwise never below the collector.
    metal_top = (
        collector_top.copy()
        if config.metal.thickness_um == 0
        else np.minimum(metal_top, collector_top)
    )

    # The electrolyte moves down by up to this many pixels in a sequence: tessellate it
    # that far above the map too.
    seq = config.sequence
    shift_max = (
        max(
            (1 - seq.initial_thickness_fraction) * config.metal.thickness_um,
            seq.stripped_thickness_um,
        )
        / step
    )
    r, c = _domain(collector_top, np.full(n_cols, float(n_rows)), 0)
    collector = _tessellate(config.collector, r, c, step, rng)
    r, c = _domain(metal_top, collector_top, 0)
    metal = _tessellate(config.metal, r, c, step, rng)
    first = -int(np.ceil(shift_max)) - 1
    r, c = _domain(np.full(n_cols, float(first)), metal_top, first)
    electrolyte = _tessellate(config.electrolyte, r, c, step, rng)

    # Transient metal grains, consumed by their neighbours during plating (coarsening).
    n_metal = len(metal.seeds)
    n_transient = int(round(seq.consumed_fraction * n_metal)) if n_metal else 0
    if n_transient:
        pick = rng.integers(metal.rows.size, size=n_transient)
        transient_seeds = np.column_stack(
            [metal.cols[pick], metal.rows[pick] / metal.aspect]
        ) + rng.uniform(-0.5, 0.5, (n_transient, 2))
        transient_times = rng.uniform(0.0, 1.0, n_transient)
    else:
        transient_seeds, transient_times = np.empty((0, 2)), np.empty(0)

    for name, tess, n in (
        ("collector", collector, len(collector.seeds)),
        ("metal", metal, n_metal + n_transient),
        ("electrolyte", electrolyte, len(electrolyte.seeds)),
    ):
        layer = getattr(config, name)
        rot = texture_orientations(layer.texture, get_phase(layer.phase), n, rng, sets.get(name))
        tess.rotations = rot.data.reshape(-1, 4)

    # Intragranular misorientation of metal grains (persistent and transient).
    intra = config.metal.intragranular
    n_all = n_metal + n_transient
    grain_axes = random_rotations(n_all, rng) * Vector3d.zvector() if n_all else Vector3d.zvector()
    grain_axes = grain_axes.data.reshape(-1, 3)[:n_all]
    direction = rng.uniform(0.0, 2 * np.pi, n_all)
    mean_px = config.metal.grains.mean_ecd_um / step
    slope = np.deg2rad(intra.gradient_deg) / mean_px
    grain_gradients = slope * np.column_stack([np.cos(direction), np.sin(direction)])
    all_seeds = np.vstack([metal.seeds, transient_seeds]) if n_all else np.empty((0, 2))
    grain_centres = all_seeds * np.array([1.0, metal.aspect])
    subgrain_tree, subgrain_rotations = None, np.empty((0, 4))
    if intra.subgrain_size_um is not None and metal.rows.size:
        sub_px = intra.subgrain_size_um / step
        n_sub = max(1, int(round(metal.rows.size / (np.pi / 4 * sub_px**2))))
        pick = rng.choice(metal.rows.size, size=min(n_sub, metal.rows.size), replace=False)
        sub_seeds = np.column_stack([metal.cols[pick], metal.rows[pick]]).astype(float)
        subgrain_tree = cKDTree(sub_seeds + rng.uniform(-0.5, 0.5, sub_seeds.shape))
        axes = random_rotations(len(pick), rng) * Vector3d.zvector()
        angles = np.abs(rng.standard_normal(len(pick))) * np.deg2rad(
            intra.subgrain_misorientation_deg
        )
        subgrain_rotations = Rotation.from_axes_angles(axes, angles).data.reshape(-1, 4)

    # Stripping voids: a pool about three times what the porosity needs (they are
    # opened in order until it is reached, see _pore_mask).
    pores = config.pores
    metal_area = float(metal.rows.size)
    pore_cols = pore_radii = pore_times = np.empty(0)
    if pores.porosity > 0 and metal_area > 0:
        mean_d = pores.mean_diameter_um / step
        mean_r2 = (mean_d / 2) ** 2 * np.exp(pores.diameter_log_sigma**2)
        n_pores = 20 + 3 * int(pores.porosity * metal_area / (_PORE_AREA_IN_METAL * mean_r2))
        mu = np.log(mean_d) - pores.diameter_log_sigma**2 / 2
        pore_radii = rng.lognormal(mu, pores.diameter_log_sigma, n_pores) / 2
        pore_cols = rng.uniform(0, n_cols, n_pores)
        pore_times = rng.uniform(0.0, 1.0, n_pores)

    return _Cell(
        config,
        collector_top,
        metal_top,
        collector,
        metal,
        electrolyte,
        transient_seeds,
        transient_times,
        grain_axes,
        grain_gradients,
        grain_centres,
        subgrain_tree,
        subgrain_rotations,
        pore_cols,
        pore_radii,
        pore_times,
    )


def _metal_labels(cell: _Cell, plating_fraction: float) -> np.ndarray:
    """Metal grain label per metal-domain pixel at a plating stage (1 = final state).

    Transient grains j with consumption time τ_j > ``plating_fraction`` are active; their
    weight falls linearly from the persistent grains' median to below the smallest
    persistent weight minus the mean grain area as τ approaches τ_j, so that
    neighbours take them over continuously.
    """
    metal = cell.metal
    active = cell.transient_times > plating_fraction
    if plating_fraction >= 1.0 or not active.any():
        return metal.labels
    n = len(metal.seeds)
    w = metal.weights
    mean_area = metal.rows.size / metal.aspect / max(n, 1)  # in the metric
    progress = plating_fraction / cell.transient_times[active]
    w_start, w_end = np.median(w), w.min() - mean_area
    w_t = w_start + (w_end - w_start) * progress
    seeds = np.vstack([metal.seeds, cell.transient_seeds[active]])
    weights = np.concatenate([w, w_t])
    points = np.column_stack([metal.cols, metal.rows / metal.aspect]).astype(float)
    labels = power_labels(points, seeds, weights)
    index = np.concatenate([np.arange(n), n + np.nonzero(active)[0]])
    return index[labels]


def _rasterise_pores(
    metal_mask: np.ndarray, metal_top: np.ndarray, cols: np.ndarray, radii: np.ndarray
) -> np.ndarray:
    """Voids (disks centred ``_PORE_DEPTH`` radii below the interface) ∩ metal."""
    n_rows, n_cols = metal_mask.shape
    pore = np.zeros_like(metal_mask)
    for c, r in zip(cols, radii, strict=True):
        if r <= 0:
            continue
        centre_row = metal_top[int(c) % n_cols] + _PORE_DEPTH * r
        r0, r1 = max(int(centre_row - r) - 1, 0), min(int(centre_row + r) + 2, n_rows)
        c0, c1 = int(c - r) - 1, int(c + r) + 2
        if r0 >= r1:
            continue
        rr = np.arange(r0, r1)[:, None]
        cc = np.arange(c0, c1)[None, :]
        disk = (rr - centre_row) ** 2 + (cc - c) ** 2 <= r**2
        cc_wrapped = np.mod(np.arange(c0, c1), n_cols)  # periodic along the section
        sub = pore[r0:r1][:, cc_wrapped] | disk
        pore[r0:r1, cc_wrapped] = sub
    return pore & metal_mask


def _pore_mask(
    cell: _Cell,
    metal_mask: np.ndarray,
    metal_top: np.ndarray,
    time: float,
    porosity: float | None,
    factors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Voids at stripping time ``time`` ∈ [0, 1].

    A void nucleated at τ_i has radius f_i r_i √((t − τ_i)/(1 − τ_i)) (its area grows
    linearly with stripped charge). With ``porosity`` given, voids are opened in their
    random order at full size (f_i = 1) until voids / (voids + metal) reaches it; the
    radius of the last one is then set by bisection to match it (so the void sizes follow
    the requested distribution, bar that one). Should the drawn voids not suffice, all
    radii are scaled up together instead. Otherwise the factors f are given. Returns the
    mask and f.
    """
    n_pool = cell.pore_radii.size
    if n_pool == 0 or not metal_mask.any():
        return np.zeros_like(metal_mask), np.zeros(n_pool)
    growth = np.sqrt(np.clip((time - cell.pore_times) / (1 - cell.pore_times), 0.0, 1.0))
    base = cell.pore_radii * growth
    if porosity is None:
        f = np.zeros(n_pool) if factors is None else factors
        return _rasterise_pores(metal_mask, metal_top, cell.pore_cols, f * base), f

    target = porosity * metal_mask.sum()

    def one(i: int, scale: float) -> np.ndarray:
        return _rasterise_pores(
            metal_mask, metal_top, cell.pore_cols[i : i + 1], scale * base[i : i + 1]
        )

    mask = np.zeros_like(metal_mask)
    f = np.zeros(n_pool)
    for i in range(n_pool):
        if base[i] <= 0:
            continue
        full = mask | one(i, 1.0)
        if full.sum() < target:
            mask, f[i] = full, 1.0
            continue
        lo, hi = 0.0, 1.0
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if (mask | one(i, mid)).sum() < target else (lo, mid)
        counts = [(mask | one(i, x)).sum() for x in (lo, hi)]
        f[i] = lo if abs(counts[0] - target) < abs(counts[1] - target) else hi
        return mask | one(i, f[i]), f

    # Not enough voids drawn: scale them all (bisection on a common factor ≥ 1).
    def count(lam: float) -> int:
        return _rasterise_pores(metal_mask, metal_top, cell.pore_cols, lam * base).sum()

    lo, hi = 1.0, 2.0
    while count(hi) < target and hi < 1e4:
        lo, hi = hi, 2 * hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    lam = lo if abs(count(lo) - target) < abs(count(hi) - target) else hi
    f = np.full(n_pool, lam)
    return _rasterise_pores(metal_mask, metal_top, cell.pore_cols, f * base), f


def _render(
    cell: _Cell,
    shift_px: float,
    plating_fraction: float,
    pore_time: float,
    porosity: float | None,
    pore_factors: np.ndarray | None,
    frame: int | None,
) -> tuple[CrystalMap, np.ndarray]:
    """One map of the cell: electrolyte lowered by ``shift_px`` (metal thinner by it)."""
    config = cell.config
    n_rows, n_cols = config.shape_px
    step = config.step_size_um
    rows = np.arange(n_rows)[:, None]
    shift_px = float(round(shift_px))  # the electrolyte moves by whole pixels
    metal_top = cell.metal_top + shift_px

    region = np.full((n_rows, n_cols), Region.ELECTROLYTE, dtype=np.int8)
    region[rows >= metal_top[None, :]] = Region.METAL
    region[rows >= cell.collector_top[None, :]] = Region.COLLECTOR
    pore, factors = _pore_mask(
        cell, region == Region.METAL, metal_top, pore_time, porosity, pore_factors
    )
    region[pore] = Region.PORE

    grain_id = np.full((n_rows, n_cols), -1, dtype=np.int64)
    quat = np.zeros((n_rows, n_cols, 4))
    quat[..., 0] = 1.0
    misorientation = np.zeros((n_rows, n_cols))
    n_c, n_m = cell.collector.n_grains, cell.metal.n_grains

    t = cell.collector
    inside = region[t.rows, t.cols] == Region.COLLECTOR
    grain_id[t.rows[inside], t.cols[inside]] = t.labels[inside]
    quat[t.rows[inside], t.cols[inside]] = t.rotations[t.labels[inside]]

    t = cell.metal
    labels = _metal_labels(cell, plating_fraction)
    inside = region[t.rows, t.cols] == Region.METAL
    r, c, lab = t.rows[inside], t.cols[inside], labels[inside]
    grain_id[r, c] = n_c + lab
    delta = _intragranular(cell, lab, r, c)
    q = Rotation(t.rotations[lab]) * delta
    quat[r, c] = q.data
    misorientation[r, c] = np.rad2deg(delta.angle)

    t = cell.electrolyte
    e_rows = t.rows + int(shift_px)  # rigid translation
    ok = (e_rows >= 0) & (e_rows < n_rows)
    e_rows, e_cols, e_lab = e_rows[ok], t.cols[ok], t.labels[ok]
    inside = region[e_rows, e_cols] == Region.ELECTROLYTE
    grain_id[e_rows[inside], e_cols[inside]] = n_c + n_m + e_lab[inside]
    quat[e_rows[inside], e_cols[inside]] = t.rotations[e_lab[inside]]

    phase_id = np.full((n_rows, n_cols), -1, dtype=np.int64)
    names, ids = [], []
    for name, reg in (
        ("metal", Region.METAL),
        ("collector", Region.COLLECTOR),
        ("electrolyte", Region.ELECTROLYTE),
    ):
        layer = getattr(config, name)
        if layer.indexable:
            phase_id[(region == reg) & (grain_id >= 0)] = PHASE_IDS[name]
            names.append(layer.phase)
            ids.append(PHASE_IDS[name])
    phases = PhaseList(phases=[get_phase(nm) for nm in names], ids=ids)
    y, x = np.meshgrid(np.arange(n_rows) * step, np.arange(n_cols) * step, indexing="ij")
    xmap = CrystalMap(
        rotations=Rotation(quat.reshape(-1, 4)),
        phase_id=phase_id.ravel(),
        x=x.ravel(),
        y=y.ravel(),
        phase_list=phases,
        prop={
            "grain_id": grain_id.ravel(),
            "pore": (region == Region.PORE).astype(np.int8).ravel(),
            "region": region.ravel(),
            "misorientation_deg": misorientation.ravel(),
        },
        scan_unit="um",
    )
    xmap.frame = frame
    return xmap, factors


def _intragranular(
    cell: _Cell, labels: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> Rotation:
    """Rotation from each metal grain's orientation to the local lattice (sample frame)."""
    pos = np.column_stack([cols, rows]).astype(float)
    angle = np.sum((pos - cell.grain_centres[labels]) * cell.grain_gradients[labels], axis=1)
    delta = Rotation.from_axes_angles(Vector3d(cell.grain_axes[labels]), angle)
    if cell.subgrain_tree is not None:
        _, k = cell.subgrain_tree.query(pos, workers=1)
        delta = delta * Rotation(cell.subgrain_rotations[k])
    return delta


def _as_rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def generate_microstructure(
    config: MicrostructureConfig | None = None,
    seed: int | np.random.Generator = 0,
    orientation_sets: Mapping[str, Rotation] | None = None,
) -> CrystalMap:
    """Generate one ground-truth cross-section of an anode-free cell.

    Parameters
    ----------
    config
        Layers, grains, textures, interfaces and pores; lengths in µm. Default
        :class:`~synthebsd.simulate.MicrostructureConfig`.
    seed
        Seed or generator; the same seed gives the same map.
    orientation_sets
        Orientation sets for layers with a ``sampled`` texture, keyed by ``"collector"``,
        ``"metal"`` or ``"electrolyte"``.

    Returns
    -------
    xmap
        Crystal map of shape ``config.shape_px`` with step ``config.step_size_um`` µm;
        phase ids metal 0, collector 1, electrolyte 2 (layers that are not indexable, and
        pores, −1); properties ``grain_id`` (unique over the map, −1 in pores),
        ``pore`` (1 in voids), ``region`` (:class:`~synthebsd.simulate.Region`) and
        ``misorientation_deg`` (angle from the grain's orientation, degrees); attribute
        ``frame`` None.
    """
    config = config or MicrostructureConfig()
    cell = _build_cell(config, _as_rng(seed), orientation_sets)
    return _render(cell, 0.0, 1.0, 1.0, config.pores.porosity, None, None)[0]


def plating_sequence(
    config: MicrostructureConfig,
    n_frames: int,
    seed: int | np.random.Generator = 0,
    orientation_sets: Mapping[str, Rotation] | None = None,
) -> list[CrystalMap]:
    """Frames of in-situ plating: the metal thickens and its grains coarsen.

    Frame k plates a fraction f_k of the way from ``sequence.initial_thickness_fraction``
    of the metal thickness to all of it (f_k = k / (n − 1)); the electrolyte is lifted
    accordingly. Transient grains (``sequence.consumed_fraction`` × the final number)
    are consumed by their neighbours at random times; the last frame equals
    :func:`generate_microstructure` of the same seed without pores.

    Parameters
    ----------
    config
        Cell configuration (its ``sequence`` settings).
    n_frames
        Number of frames (≥ 2).
    seed
        Seed or generator.
    orientation_sets
        As for :func:`generate_microstructure`.

    Returns
    -------
    frames
        Crystal maps with attribute ``frame`` = 0 … n − 1.
    """
    if n_frames < 2:
        raise ValueError(f"a sequence needs at least 2 frames, got {n_frames}")
    cell = _build_cell(config, _as_rng(seed), orientation_sets)
    initial = config.sequence.initial_thickness_fraction
    full_px = config.metal.thickness_um / config.step_size_um
    frames = []
    for k in range(n_frames):
        f = k / (n_frames - 1)
        shift = (1 - (initial + (1 - initial) * f)) * full_px
        frames.append(_render(cell, shift, f, 0.0, None, None, k)[0])
    return frames


def stripping_sequence(
    config: MicrostructureConfig,
    n_frames: int,
    seed: int | np.random.Generator = 0,
    orientation_sets: Mapping[str, Rotation] | None = None,
) -> list[CrystalMap]:
    """Frames of in-situ stripping: the metal thins and voids nucleate and grow.

    Frame k has stripped a fraction s_k = k / (n − 1) of
    ``sequence.stripped_thickness_um`` (the electrolyte is lowered by it); voids
    nucleate at random times at the metal|electrolyte interface and grow (area linear in
    stripped charge); the last frame has exactly the configured porosity, earlier frames
    the same voids at their earlier sizes. Metal grains keep their ids and orientations;
    those stripped away disappear.

    Parameters
    ----------
    config
        Cell configuration (``pores`` and ``sequence`` settings).
    n_frames
        Number of frames (≥ 2).
    seed
        Seed or generator.
    orientation_sets
        As for :func:`generate_microstructure`.

    Returns
    -------
    frames
        Crystal maps with attribute ``frame`` = 0 … n − 1.

    Raises
    ------
    ValueError
        Fewer than 2 frames, or more metal to strip than there is.
    """
    if n_frames < 2:
        raise ValueError(f"a sequence needs at least 2 frames, got {n_frames}")
    if config.sequence.stripped_thickness_um > config.metal.thickness_um:
        raise ValueError(
            f"sequence.stripped_thickness_um ({config.sequence.stripped_thickness_um} µm) "
            f"exceeds the metal thickness ({config.metal.thickness_um} µm)"
        )
    cell = _build_cell(config, _as_rng(seed), orientation_sets)
    stripped_px = config.sequence.stripped_thickness_um / config.step_size_um
    _, factors = _render(cell, stripped_px, 1.0, 1.0, config.pores.porosity, None, n_frames - 1)
    frames = []
    for k in range(n_frames):
        s = k / (n_frames - 1)
        frames.append(_render(cell, s * stripped_px, 1.0, s, None, factors, k)[0])
    return frames
