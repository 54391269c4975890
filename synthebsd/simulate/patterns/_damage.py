"""Beam damage: cumulative electron dose in scan order and the loss of Kikuchi contrast.

Dose
----
Each pattern exposes its point to N = I·t/e primary electrons (probe current I, dwell
time t per pattern). The areal dose (electrons per nm²) delivered at a surface point a
distance (Δx, Δy) from the probe is N·P(Δx, Δy) with

    P = (1 − f_p − f_h)·G(σ_x, σ_y) + f_p·G(σ_p, σ_p / cos(tilt)) + f_h·G(σ_h, σ_h / cos(tilt)),

G a normalised 2-D Gaussian: the core is the interaction footprint of
:mod:`synthebsd.simulate.patterns._mixing` (probe ⊕ electron range, elongated across the
tilt axis by 1/cos(tilt)); the incident probe's skirt (a fraction f_p of the current over
σ_p, ``probe_tail_*``) and the backscatter halo (a fraction f_h of the dose over σ_h,
``halo_*``: electrons that leave the surface and come back around the probe) have their
own parameters, both assumptions to replace by a measurement. The cumulative dose of map
point i while its pattern is recorded is

    D_i = D_prior + ½·N_i·P_i(0) + Σ_{j before i} N_j·P_j(x_i − x_j),

the sum over the points scanned before i (raster: rows top to bottom, each left to right;
serpentine: alternate rows right to left), the half counting the dose a pattern receives
during its own exposure on average. The dose map is ground truth.

Damage
------
The damaged fraction of the probed material is a = 1 − exp(−D/D_c) (first-order kinetics,
one critical dose D_c per phase): its band contrast is multiplied by exp(−D/D_c); the
damaged part diffracts less sharply (an added point spread of σ = blur_sigma_px, mixed in
with weight a) and adds diffuse background (diffuse_background × a, broader than the
backscatter background).

Critical doses
--------------
We know of no measured critical dose for the loss of Kikuchi contrast of Li or Na metal at
room temperature, so the defaults (Li 500, Na 2,000 e/nm²; Cu and Ni 10⁷ e/nm², i.e. not
damaged at EBSD doses) are assumptions to be replaced by a user's dose series. For a low
D_c: Li metal is held to be so beam sensitive at room temperature that its atomic
structure was first imaged under cryo conditions (Li et al., Science 358, 506, 2017),
and the ordering Li < Na follows from knock-on displacement (Egerton, Li & Malac,
Micron 35, 399, 2004): the largest energy a 20 keV electron transfers to a nucleus,
E_max = 2E(E + 2m₀c²)/(Mc²) (:func:`max_transferred_energy_ev`), is 6.4 eV for Li,
the order of the displacement energy of a soft light metal, but 1.9 eV for Na and 0.7 eV
for Cu, below any displacement threshold. At the default beam (1 nA, 10 ms, 20 kV) and
0.5 µm steps (computed with :func:`dose_map` on a 20 × 20 Li map), the first point scanned
receives 73 e/nm² (14 % contrast loss at D_c = 500 e/nm²), an interior point 166 e/nm²
(28 %): the probe skirts and halos of the points scanned before it more than double its
own dose. At the demo's 0.6 µm steps an interior point receives 137 e/nm² (24 %).

The literature does not agree on how sensitive Li is: Bai et al. (Joule 2026,
doi:10.1016/j.joule.2025.102311; arXiv:2412.19376) image Li metal in the TEM at high
resolution at room temperature, after inert-gas transfer, at dose rates above
1,000 e/Å²/s (10⁵ e/nm² per second) without detectable damage, and find its SEI
(Li₂CO₃, LiF) far more sensitive. If their result carries over to EBSD, D_c of
clean Li is orders of magnitude above the default, and the fading seen in practice comes
from the surface (SEI, contamination, heating) rather than the metal's lattice: the
default is then a pessimistic case that makes damage visible in a single scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.config import BeamConfig, DamageConfig, MixingConfig
from synthebsd.simulate.patterns._mixing import footprint_sigmas_um

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap

__all__ = [
    "critical_dose",
    "critical_doses",
    "damage_fraction",
    "default_footprints",
    "dose_map",
    "max_transferred_energy_ev",
    "primary_electrons",
    "scan_index",
]

_ELEMENTARY_CHARGE = 1.602176634e-19  # C
_ELECTRON_REST_KEV = 510.99895
_AMU_KEV = 931494.10242


def primary_electrons(beam: BeamConfig) -> float:
    """Primary electrons per pattern, N = I·t/e (I in nA, t in ms)."""
    return beam.probe_current_na * 1e-9 * beam.dwell_time_ms * 1e-3 / _ELEMENTARY_CHARGE


def max_transferred_energy_ev(mass_u: float, energy_kv: float) -> float:
    """Largest energy (eV) an electron of ``energy_kv`` transfers to a nucleus of mass in u."""
    e = energy_kv
    return 2 * e * (e + 2 * _ELECTRON_REST_KEV) / (mass_u * _AMU_KEV) * 1e3


def scan_index(shape: tuple[int, int], order: str = "raster") -> np.ndarray:
    """Position of every map point in the scan, array of ``shape`` (0 = first)."""
    n_rows, n_cols = shape
    cols = np.tile(np.arange(n_cols), (n_rows, 1))
    if order == "serpentine":
        cols[1::2] = cols[1::2, ::-1]
    elif order != "raster":
        raise ValueError(f"scan order must be 'raster' or 'serpentine', got {order!r}")
    index = np.empty(shape, dtype=np.int64)
    index[np.arange(n_rows)[:, None], cols] = np.arange(n_rows * n_cols).reshape(shape)
    return index


def _gaussian_density(dx_nm, dy_nm, sigma_x_nm, sigma_y_nm):
    return np.exp(-0.5 * ((dx_nm / sigma_x_nm) ** 2 + (dy_nm / sigma_y_nm) ** 2)) / (
        2 * np.pi * sigma_x_nm * sigma_y_nm
    )


def dose_map(
    xmap: CrystalMap,
    footprints_um: Mapping[int, tuple[float, float]],
    sample_tilt_deg: float,
    beam: BeamConfig,
    damage: DamageConfig,
    electrons: np.ndarray | float | None = None,
) -> np.ndarray:
    """Cumulative areal dose of every map point during its exposure, in electrons per nm².

    Parameters
    ----------
    xmap
        Map (its shape, step sizes in µm and phase ids).
    footprints_um
        Footprint (σ_x, σ_y) in µm per phase id; -1 for points without a phase.
    sample_tilt_deg
        Sample tilt in degrees (elongates skirt and halo across the tilt axis).
    beam, damage
        Probe current, dwell time, scan order; probe skirt and backscatter halo
        (fractions, widths), prior dose.
    electrons
        Primary electrons per pattern, scalar or per point (flat); default from ``beam``.

    Returns
    -------
    dose
        float64 array (n_points,), electrons per nm².
    """
    n_rows, n_cols = xmap.shape
    n = np.broadcast_to(
        np.asarray(primary_electrons(beam) if electrons is None else electrons, dtype=float),
        (n_rows * n_cols,),
    ).reshape(n_rows, n_cols)
    order = scan_index((n_rows, n_cols), beam.scan_order)
    phase_id = xmap.phase_id.reshape(n_rows, n_cols)
    dx_nm, dy_nm = xmap.dx * 1e3, xmap.dy * 1e3
    cos_tilt = np.cos(np.deg2rad(sample_tilt_deg))
    # Probe skirt and backscatter halo: (fraction, σ_x, σ_y) in nm, elongated like the core.
    wide = [
        (f, s * 1e3, s * 1e3 / cos_tilt)
        for f, s in (
            (damage.probe_tail_fraction, damage.probe_tail_sigma_um),
            (damage.halo_fraction, damage.halo_sigma_um),
        )
        if f > 0
    ]
    core_fraction = 1 - damage.probe_tail_fraction - damage.halo_fraction
    core = {p: (s[0] * 1e3, s[1] * 1e3) for p, s in footprints_um.items()}
    widest_x = max([s[0] for s in core.values()] + [w[1] for w in wide])
    widest_y = max([s[1] for s in core.values()] + [w[2] for w in wide])
    max_r = min(n_rows - 1, int(np.ceil(4 * widest_y / dy_nm)))
    max_c = min(n_cols - 1, int(np.ceil(4 * widest_x / dx_nm)))

    # Density per primary electron of each source point's own phase, at offset o = j - i.
    source_phase = np.where(np.isin(phase_id, list(core)), phase_id, -1)
    total = np.full((n_rows, n_cols), damage.prior_dose_e_per_nm2, dtype=float)
    for orow in range(-max_r, max_r + 1):
        for ocol in range(-max_c, max_c + 1):
            r0, r1 = max(0, -orow), min(n_rows, n_rows - orow)
            c0, c1 = max(0, -ocol), min(n_cols, n_cols - ocol)
            if r0 >= r1 or c0 >= c1:
                continue
            target = (slice(r0, r1), slice(c0, c1))
            source = (slice(r0 + orow, r1 + orow), slice(c0 + ocol, c1 + ocol))
            if orow == 0 and ocol == 0:
                weight = np.full((r1 - r0, c1 - c0), 0.5)
            else:
                weight = (order[source] < order[target]).astype(float)
                if not weight.any():
                    continue
            ddx, ddy = ocol * dx_nm, orow * dy_nm
            tail = sum(f * _gaussian_density(ddx, ddy, sx, sy) for f, sx, sy in wide)
            density = np.zeros((r1 - r0, c1 - c0))
            for pid, (sx, sy) in core.items():
                here = source_phase[source] == pid
                if here.any():
                    density[here] = core_fraction * _gaussian_density(ddx, ddy, sx, sy)
            total[target] += weight * n[source] * (density + tail)
    return total.reshape(-1)


def critical_dose(damage: DamageConfig, phase_name: str) -> float:
    """D_c in e/nm² of a phase: the config's value for its name (any case), or the default."""
    table = {k.lower(): v for k, v in damage.critical_dose_e_per_nm2.items()}
    return table.get(phase_name.lower(), damage.default_critical_dose_e_per_nm2)


def critical_doses(phase_names: Mapping[int, str], damage: DamageConfig) -> dict[int, float]:
    """D_c in e/nm² per phase id (:func:`critical_dose` of each name)."""
    return {pid: critical_dose(damage, name) for pid, name in phase_names.items()}


def damage_fraction(dose: np.ndarray, critical_dose: np.ndarray | float) -> np.ndarray:
    """Damaged fraction a = 1 − exp(−D/D_c); band contrast scales with 1 − a."""
    return -np.expm1(-np.asarray(dose, dtype=float) / critical_dose)


def default_footprints(
    xmap: CrystalMap,
    energy_kv: float,
    sample_tilt_deg: float,
    beam: BeamConfig,
    mixing: MixingConfig,
) -> dict[int, tuple[float, float]]:
    """Footprint (σ_x, σ_y) in µm per phase id of ``xmap``; -1: the widest of them."""
    out = {
        pid: footprint_sigmas_um(ph, energy_kv, sample_tilt_deg, beam, mixing)
        for pid, ph in xmap.phases
        if pid >= 0
    }
    out[-1] = max(out.values(), key=lambda s: s[0] * s[1]) if out else (0.01, 0.03)
    return out
