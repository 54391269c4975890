"""Microstructures of anode-free cells: layered cross-sections and in-situ sequences.

A cross-section (``(row, col)``, origin top left, ``y`` down in µm) holds, from the top:
the solid electrolyte, the plated metal and the current collector, separated by rough
interfaces. Every layer is a Laguerre tessellation with log-normal grain sizes
(:mod:`synthebsd.simulate.microstructure._tessellation`), equiaxed or columnar (an anisotropic metric
stretches cells along the growth direction, up the map), with grain orientations from
the layer's texture (:mod:`synthebsd.simulate.microstructure._texture`). Metal grains carry smooth
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

import numpy as np
from orix.crystal_map import CrystalMap
from orix.quaternion import Rotation

from synthebsd.config import MicrostructureConfig
from synthebsd.simulate.microstructure._cell import build_cell
from synthebsd.simulate.microstructure._frames import render_frame

__all__ = [
    "generate_microstructure",
    "plating_sequence",
    "stripping_sequence",
]


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
        :class:`~synthebsd.config.MicrostructureConfig`.
    seed
        Seed or generator; the same seed gives the same map.
    orientation_sets
        Orientation sets for layers with a ``sampled`` texture, keyed by ``"collector"``,
        ``"metal"`` or ``"electrolyte"``.

    Returns
    -------
    xmap
        Crystal map of shape ``config.shape_px`` with step ``config.step_size_um`` µm;
        phase ids metal 0, collector 1, electrolyte 2 (amorphous layers, and
        pores, −1); properties ``grain_id`` (unique over the map, −1 in pores),
        ``pore`` (1 in voids), ``region`` (:class:`~synthebsd.conventions.Region`),
        ``misorientation_deg`` (angle from the grain's orientation, degrees), and for
        voids ``pore_depth_um`` and ``pore_width_um`` (depth below the section surface
        and diameter of the void, µm; 0 elsewhere) and ``pore_floor_index`` (flat index
        of the metal point whose grain forms the void's floor; −1 elsewhere); attribute
        ``frame`` None.
    """
    config = config or MicrostructureConfig()
    cell = build_cell(config, _as_rng(seed), orientation_sets)
    return render_frame(cell, 0.0, 1.0, 1.0, config.pores.porosity, None, None)[0]


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
    cell = build_cell(config, _as_rng(seed), orientation_sets)
    initial = config.sequence.initial_thickness_fraction
    full_px = config.metal.thickness_um / config.step_size_um
    frames = []
    for k in range(n_frames):
        f = k / (n_frames - 1)
        shift = (1 - (initial + (1 - initial) * f)) * full_px
        frames.append(render_frame(cell, shift, f, 0.0, None, None, k)[0])
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
    cell = build_cell(config, _as_rng(seed), orientation_sets)
    stripped_px = config.sequence.stripped_thickness_um / config.step_size_um
    _, factors = render_frame(
        cell, stripped_px, 1.0, 1.0, config.pores.porosity, None, n_frames - 1
    )
    frames = []
    for k in range(n_frames):
        s = k / (n_frames - 1)
        frames.append(render_frame(cell, s * stripped_px, 1.0, s, None, factors, k)[0])
    return frames
