"""Texture: the indexed map's orientation distribution against the truth's.

The orientation distribution function (ODF) of a set of orientations is estimated with a
Gaussian kernel in disorientation angle, ``K(ω) = exp(−ω² / 2σ²)``, evaluated on orix's
uniform sample of the phase's fundamental zone
(:func:`orix.sampling.get_sample_fundamental`), and normalised to a mean of 1 over that
grid (1 everywhere is a random texture, in multiples of a random distribution, MRD).
Two numbers describe how well a map recovers its texture:

- the **texture index** J = mean(f²) (Bunge's, 1 for random) of each map, and its
  difference found − true;
- the **ODF distance** ½ · mean|f_found − f_true|, the total-variation distance of the
  two distributions (0: the same, 1: disjoint). This is the documented number the
  benchmark reports.

Both maps are sampled on the same points (per-point orientations, area-weighted, as
EBSD software does), so the kernel's finite-sample bias is the same for both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from orix.quaternion import Rotation
from orix.sampling import get_sample_fundamental

from synthebsd.analyze.metrics._grains import _metal_phase

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap
    from orix.quaternion import Symmetry

__all__ = ["odf_on_grid", "texture_metrics"]

#: Resolution of the fundamental-zone grid the ODF is evaluated on, degrees.
GRID_RESOLUTION_DEG = 7.5
#: Standard deviation of the Gaussian kernel in disorientation angle, degrees.
KERNEL_SIGMA_DEG = 7.5


_GRIDS: dict[tuple[str, float], np.ndarray] = {}


def _fundamental_grid(symmetry: Symmetry, resolution_deg: float) -> np.ndarray:
    """The fundamental-zone sample of ``symmetry`` (computed once per process)."""
    key = (symmetry.name, resolution_deg)
    if key not in _GRIDS:
        _GRIDS[key] = get_sample_fundamental(
            resolution=resolution_deg, point_group=symmetry
        ).data.reshape(-1, 4)
    return _GRIDS[key]


def odf_on_grid(
    rotations: Rotation,
    symmetry: Symmetry,
    resolution_deg: float = GRID_RESOLUTION_DEG,
    sigma_deg: float = KERNEL_SIGMA_DEG,
    block: int = 512,
) -> np.ndarray:
    """Kernel ODF of ``rotations`` on the fundamental-zone grid, in MRD (mean 1).

    Parameters
    ----------
    rotations
        Orientations (sample → crystal) of one phase.
    symmetry
        The phase's point group (its proper rotations are applied on the left).
    resolution_deg, sigma_deg
        Grid resolution and kernel standard deviation, degrees.
    block
        Orientations handled at once (memory: grid size × 24 × block floats).

    Returns
    -------
    odf
        One value per grid orientation (the grid of
        :func:`orix.sampling.get_sample_fundamental`); all NaN for no orientations.
    """
    grid = _fundamental_grid(symmetry, resolution_deg)
    q = rotations.data.reshape(-1, 4)
    if q.shape[0] == 0:
        return np.full(grid.shape[0], np.nan)
    ops = Rotation(symmetry.proper_subgroup.data)
    f = np.zeros(grid.shape[0])
    sigma = np.deg2rad(sigma_deg)
    for start in range(0, q.shape[0], block):
        eq = (ops.outer(Rotation(q[start : start + block]))).data.reshape(-1, 4)
        cos_half = np.abs(grid @ eq.T).reshape(grid.shape[0], ops.size, -1).max(axis=1)
        omega = 2 * np.arccos(np.clip(cos_half, 0.0, 1.0))
        f += np.exp(-0.5 * (omega / sigma) ** 2).sum(axis=1)
    return f / f.mean()


def texture_metrics(
    truth: CrystalMap,
    result: CrystalMap,
    phase: str | None = None,
    resolution_deg: float = GRID_RESOLUTION_DEG,
    sigma_deg: float = KERNEL_SIGMA_DEG,
) -> dict[str, Any]:
    """Texture index and ODF distance of the indexed map against the truth (module doc).

    The truth's ODF is made from its points of ``phase`` (default: the metal), the
    result's from its points given that phase.

    Returns
    -------
    texture
        ``phase``, ``texture_index_true``, ``texture_index_found``,
        ``texture_index_difference`` (found − true), ``odf_distance`` (in [0, 1]),
        ``n_true``, ``n_found``, ``sigma_deg``; None values when the result has no point
        of the phase.
    """
    name = _metal_phase(truth, phase)
    true_pid = [pid for pid, ph in truth.phases if ph.name == name]
    found_pid = [pid for pid, ph in result.phases if pid >= 0 and ph.name == name]
    symmetry = truth.phases[true_pid[0]].point_group
    t = truth.rotations.data.reshape(-1, 4)[np.isin(truth.phase_id, true_pid)]
    f = result.rotations.data.reshape(-1, 4)[np.isin(result.phase_id, found_pid)]
    out: dict[str, Any] = {
        "phase": name,
        "n_true": int(t.shape[0]),
        "n_found": int(f.shape[0]),
        "sigma_deg": sigma_deg,
        "texture_index_true": None,
        "texture_index_found": None,
        "texture_index_difference": None,
        "odf_distance": None,
    }
    if t.shape[0] == 0:
        return out
    odf_t = odf_on_grid(Rotation(t), symmetry, resolution_deg, sigma_deg)
    out["texture_index_true"] = float(np.mean(odf_t**2))
    if f.shape[0] == 0:
        return out
    odf_f = odf_on_grid(Rotation(f), symmetry, resolution_deg, sigma_deg)
    out["texture_index_found"] = float(np.mean(odf_f**2))
    out["texture_index_difference"] = out["texture_index_found"] - out["texture_index_true"]
    out["odf_distance"] = float(0.5 * np.mean(np.abs(odf_f - odf_t)))
    return out
