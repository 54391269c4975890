"""One map of a cell: regions, grains, intragranular misorientation and voids at a stage.

A frame renders a :class:`~synthebsd.simulate._microstructure_cell.Cell` with the
electrolyte moved by a whole number of pixels, the metal grains at a plating stage and
the voids at a stripping time, into an orix :class:`~orix.crystal_map.CrystalMap`
(passive Bunge rotations, sample → crystal; x along the columns, y down the rows).
"""

from __future__ import annotations

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation
from orix.vector import Vector3d

from synthebsd.phases import get_phase
from synthebsd.simulate._microstructure_cell import PORE_DEPTH, Cell
from synthebsd.simulate._scene import Region
from synthebsd.simulate._tessellation import power_labels

#: Phase ids of the layers in a generated map (a layer that is not indexable gets -1).
PHASE_IDS = {"metal": 0, "collector": 1, "electrolyte": 2}


def _metal_labels(cell: Cell, plating_fraction: float) -> np.ndarray:
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
    """Voids (disks centred ``PORE_DEPTH`` radii below the interface) ∩ metal."""
    n_rows, n_cols = metal_mask.shape
    pore = np.zeros_like(metal_mask)
    for c, r in zip(cols, radii, strict=True):
        if r <= 0:
            continue
        centre_row = metal_top[int(c) % n_cols] + PORE_DEPTH * r
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
    cell: Cell,
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


def render_frame(
    cell: Cell,
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


def _intragranular(cell: Cell, labels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> Rotation:
    """Rotation from each metal grain's orientation to the local lattice (sample frame)."""
    pos = np.column_stack([cols, rows]).astype(float)
    angle = np.sum((pos - cell.grain_centres[labels]) * cell.grain_gradients[labels], axis=1)
    delta = Rotation.from_axes_angles(Vector3d(cell.grain_axes[labels]), angle)
    if cell.subgrain_tree is not None:
        _, k = cell.subgrain_tree.query(pos, workers=1)
        delta = delta * Rotation(cell.subgrain_rotations[k])
    return delta
