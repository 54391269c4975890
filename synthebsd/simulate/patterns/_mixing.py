"""Interaction footprint and boundary mixing: which material a pattern comes from.

A pattern is formed by electrons backscattered from a region around the probe, not from a
point. We model the region seen on the sample surface as a Gaussian footprint with

    σ_x = √(σ_probe² + (f·R)²)   (along the tilt axis, map x),
    σ_y = σ_x / cos(tilt)        (across it: the footprint of a tilted surface, map y),

where σ_probe = FWHM / 2.3548 of the probe, R is the Kanaya–Okayama electron range of the
probed material at the beam energy,

    R = 0.0276 µm · A · E^1.67 / (Z^0.89 · ρ)     (E in keV, A in g/mol, ρ in g/cm³),

(Kanaya & Okayama, J. Phys. D 5, 43, 1972; for compounds the mass-fraction mean of A and
Z), and ``f`` (:attr:`~synthebsd.config.MixingConfig.range_fraction`) the ratio of the
EBSD footprint to the range. The EBSD spatial resolution is known to grow with the
electron range, i.e. lower atomic number and density (Humphreys, J. Mater. Sci. 36, 3833,
2001; Zaefferer, Ultramicroscopy 107, 254, 2007): we take it proportional, with
f = 0.0073 giving Cu at 20 kV a footprint FWHM of ≈ 25 nm along the tilt axis (the order
of FEG-SEM values quoted there). That is an assumption; Li (R ≈ 20 µm at 20 kV, against
1.5 µm for Cu) then has σ_x ≈ 0.15 µm and σ_y ≈ 0.43 µm at 70° tilt: patterns one
0.5 µm step from a grain boundary already mix both grains.

The pattern of map point i is the footprint-weighted sum of the material of the map
cells around it; the weight of cell i + o is the footprint's integral over that cell,

    w_o = [Φ((o_c + ½)·Δx/σ_x) − Φ((o_c − ½)·Δx/σ_x)] · [Φ((o_r + ½)·Δy/σ_y) − Φ(...)],

with Φ the standard normal CDF. Weights below ``min_weight`` are dropped; at the map edge
the weights of cells inside the map are renormalised to 1 (nothing is known beyond it).
The footprint is that of the phase at the probe; points without a phase (pores,
electrolyte) use the widest footprint of the crystalline phases present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr

from synthebsd.config import BeamConfig, MixingConfig
from synthebsd.phases import full_cell_phase

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap, Phase

__all__ = [
    "electron_range_um",
    "footprint_sigmas_um",
    "mixing_kernel",
    "mixing_weights",
    "phase_composition",
]

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
_AVOGADRO = 6.02214076e23


def phase_composition(phase: Phase) -> tuple[float, float, float]:
    """Mass-fraction mean atomic weight A (g/mol), atomic number Z and density ρ (g/cm³).

    Atoms of the full unit cell (:func:`synthebsd.phases.full_cell_phase` for phases that
    synthebsd knows, orix's expansion otherwise) with their occupancies; the cell volume
    from the lattice (Å³).
    """
    # lazy: de_ebsd imports torch
    from de_ebsd.crystal.data.element_properties import ATOMIC_WEIGHTS
    from de_ebsd.crystal.data.scattering_tables import ELEMENT_SYMBOLS

    try:
        cell = full_cell_phase(phase.name).structure
    except ValueError:  # a phase synthebsd has no structure table for
        cell = phase.expand_asymmetric_unit().structure
    z_of = {s.lower(): i + 1 for i, s in enumerate(ELEMENT_SYMBOLS)}
    masses, zs = [], []
    for atom in cell:
        symbol = "".join(ch for ch in str(atom.element) if ch.isalpha()).lower()
        if symbol not in z_of:
            raise ValueError(f"Unknown element {atom.element!r} in phase {phase.name}")
        z = z_of[symbol]
        masses.append(float(atom.occupancy) * ATOMIC_WEIGHTS[z - 1])
        zs.append(z)
    masses = np.asarray(masses)
    zs = np.asarray(zs, dtype=float)
    weights = masses / masses.sum()
    mean_a = float(np.sum(weights * [ATOMIC_WEIGHTS[int(z) - 1] for z in zs]))
    mean_z = float(np.sum(weights * zs))
    volume_cm3 = cell.lattice.volume * 1e-24
    density = float(masses.sum() / _AVOGADRO / volume_cm3)
    return mean_a, mean_z, density


def electron_range_um(phase: Phase, energy_kv: float) -> float:
    """Kanaya–Okayama electron range in µm of a phase at a beam energy in kV."""
    a, z, rho = phase_composition(phase)
    return 0.0276 * a * energy_kv**1.67 / (z**0.89 * rho)


def footprint_sigmas_um(
    phase: Phase,
    energy_kv: float,
    sample_tilt_deg: float,
    beam: BeamConfig,
    mixing: MixingConfig,
) -> tuple[float, float]:
    """Footprint σ along map x (tilt axis) and map y (across it), in µm."""
    sigma_probe = beam.probe_fwhm_nm * 1e-3 / _FWHM_PER_SIGMA
    sigma_x = float(
        np.hypot(sigma_probe, mixing.range_fraction * electron_range_um(phase, energy_kv))
    )
    return sigma_x, sigma_x / np.cos(np.deg2rad(sample_tilt_deg))


def _cell_weights(sigma: float, step: float, max_offset: int) -> np.ndarray:
    o = np.arange(-max_offset, max_offset + 1)
    if sigma <= 0:
        return (o == 0).astype(float)
    return ndtr((o + 0.5) * step / sigma) - ndtr((o - 0.5) * step / sigma)


def mixing_kernel(
    sigma_x_um: float,
    sigma_y_um: float,
    dx_um: float,
    dy_um: float,
    min_weight: float = 1e-3,
    max_offset_px: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Footprint weights of the map cells around a probe.

    ``max_offset_px`` bounds the neighbour offsets per axis; None: ⌈3σ / step⌉ of each axis
    (at least 1). A bound below 3σ would drop part of the footprint before the
    ``min_weight`` cut and is refused.

    Returns
    -------
    offsets
        int array (K, 2) of (row, col) offsets.
    weights
        Their weights (K,), the footprint's integral over each cell, those below
        ``min_weight`` dropped; they sum to ≤ 1 (the dropped tail is not renormalised
        here, see :func:`mixing_weights`).
    """
    need_y = max(1, int(np.ceil(3 * sigma_y_um / dy_um)))
    need_x = max(1, int(np.ceil(3 * sigma_x_um / dx_um)))
    if max_offset_px is not None and max_offset_px < max(need_y, need_x):
        raise ValueError(
            f"mixing max_offset_px {max_offset_px} is below 3σ of the footprint "
            f"(σ_y {sigma_y_um:.3g} µm = {need_y} rows, σ_x {sigma_x_um:.3g} µm = {need_x} "
            f"columns at steps {dy_um:g}, {dx_um:g} µm): raise it or leave it unset"
        )
    reach_y = need_y if max_offset_px is None else max_offset_px
    reach_x = need_x if max_offset_px is None else max_offset_px
    wy = _cell_weights(sigma_y_um, dy_um, reach_y)
    wx = _cell_weights(sigma_x_um, dx_um, reach_x)
    w = wy[:, None] * wx[None, :]
    rows, cols = np.nonzero(w >= min_weight)
    offsets = np.column_stack([rows - reach_y, cols - reach_x])
    return offsets, w[rows, cols]


def mixing_weights(
    xmap: CrystalMap,
    energy_kv: float,
    sample_tilt_deg: float,
    beam: BeamConfig,
    mixing: MixingConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Mixing weights of every map point: ground truth of which material each pattern shows.

    Returns
    -------
    offsets
        int array (K, 2) of (row, col) offsets, the union over phases (offset (0, 0) first).
    weights
        float array (n_points, K): weight of point ``i + offset`` in the pattern of point
        ``i`` (flat C order); 0 outside the map; each row sums to 1.
    """
    n_rows, n_cols = xmap.shape
    crystalline = [(pid, ph) for pid, ph in xmap.phases if pid >= 0]
    kernels = {}
    for pid, ph in crystalline:
        sx, sy = footprint_sigmas_um(ph, energy_kv, sample_tilt_deg, beam, mixing)
        kernels[pid] = mixing_kernel(
            sx, sy, xmap.dx, xmap.dy, mixing.min_weight, mixing.max_offset_px
        )
    if kernels:
        widest = max(kernels, key=lambda p: kernels[p][0].shape[0])
        kernels[-1] = kernels[widest]
    else:
        kernels[-1] = (np.zeros((1, 2), dtype=int), np.ones(1))
    all_offsets = np.unique(np.concatenate([k[0] for k in kernels.values()]), axis=0)
    zero = np.all(all_offsets == 0, axis=1)
    all_offsets = np.concatenate([all_offsets[zero], all_offsets[~zero]])
    column = {tuple(o): k for k, o in enumerate(all_offsets.tolist())}

    phase_id = xmap.phase_id.reshape(n_rows, n_cols)
    weights = np.zeros((n_rows, n_cols, all_offsets.shape[0]))
    rr, cc = np.mgrid[0:n_rows, 0:n_cols]
    for pid, (offsets, w) in kernels.items():
        here = phase_id == pid if pid >= 0 else ~np.isin(phase_id, list(kernels)[:-1])
        for (orow, ocol), wk in zip(offsets.tolist(), w, strict=True):
            inside = (
                (rr + orow >= 0) & (rr + orow < n_rows) & (cc + ocol >= 0) & (cc + ocol < n_cols)
            )
            weights[..., column[(orow, ocol)]] += np.where(here & inside, wk, 0.0)
    weights /= weights.sum(axis=-1, keepdims=True)
    return all_offsets, weights.reshape(n_rows * n_cols, -1)
