"""Stripping voids: disks opened at the metal|electrolyte interface, grown to a porosity.

A void is a disk centred :data:`PORE_DEPTH` radii below the interface, cut by the metal:
it opens into the metal. Lengths are in map pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from synthebsd.simulate.microstructure._cell import Cell

__all__ = [
    "PORE_AREA_IN_METAL",
    "PORE_DEPTH",
    "pore_depths",
    "pore_mask",
    "pore_radii",
    "rasterise_pores",
]

# Depth of a void's centre below the interface, in void radii: the void opens into the
# metal; the part of the disk in the metal is (π − acos(0.4) + 0.4·√0.84) r² ≈ 2.349 r².
PORE_DEPTH = 0.4
PORE_AREA_IN_METAL = np.pi - np.arccos(PORE_DEPTH) + PORE_DEPTH * np.sqrt(1 - PORE_DEPTH**2)


def rasterise_pores(
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


def pore_depths(
    pore: np.ndarray, metal_top: np.ndarray, cols: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Depth below the section surface and width of the voids, per pixel (px).

    A void is taken as the sphere whose equator is its disk in the section: at distance ρ
    from the centre it is √(r² − ρ²) deep. Where disks overlap, the deepest counts, with
    that disk's diameter 2r as the width.

    Returns
    -------
    depth, width
        float arrays of the map shape; 0 outside ``pore``.
    """
    n_rows, n_cols = pore.shape
    depth = np.zeros(pore.shape)
    width = np.zeros(pore.shape)
    for c, r in zip(cols, radii, strict=True):
        if r <= 0:
            continue
        centre_row = metal_top[int(c) % n_cols] + PORE_DEPTH * r
        r0, r1 = max(int(centre_row - r) - 1, 0), min(int(centre_row + r) + 2, n_rows)
        c0, c1 = int(c - r) - 1, int(c + r) + 2
        if r0 >= r1:
            continue
        rr = np.arange(r0, r1)[:, None]
        cc_wrapped = np.mod(np.arange(c0, c1), n_cols)  # periodic along the section
        d = np.sqrt(np.clip(r**2 - (rr - centre_row) ** 2 - (np.arange(c0, c1) - c) ** 2, 0, None))
        sub_d = depth[r0:r1][:, cc_wrapped]
        deeper = d > sub_d
        sub_w = width[r0:r1][:, cc_wrapped]
        depth[r0:r1, cc_wrapped] = np.where(deeper, d, sub_d)
        width[r0:r1, cc_wrapped] = np.where(deeper, 2 * r, sub_w)
    return np.where(pore, depth, 0.0), np.where(pore, width, 0.0)


def pore_radii(cell: Cell, time: float, factors: np.ndarray) -> np.ndarray:
    """Void radii (px) at stripping time ``time`` for size factors ``factors``."""
    growth = np.sqrt(np.clip((time - cell.pore_times) / (1 - cell.pore_times), 0.0, 1.0))
    return factors * cell.pore_radii * growth


def pore_mask(
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
    base = pore_radii(cell, time, np.ones(n_pool))
    if porosity is None:
        f = np.zeros(n_pool) if factors is None else factors
        return rasterise_pores(metal_mask, metal_top, cell.pore_cols, f * base), f

    target = porosity * metal_mask.sum()

    def one(i: int, scale: float) -> np.ndarray:
        return rasterise_pores(
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
        return rasterise_pores(metal_mask, metal_top, cell.pore_cols, lam * base).sum()

    lo, hi = 1.0, 2.0
    while count(hi) < target and hi < 1e4:
        lo, hi = hi, 2 * hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    lam = lo if abs(count(lo) - target) < abs(count(hi) - target) else hi
    f = np.full(n_pool, lam)
    return rasterise_pores(metal_mask, metal_top, cell.pore_cols, f * base), f
