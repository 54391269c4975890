"""The random ingredients of a cell, drawn once from its seed in a fixed order.

Interfaces, the Laguerre tessellations of the three layers, orientations, orientation
gradients, sub-grains, transient (plating) grains and the pool of stripping voids: the
frames of :mod:`synthebsd.simulate.microstructure._frames` are deterministic renderings
of one such :class:`Cell`. Lengths are in pixels of the map (``(row, col)``, origin top
left) unless named ``_um``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from orix.quaternion import Rotation
from orix.vector import Vector3d
from scipy.spatial import cKDTree

from synthebsd.config import LayerConfig, MicrostructureConfig
from synthebsd.phases import get_phase
from synthebsd.simulate.microstructure._interfaces import rough_profile
from synthebsd.simulate.microstructure._pores import PORE_AREA_IN_METAL
from synthebsd.simulate.microstructure._tessellation import (
    lognormal_diameters,
    prescribed_area_tessellation,
)
from synthebsd.simulate.microstructure._texture import random_rotations, texture_orientations


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
class Cell:
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


def build_cell(
    config: MicrostructureConfig,
    rng: np.random.Generator,
    orientation_sets: Mapping[str, Rotation] | None,
) -> Cell:
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
        n_pores = 20 + 3 * int(pores.porosity * metal_area / (PORE_AREA_IN_METAL * mean_r2))
        mu = np.log(mean_d) - pores.diameter_log_sigma**2 / 2
        pore_radii = rng.lognormal(mu, pores.diameter_log_sigma, n_pores) / 2
        pore_cols = rng.uniform(0, n_cols, n_pores)
        pore_times = rng.uniform(0.0, 1.0, n_pores)

    return Cell(
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
