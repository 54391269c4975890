"""One map of a cell: regions, grains, intragranular misorientation and voids at a stage.

A frame renders a :class:`~synthebsd.simulate.microstructure._cell.Cell` with the
electrolyte moved by a whole number of pixels, the metal grains at a plating stage and
the voids at a stripping time, into an orix :class:`~orix.crystal_map.CrystalMap`
(passive Bunge rotations, sample → crystal; x along the columns, y down the rows).
"""

from __future__ import annotations

import numpy as np
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation
from orix.vector import Vector3d
from scipy.ndimage import distance_transform_edt

from synthebsd.conventions import PHASE_IDS, Region
from synthebsd.phases import get_phase
from synthebsd.simulate.microstructure._cell import Cell
from synthebsd.simulate.microstructure._pores import pore_depths, pore_mask, pore_radii
from synthebsd.simulate.microstructure._tessellation import power_labels


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
    pore, factors = pore_mask(
        cell, region == Region.METAL, metal_top, pore_time, porosity, pore_factors
    )
    region[pore] = Region.PORE
    depth_px, width_px = pore_depths(
        pore, metal_top, cell.pore_cols, pore_radii(cell, pore_time, factors)
    )

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
        if not layer.amorphous:
            phase_id[(region == reg) & (grain_id >= 0)] = PHASE_IDS[name]
            names.append(layer.phase)
            ids.append(PHASE_IDS[name])
    phases = PhaseList(phases=[get_phase(nm) for nm in names], ids=ids)
    floor = _pore_floor_index(region)
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
            "pore_depth_um": (depth_px * step).ravel(),
            "pore_width_um": (width_px * step).ravel(),
            "pore_floor_index": floor.ravel(),
        },
        scan_unit="um",
    )
    xmap.frame = frame
    return xmap, factors


def _pore_floor_index(region: np.ndarray) -> np.ndarray:
    """Flat index of the metal point nearest each pore point (−1 elsewhere).

    The section holds no material under a void, so the grain that forms its floor is taken
    to be the metal grain nearest in the section: grains are several µm across, voids
    about as large and shallow (:func:`~synthebsd.simulate.microstructure._pores.pore_depths`).
    """
    pore = region == Region.PORE
    out = np.full(region.shape, -1, dtype=np.int64)
    metal = region == Region.METAL
    if not pore.any() or not metal.any():
        return out
    _, (rows, cols) = distance_transform_edt(~metal, return_indices=True)
    out[pore] = np.ravel_multi_index((rows[pore], cols[pore]), region.shape)
    return out


def _intragranular(cell: Cell, labels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> Rotation:
    """Rotation from each metal grain's orientation to the local lattice (sample frame)."""
    pos = np.column_stack([cols, rows]).astype(float)
    angle = np.sum((pos - cell.grain_centres[labels]) * cell.grain_gradients[labels], axis=1)
    delta = Rotation.from_axes_angles(Vector3d(cell.grain_axes[labels]), angle)
    if cell.subgrain_tree is not None:
        _, k = cell.subgrain_tree.query(pos, workers=1)
        delta = delta * Rotation(cell.subgrain_rotations[k])
    return delta
