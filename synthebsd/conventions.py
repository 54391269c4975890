"""Conventions used throughout synthebsd, stated once.

Reference frames
----------------
- **Orientations** are orix rotations: passive, Bunge (ZXZ) Euler angles, sample →
  crystal. For an orientation ``g`` and a sample direction ``s``, ``g * s`` is that
  direction in crystal coordinates.
- **Sample frame** (kikuchipy's, EDAX TSL's): x along the map columns, y down the rows,
  z out of the map surface. In a cross-section the growth direction (collector →
  electrolyte) is −y.
- **Detector**: kikuchipy :class:`~kikuchipy.detectors.EBSDDetector`; projection centres
  (PC) in the **Bruker convention**: PCx and PCy as fractions of the detector width and
  height from its top left corner, PCz as the detector distance over its height.
- **Maps** are ``(row, col)`` arrays with the origin at the top left; ``x`` and ``y``
  in µm.

Ground-truth maps
-----------------
Every ground-truth :class:`~orix.crystal_map.CrystalMap` carries a ``region`` property
(:class:`Region` codes), ``grain_id`` (−1 outside grains) and ``pore`` (1 in pores).
Phase ids follow :data:`PHASE_IDS`: metal 0, collector 1, electrolyte 2; points without
an indexable phase (pores, an amorphous layer) have phase id −1.

Randomness
----------
Every random function takes a seed or a :class:`numpy.random.Generator`; the global
generator is never used. Independent streams of one seed are told apart by the stream
ids below and derived with :func:`stream_rng`: the scene uses ``(seed, SCENE_STREAM)``,
the noise of pattern ``i`` ``(seed, NOISE_STREAM, i)``.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "CALIBRATION_STREAM",
    "NOISE_STREAM",
    "PHASE_IDS",
    "REGION_COLOURS",
    "SCENE_STREAM",
    "Region",
    "stream_rng",
]


class Region(IntEnum):
    """Region codes stored in the ``region`` property of a ground-truth map."""

    COLLECTOR = 0
    METAL = 1
    PORE = 2
    ELECTROLYTE = 3


#: Region code → matplotlib colour, shared by every figure. IPF colours use every hue,
#: so pores are black and the electrolyte grey there too.
REGION_COLOURS: dict[Region, str] = {
    Region.COLLECTOR: "tab:orange",
    Region.METAL: "tab:blue",
    Region.PORE: "black",
    Region.ELECTROLYTE: "0.6",
}

#: Phase id of each layer in a ground-truth map (an amorphous layer: −1).
PHASE_IDS: dict[str, int] = {"metal": 0, "collector": 1, "electrolyte": 2}

#: Seed stream of the scene (microstructure).
SCENE_STREAM = 0
#: Seed stream of the pattern noise (with the flat point index).
NOISE_STREAM = 1
#: Seed stream of the indexer's projection-centre calibration error.
CALIBRATION_STREAM = 2


def stream_rng(seed: int, stream: int, *index: int) -> np.random.Generator:
    """The generator of one random stream: ``default_rng([seed, stream, *index])``.

    Parameters
    ----------
    seed
        User seed (≥ 0).
    stream
        Stream id, e.g. :data:`SCENE_STREAM` or :data:`NOISE_STREAM`.
    *index
        Further non-negative integers (a point index, a scene index).

    Returns
    -------
    rng
        A new generator, the same for the same arguments on any machine.
    """
    return np.random.default_rng([int(seed), int(stream), *(int(i) for i in index)])
