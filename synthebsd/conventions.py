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

Training data sets (:mod:`synthebsd.datasets`) have streams of their own, indexed by the
scene index ``k`` of the data set: the microstructure of scene ``k`` uses
``(seed, DATASET_SCENE_STREAM, k)``, its drawn settings (scene source, varied physics,
projection-centre jitter) ``(seed, DATASET_PHYSICS_STREAM, k)``, the noise of map row
``r`` ``(seed, DATASET_NOISE_STREAM, k, p)`` with ``p = r × columns`` the flat index of
the row's first point, and training-time augmentations of epoch ``e``
``(seed, AUGMENT_STREAM, k, e)`` (per scene) and ``(seed, AUGMENT_STREAM, k, e, i)`` (per
pattern, flat index ``i``; its binomial thinning ``(..., i, 1)``). Nothing else enters, so
a pattern is the same whatever worker, order or chunking produced it. Torch generators
are seeded with :func:`stream_seed` of the same arguments.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "AUGMENT_STREAM",
    "CALIBRATION_STREAM",
    "DATASET_NOISE_STREAM",
    "DATASET_PHYSICS_STREAM",
    "DATASET_SCENE_STREAM",
    "NOISE_STREAM",
    "PHASE_IDS",
    "REGION_COLOURS",
    "SCENE_STREAM",
    "Region",
    "stream_rng",
    "stream_seed",
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
#: Data sets: microstructure of scene k (with k).
DATASET_SCENE_STREAM = 10
#: Data sets: the settings drawn for scene k (with k).
DATASET_PHYSICS_STREAM = 11
#: Data sets: noise of one map row of scene k (with k and the row's first flat index).
DATASET_NOISE_STREAM = 12
#: Data sets: training-time augmentations (with k and the epoch, and a flat index).
AUGMENT_STREAM = 13


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


def stream_seed(seed: int, stream: int, *index: int) -> int:
    """A 63-bit integer seed of one random stream, for generators that take one integer.

    Derived like :func:`stream_rng` (NumPy's ``SeedSequence`` of the same words), for
    :meth:`torch.Generator.manual_seed`; the same for the same arguments on any machine.
    """
    words = [int(seed), int(stream), *(int(i) for i in index)]
    state = np.random.SeedSequence(words).generate_state(1, np.uint64)[0]
    return int(state) >> 1
