"""Grains reconstructed from an orientation map, compared with the true grains.

A grain is a connected set of points of one phase whose neighbours differ by less than a
misorientation threshold (5° by default), the definition EBSD software uses. The
neighbour disorientations come from orix (crystal symmetry of the phase), the connected
sets from :func:`scipy.sparse.csgraph.connected_components`, the areas and pieces from
scikit-image's conventions (4- or 8-connectivity, ``connectivity`` 1 or 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from orix.quaternion import Orientation
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import ks_2samp

from synthebsd.conventions import PHASE_IDS

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap

__all__ = ["grain_metrics", "reconstruct_grains"]


def _neighbour_pairs(shape: tuple[int, int], connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (C order) of neighbouring point pairs of a ``shape`` grid."""
    idx = np.arange(shape[0] * shape[1]).reshape(shape)
    pairs = [(idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])]
    if connectivity == 2:
        pairs += [(idx[:-1, :-1], idx[1:, 1:]), (idx[:-1, 1:], idx[1:, :-1])]
    a = np.concatenate([p[0].ravel() for p in pairs])
    b = np.concatenate([p[1].ravel() for p in pairs])
    return a, b


def reconstruct_grains(
    xmap: CrystalMap,
    threshold_deg: float = 5.0,
    connectivity: int = 1,
    min_size_px: int = 1,
) -> np.ndarray:
    """Grain ids of a map from its orientations alone.

    Parameters
    ----------
    xmap
        A 2-D map (orientations and phases; nothing else is read).
    threshold_deg
        Neighbours of the same phase closer than this disorientation (degrees) are in
        the same grain.
    connectivity
        1: edge neighbours (4-connectivity); 2: also diagonal neighbours (8).
    min_size_px
        Grains of fewer points are dropped (id −1), as EBSD software's clean-up does.

    Returns
    -------
    grain_id
        Flat int array (C order): 0, 1, … numbered in order of each grain's first point;
        −1 for points without a phase and for dropped grains.
    """
    if len(xmap.shape) != 2:
        raise ValueError(f"Grain reconstruction needs a 2-D map, got shape {xmap.shape}")
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity}")
    if not 0 < threshold_deg < 180:
        raise ValueError(f"threshold_deg must be in (0, 180), got {threshold_deg}")
    n = xmap.size
    phase_id = np.asarray(xmap.phase_id)
    a, b = _neighbour_pairs(xmap.shape, connectivity)
    same = (phase_id[a] == phase_id[b]) & (phase_id[a] >= 0)
    a, b = a[same], b[same]
    q = xmap.rotations.data.reshape(-1, 4)
    close = np.zeros(a.size, dtype=bool)
    for pid, phase in xmap.phases:
        here = phase_id[a] == pid
        if pid < 0 or not here.any():
            continue
        oa = Orientation(q[a[here]], symmetry=phase.point_group)
        ob = Orientation(q[b[here]], symmetry=phase.point_group)
        close[here] = oa.angle_with(ob, degrees=True) < threshold_deg
    graph = coo_matrix((np.ones(int(close.sum())), (a[close], b[close])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    comp = np.where(phase_id >= 0, comp, -1)
    sizes = np.bincount(comp[comp >= 0], minlength=n)
    keep = (comp >= 0) & (sizes[np.maximum(comp, 0)] >= min_size_px)
    out = np.full(n, -1, dtype=np.int64)
    _, first, inverse = np.unique(comp[keep], return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))  # number grains by their first point
    out[keep] = rank[inverse]
    return out


def _ecd_um(labels: np.ndarray, step_area_um2: float) -> tuple[np.ndarray, np.ndarray]:
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    return ids, np.sqrt(4 * counts * step_area_um2 / np.pi)


def _metal_phase(truth: CrystalMap, phase: str | None) -> str:
    names = {pid: ph.name for pid, ph in truth.phases if pid >= 0}
    if phase is None:
        if not names:
            raise ValueError("The truth map has no crystalline phase")
        return names.get(PHASE_IDS["metal"], next(iter(names.values())))
    if phase not in names.values():
        raise ValueError(f"Phase {phase!r} is not in the truth map ({sorted(names.values())})")
    return phase


def grain_metrics(
    truth: CrystalMap,
    result: CrystalMap,
    grain_id: np.ndarray | None = None,
    phase: str | None = None,
    threshold_deg: float = 5.0,
    connectivity: int = 1,
    min_size_px: int = 1,
    match_iou: float = 0.5,
) -> dict[str, Any]:
    """Grains reconstructed from ``result`` against the truth's grains of one phase.

    The true grains are the truth's ``grain_id`` on its points of ``phase``; the found
    grains are :func:`reconstruct_grains` of ``result`` (or ``grain_id``) on its points
    given ``phase``. Sizes are equivalent-circle diameters, ECD = √(4A/π), A the number of
    points times the step area (µm²).

    Parameters
    ----------
    truth, result
        Ground truth (``grain_id`` property) and indexed map, same points.
    grain_id
        Reconstructed grain ids of ``result``, if already computed.
    phase
        Phase name; default the metal (phase id 0 of the truth).
    threshold_deg, connectivity, min_size_px
        Passed to :func:`reconstruct_grains`.
    match_iou
        A true grain is matched when a found grain overlaps it with IoU above this.

    Returns
    -------
    grains
        ``phase``, ``n_true``, ``n_found``, ``mean_ecd_true_um``, ``mean_ecd_found_um``,
        ``mean_ecd_relative_error`` ((found − true) / true), ``ks_distance`` (two-sample
        Kolmogorov–Smirnov statistic of the ECDs, scipy), ``fraction_matched`` (of true
        grains, IoU > ``match_iou``), ``threshold_deg``.
    """
    if truth.size != result.size:
        raise ValueError(f"Maps differ in size: truth {truth.size}, result {result.size} points")
    name = _metal_phase(truth, phase)
    if grain_id is None:
        grain_id = reconstruct_grains(result, threshold_deg, connectivity, min_size_px)
    grain_id = np.asarray(grain_id)
    true_pid = [pid for pid, ph in truth.phases if ph.name == name]
    found_pid = [pid for pid, ph in result.phases if pid >= 0 and ph.name == name]
    t_lab = np.where(np.isin(truth.phase_id, true_pid), np.asarray(truth.prop["grain_id"]), -1)
    f_lab = np.where(np.isin(result.phase_id, found_pid), grain_id, -1)
    area = float(truth.dx * truth.dy)
    t_ids, t_ecd = _ecd_um(t_lab, area)
    f_ids, f_ecd = _ecd_um(f_lab, area)
    matched = 0
    both = (t_lab >= 0) & (f_lab >= 0)
    if t_ids.size and both.any():
        pairs, inter = np.unique(
            np.stack([t_lab[both], f_lab[both]], axis=1), axis=0, return_counts=True
        )
        t_size = np.bincount(np.searchsorted(t_ids, t_lab[t_lab >= 0]), minlength=t_ids.size)
        f_size = np.bincount(np.searchsorted(f_ids, f_lab[f_lab >= 0]), minlength=f_ids.size)
        union = (
            t_size[np.searchsorted(t_ids, pairs[:, 0])]
            + f_size[np.searchsorted(f_ids, pairs[:, 1])]
            - inter
        )
        iou = inter / union
        matched = len(np.unique(pairs[iou > match_iou, 0]))
    mean_t = float(t_ecd.mean()) if t_ecd.size else None
    mean_f = float(f_ecd.mean()) if f_ecd.size else None
    return {
        "phase": name,
        "threshold_deg": threshold_deg,
        "n_true": int(t_ids.size),
        "n_found": int(f_ids.size),
        "mean_ecd_true_um": mean_t,
        "mean_ecd_found_um": mean_f,
        "mean_ecd_relative_error": (mean_f - mean_t) / mean_t
        if mean_t and mean_f is not None
        else None,
        "ks_distance": float(ks_2samp(t_ecd, f_ecd, method="asymp").statistic)
        if t_ecd.size and f_ecd.size
        else None,
        "fraction_matched": matched / t_ids.size if t_ids.size else None,
    }
