"""Ground-truth cross-sections of an anode-free cell as orix crystal maps.

The map is a cross-section perpendicular to the current collector, rows running from the
top of the cell down (``(row, col)``, origin top left, ``y`` down in µm):

- electrolyte at the top (not indexable here: phase id -1, region ``ELECTROLYTE``),
- the plated metal (e.g. Li) with Voronoi grains of uniformly random orientation,
- pores along the metal|electrolyte interface (phase id -1, region ``PORE``),
- the current collector (e.g. Cu) at the bottom with its own, finer grains.

Orientations are orix rotations (passive, Bunge convention, sample → crystal).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from orix.crystal_map import CrystalMap
from orix.quaternion import Rotation
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation as ScipyRotation

from synthebsd.config import SceneConfig
from synthebsd.phases import get_phase_list

__all__ = ["Region", "cross_section_scene", "random_rotations"]


class Region(IntEnum):
    """Region codes stored in the ``region`` property of a ground-truth map."""

    COLLECTOR = 0
    METAL = 1
    PORE = 2
    ELECTROLYTE = 3


#: Phase ids in a ground-truth map: the metal is 0, the collector 1, the rest -1.
METAL_PHASE_ID = 0
COLLECTOR_PHASE_ID = 1


def random_rotations(n: int, rng: np.random.Generator) -> Rotation:
    """Draw ``n`` orientations uniformly (Haar measure) from SO(3) with a given generator."""
    return Rotation.from_scipy_rotation(ScipyRotation.random(n, random_state=rng))


def _rough_interface(
    n_cols: int, mean_row: float, roughness_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Interface row per column: a smooth random profile with the given RMS amplitude."""
    if roughness_px == 0:
        return np.full(n_cols, mean_row)
    profile = gaussian_filter1d(
        rng.standard_normal(n_cols), sigma=max(n_cols / 12, 1.0), mode="wrap"
    )
    profile *= roughness_px / max(profile.std(), 1e-12)
    return mean_row + profile


def _voronoi_labels(
    mask: np.ndarray, grain_size_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Label the pixels of ``mask`` by nearest random seed (Voronoi cells), 0-based.

    The number of seeds is the mask area over the area of a circle of diameter
    ``grain_size_px``, so the mean equivalent-circle diameter is about ``grain_size_px``.
    """
    rows, cols = np.nonzero(mask)
    labels = np.full(mask.shape, -1, dtype=np.int64)
    if rows.size == 0:
        return labels
    n_seeds = max(1, round(rows.size / (np.pi * grain_size_px**2 / 4)))
    pick = rng.choice(rows.size, size=min(n_seeds, rows.size), replace=False)
    seeds = np.column_stack([rows[pick], cols[pick]]).astype(float)
    seeds += rng.uniform(-0.5, 0.5, seeds.shape)
    _, nearest = cKDTree(seeds).query(np.column_stack([rows, cols]))
    # Renumber so that every label is used (a seed can lose all its pixels).
    _, labels[rows, cols] = np.unique(nearest, return_inverse=True)
    return labels


def cross_section_scene(
    config: SceneConfig | None = None, seed: int | np.random.Generator = 0
) -> CrystalMap:
    """Generate a ground-truth cross-section of an anode-free cell.

    Parameters
    ----------
    config
        Geometry, phases, grain sizes and pores; lengths in µm.
    seed
        Seed or generator; the same seed gives the same scene.

    Returns
    -------
    xmap
        Crystal map of shape ``config.shape_px`` (rows, cols) with step size
        ``config.step_size_um`` in µm, phases ``{0: metal, 1: collector}`` and -1 for
        non-indexable points, and the properties ``grain_id`` (unique over the map, -1
        outside grains), ``pore`` (1 inside pores, else 0) and ``region``
        (:class:`Region` codes).
    """
    config = config or SceneConfig()
    rng = np.random.default_rng(seed)
    n_rows, n_cols = config.shape_px
    step = config.step_size_um
    rows = np.arange(n_rows)[:, None]
    roughness_px = config.interface_roughness_um / step

    collector_top = _rough_interface(
        n_cols, n_rows - config.collector_thickness_um / step, roughness_px, rng
    )
    metal_top = _rough_interface(
        n_cols,
        n_rows - (config.collector_thickness_um + config.metal_thickness_um) / step,
        roughness_px,
        rng,
    )
    region = np.full((n_rows, n_cols), Region.ELECTROLYTE, dtype=np.int8)
    region[rows >= metal_top[None, :]] = Region.METAL
    region[rows >= collector_top[None, :]] = Region.COLLECTOR

    # Pores nucleate at the metal|electrolyte interface and grow into the metal.
    pore_cols = rng.uniform(0, n_cols, config.pore_count)
    pore_radii = config.pore_radius_um / step * rng.lognormal(0.0, 0.25, config.pore_count)
    cols = np.arange(n_cols)[None, :]
    for c, r in zip(pore_cols, pore_radii, strict=True):
        # Centred a little below the interface: the void opens into the metal.
        centre_row = metal_top[int(c) % n_cols] + 0.4 * r
        inside = (rows - centre_row) ** 2 + (cols - c) ** 2 <= r**2
        region[inside & (region == Region.METAL)] = Region.PORE

    grain_id = np.full((n_rows, n_cols), -1, dtype=np.int64)
    phase_id = np.full((n_rows, n_cols), -1, dtype=np.int64)
    rotations = np.tile(Rotation.identity().data, (n_rows * n_cols, 1))
    next_id = 0
    for reg, pid, size_um in (
        (Region.COLLECTOR, COLLECTOR_PHASE_ID, config.collector_grain_size_um),
        (Region.METAL, METAL_PHASE_ID, config.metal_grain_size_um),
    ):
        labels = _voronoi_labels(region == reg, size_um / step, rng)
        inside = labels >= 0
        n_grains = int(labels.max()) + 1 if inside.any() else 0
        grain_rot = random_rotations(n_grains, rng).data if n_grains else np.empty((0, 4))
        grain_id[inside] = labels[inside] + next_id
        phase_id[inside] = pid
        rotations[inside.ravel()] = grain_rot[labels[inside]]
        next_id += n_grains

    y, x = np.meshgrid(np.arange(n_rows) * step, np.arange(n_cols) * step, indexing="ij")
    phase_list = get_phase_list([config.metal, config.collector])
    return CrystalMap(
        rotations=Rotation(rotations),
        phase_id=phase_id.ravel(),
        x=x.ravel(),
        y=y.ravel(),
        phase_list=phase_list,
        prop={
            "grain_id": grain_id.ravel(),
            "pore": (region == Region.PORE).astype(np.int8).ravel(),
            "region": region.ravel(),
        },
        scan_unit="um",
    )
