"""Where each map point's pattern comes from: its own crystal, a pore's floor, or nothing.

A point of a crystalline phase diffracts itself. A beam that enters a surface pore meets
material at the pore's floor, below the section surface: its pattern is that of the
grain beneath (the generator's ``pore_floor_index``: the nearest metal point), weaker
(region yield), shadowed by the rim (``pore_depth_um`` over ``pore_width_um``) and seen
from a source lowered by the depth (:func:`~synthebsd.simulate.patterns.pc_shift_along_beam`).
Points of an amorphous layer, and pores of maps without that geometry (hand-made or read
from elsewhere), give background only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.conventions import Region

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap

__all__ = ["DiffractingSources", "diffracting_sources"]

_PORE_GEOMETRY = ("pore_depth_um", "pore_width_um", "pore_floor_index")


@dataclass(frozen=True)
class DiffractingSources:
    """The diffracting material of every map point (flat C order).

    Attributes
    ----------
    phase_id
        (n,) phase id whose master pattern the point's pattern comes from; −1: none.
    point
        (n,) flat index of the map point whose orientation diffracts (the point itself,
        or the floor of its pore).
    depth_um
        (n,) depth of the diffracting material below the section surface in µm (pores).
    shadow_ratio
        (n,) pore depth over pore width (0 outside pores): the rim shadow's strength.
    """

    phase_id: np.ndarray
    point: np.ndarray
    depth_um: np.ndarray
    shadow_ratio: np.ndarray

    @property
    def has_pore_patterns(self) -> bool:
        """Whether any pore gives a pattern."""
        return bool(np.any(self.depth_um > 0))


def diffracting_sources(xmap: CrystalMap, pore_patterns: bool = True) -> DiffractingSources:
    """The diffracting material of each point of a ground-truth map.

    Parameters
    ----------
    xmap
        Ground-truth map (phase ids, ``region``; for pores that give patterns the
        generator's ``pore_depth_um``, ``pore_width_um`` and ``pore_floor_index``).
    pore_patterns
        Let pores give the pattern of their floor; False: background only.

    Returns
    -------
    sources
        See :class:`DiffractingSources`.

    Raises
    ------
    ValueError
        If a pore's floor index points outside the map or at a point without a phase.
    """
    n = xmap.size
    phase_id = np.asarray(xmap.phase_id, dtype=np.int64).copy()
    point = np.arange(n)
    depth = np.zeros(n)
    ratio = np.zeros(n)
    region = np.asarray(xmap.prop.get("region", np.full(n, Region.METAL)))
    pore = region == Region.PORE
    if pore_patterns and pore.any() and all(k in xmap.prop for k in _PORE_GEOMETRY):
        floor = np.asarray(xmap.prop["pore_floor_index"], dtype=np.int64)
        has_floor = pore & (floor >= 0)
        if np.any(floor[has_floor] >= n):
            raise ValueError("pore_floor_index points outside the map")
        if np.any(phase_id[floor[has_floor]] < 0):
            raise ValueError("pore_floor_index points at a map point without a phase")
        point[has_floor] = floor[has_floor]
        phase_id[has_floor] = phase_id[floor[has_floor]]
        depth[has_floor] = np.asarray(xmap.prop["pore_depth_um"], dtype=float)[has_floor]
        width = np.asarray(xmap.prop["pore_width_um"], dtype=float)[has_floor]
        ratio[has_floor] = depth[has_floor] / np.maximum(width, 1e-12)
    return DiffractingSources(phase_id, point, depth, ratio)
