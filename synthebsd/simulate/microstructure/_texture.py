"""Grain orientations for a texture: uniform, fibre, or sampled from a given set.

All rotation maths is orix's: orientations are passive (sample → crystal, Bunge), so for
an orientation g and a sample direction s, ``g * s`` is that direction in crystal
coordinates. Sample frame: x along the map columns, y down the rows, z out of the map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from orix.crystal_map import Phase
from orix.quaternion import Orientation, Rotation
from orix.vector import Miller, Vector3d
from scipy.spatial.transform import Rotation as ScipyRotation

from synthebsd.config import TextureConfig
from synthebsd.io import load_crystal_map

__all__ = [
    "fibre_orientations",
    "load_orientation_set",
    "random_rotations",
    "texture_orientations",
]


def random_rotations(n: int, rng: np.random.Generator) -> Rotation:
    """Draw ``n`` orientations uniformly (Haar measure) from SO(3) with a given generator."""
    return Rotation.from_scipy_rotation(ScipyRotation.random(n, random_state=rng))


def fibre_orientations(
    phase: Phase,
    crystal_direction_uvw: tuple[float, float, float],
    sample_direction_xyz: tuple[float, float, float],
    spread_deg: float,
    n: int,
    rng: np.random.Generator,
) -> Orientation:
    """Orientations of a Gaussian fibre texture ⟨uvw⟩ ∥ s.

    Each orientation is g = g₀ · T · R: R a uniformly random rotation about s, T a tilt
    of s about an axis normal to it by an angle whose two components are normal with
    standard deviation ``spread_deg`` (so the angle between g·s and ⟨uvw⟩ is
    Rayleigh-distributed with that scale), and g₀ the orientation taking s onto ⟨uvw⟩.

    Parameters
    ----------
    phase
        Phase of the grains (its point group is attached to the result).
    crystal_direction_uvw
        Fibre axis as a direct-lattice direction [uvw] of the crystal.
    sample_direction_xyz
        Fibre axis in the sample frame (need not be normalised).
    spread_deg
        Rayleigh scale of the tilt away from the fibre, degrees (> 0).
    n
        Number of orientations.
    rng
        Random generator.

    Returns
    -------
    orientations
        (n,) orix orientations with the phase's point group.
    """
    s = Vector3d(np.asarray(sample_direction_xyz, dtype=float)).unit
    uvw = Miller(uvw=np.asarray(crystal_direction_uvw, dtype=float), phase=phase)
    g0 = Orientation.from_align_vectors(uvw, s)
    u = s.perpendicular.unit
    v = s.cross(u).unit
    twist = Rotation.from_axes_angles(s, rng.uniform(0.0, 2 * np.pi, n))
    tilt_xy = rng.standard_normal((n, 2)) * np.deg2rad(spread_deg)
    axes = Vector3d(tilt_xy[:, :1] * u.data + tilt_xy[:, 1:] * v.data)
    angles = np.linalg.norm(tilt_xy, axis=1)
    safe_axes = Vector3d(np.where(angles[:, None] > 0, axes.data, u.data))
    tilt = Rotation.from_axes_angles(safe_axes, angles)
    g = Rotation(g0) * tilt * twist
    return Orientation(g.data, symmetry=phase.point_group)


def load_orientation_set(path: str | Path, phase: Phase) -> Rotation:
    """Read an orientation set: an orix HDF5 crystal map or a text file of Euler angles.

    Parameters
    ----------
    path
        ``.h5``/``.hdf5``: orix crystal map; the orientations of points whose phase has
        ``phase``'s name (all indexed points if no phase matches by name). Any other
        suffix: text with three Bunge Euler angles in degrees per line (``#`` comments).
    phase
        Phase the orientations are for.

    Returns
    -------
    rotations
        (n,) rotations, n ≥ 1.

    Raises
    ------
    ValueError
        If the file is missing, unreadable or holds no orientation.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"orientation file {path} does not exist")
    if path.suffix.lower() in (".h5", ".hdf5"):
        xmap = load_crystal_map(path)
        ids = [pid for pid, ph in xmap.phases if pid >= 0 and ph.name == phase.name]
        mask = np.isin(xmap.phase_id, ids) if ids else xmap.phase_id >= 0
        rotations = Rotation(xmap.rotations.data[mask])
    else:
        try:
            euler = np.loadtxt(path, comments="#", ndmin=2)
        except ValueError as e:
            raise ValueError(f"cannot read Euler angles from {path}: {e}") from e
        if euler.shape[1] != 3:
            raise ValueError(f"{path}: expected 3 Euler angles per line, got {euler.shape[1]}")
        rotations = Rotation.from_euler(np.deg2rad(euler), direction="lab2crystal")
    if rotations.size == 0:
        raise ValueError(f"{path} holds no orientation for phase {phase.name}")
    return rotations


def texture_orientations(
    texture: TextureConfig,
    phase: Phase,
    n: int,
    rng: np.random.Generator,
    orientation_set: Rotation | None = None,
) -> Rotation:
    """Draw ``n`` grain orientations of a layer's texture.

    Parameters
    ----------
    texture
        The layer's texture configuration.
    phase
        The layer's phase.
    n
        Number of grains.
    rng
        Random generator.
    orientation_set
        For ``sampled`` textures: the set to draw from (overrides
        ``texture.orientations_file``).

    Returns
    -------
    rotations
        (n,) rotations (sample → crystal).

    Raises
    ------
    ValueError
        A ``sampled`` texture without a set or file.
    """
    if n == 0:
        return Rotation(np.empty((0, 4)))
    if texture.kind == "uniform":
        return random_rotations(n, rng)
    if texture.kind == "fibre":
        o = fibre_orientations(
            phase,
            texture.crystal_direction_uvw,
            texture.sample_direction_xyz,
            texture.spread_deg,
            n,
            rng,
        )
        return Rotation(o.data)
    if orientation_set is None:
        if texture.orientations_file is None:
            raise ValueError(
                f"texture 'sampled' for {phase.name} needs orientations_file or an orientation set"
            )
        orientation_set = load_orientation_set(texture.orientations_file, phase)
    pick = rng.integers(orientation_set.size, size=n)
    return Rotation(orientation_set.data.reshape(-1, 4)[pick])
