"""Laguerre (power-weighted Voronoi) tessellations with prescribed cell areas.

A Laguerre tessellation assigns each point x to the seed p_i with the smallest power
distance |x − p_i|² − w_i. Here it is computed exactly by lifting: with W = max w_i,
seeds (p_i, √(W − w_i)) and points (x, 0) in 3-D, the Euclidean nearest seed
(``scipy.spatial.cKDTree``) is the power-nearest one.

Grain-size control follows the capacity-constrained power diagram (Aurenhammer,
Hoffmann & Aronov, Algorithmica 20, 61, 1998: for any target areas there are weights
that realise them): target areas A_i = π D_i²/4 from the requested log-normal ECD
distribution, seeds placed by random sequential addition of non-overlapping disks of
area 0.45 A_i (largest first, so that large grains get room), initial weights = disk
radius², then two Lloyd steps (seeds to cell centroids) and damped gradient steps
w_i ← w_i + (A_i − a_i)/(2π) on the concave dual of the area constraint.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import ndtri

__all__ = ["lognormal_diameters", "power_labels", "prescribed_area_tessellation"]

#: Area fraction covered by the disks that place the seeds.
_PACKING_FRACTION = 0.45
_N_ITERATIONS = 10
_N_LLOYD = 2
_STEP = 0.5 / np.pi


def lognormal_diameters(
    total_area: float, mean: float, log_sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Log-normal diameters whose disks cover about ``total_area``, stratified.

    The count is n = total_area / E[π d²/4] (at least 1); the n diameters are a
    stratified (Latin hypercube) sample of the log-normal: one uniform draw in each of
    the n equal-probability strata, mapped through the quantile function, in random
    order. Each is a random draw from the distribution, but the sample mean scatters far
    less than that of n independent draws (whose total area would also decide n).

    Parameters
    ----------
    total_area
        Area to fill, in the same (squared) unit as ``mean``.
    mean
        Arithmetic mean diameter (> 0).
    log_sigma
        Standard deviation of ln(diameter) (≥ 0).
    rng
        Random generator.

    Returns
    -------
    diameters
        (n,) diameters.
    """
    mu = np.log(mean) - log_sigma**2 / 2
    expected = np.pi / 4 * np.exp(2 * mu + 2 * log_sigma**2)
    n = max(1, int(round(total_area / expected)))
    u = (rng.permutation(n) + rng.uniform(0.0, 1.0, n)) / n
    return np.exp(mu + log_sigma * ndtri(np.clip(u, 1e-12, 1 - 1e-12)))


def power_labels(points: np.ndarray, seeds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Index of the power-nearest seed of each point.

    Parameters
    ----------
    points
        (n, 2) coordinates.
    seeds
        (m, 2) seed coordinates, same unit.
    weights
        (m,) weights (squared unit).

    Returns
    -------
    labels
        (n,) seed index per point, argmin_i |x − p_i|² − w_i.
    """
    lift = np.sqrt(np.max(weights) - weights)
    tree = cKDTree(np.column_stack([seeds, lift]))
    query = np.column_stack([points, np.zeros(len(points))])
    return tree.query(query, workers=1)[1]


def _place_disks(points: np.ndarray, radii: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random sequential addition of non-overlapping disks, largest first, in batches.

    Candidate centres are drawn from ``points`` (with sub-pixel jitter); a candidate is
    kept if it overlaps none of the (up to 12) nearest disks already placed (which are
    at least as large) nor an earlier candidate of its batch. Disks that find no room
    after 30 tries are placed anyway (the power diagram still gives them a cell).
    """
    n = len(radii)
    order = np.argsort(-radii, kind="stable")
    centres = np.zeros((n, 2))
    placed = np.zeros(n, dtype=bool)
    for batch in np.array_split(order, max(1, min(24, n // 8))):
        need = batch
        tree = cKDTree(centres[placed]) if placed.any() else None
        placed_r = radii[placed]
        for _ in range(30):
            if need.size == 0:
                break
            cand = points[rng.integers(len(points), size=need.size)]
            cand = cand + rng.uniform(-0.5, 0.5, cand.shape)
            r = radii[need]
            ok = np.ones(need.size, dtype=bool)
            if tree is not None:
                k = min(12, tree.n)
                d, j = tree.query(cand, k=k, workers=1)
                d, j = d.reshape(need.size, k), j.reshape(need.size, k)
                ok = np.all(d >= r[:, None] + placed_r[j], axis=1)
            idx = np.nonzero(ok)[0]
            if idx.size > 1:
                keep = np.ones(idx.size, dtype=bool)
                pairs = cKDTree(cand[idx]).query_pairs(2 * r[idx].max(), output_type="ndarray")
                for a, b in pairs:
                    if keep[a] and keep[b]:
                        gap = np.hypot(*(cand[idx[a]] - cand[idx[b]]))
                        keep[b] = gap >= r[idx[a]] + r[idx[b]]
                idx = idx[keep]
            centres[need[idx]] = cand[idx]
            placed[need[idx]] = True
            need = np.delete(need, idx)
        if need.size:
            centres[need] = points[rng.integers(len(points), size=need.size)]
            placed[need] = True
    return centres


def prescribed_area_tessellation(
    points: np.ndarray,
    target_areas: np.ndarray,
    rng: np.random.Generator,
    point_area: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Laguerre tessellation of a point set whose cells have (about) the target areas.

    Parameters
    ----------
    points
        (n, 2) coordinates of the pixels to tessellate (one unit area each), possibly in a
        stretched metric (columnar grains).
    target_areas
        (m,) target cell areas in points (pixels); scaled here to sum to n.
    rng
        Random generator.
    point_area
        Area one point stands for in the coordinates of ``points`` (1 / aspect ratio for
        pixels whose rows were divided by the aspect ratio).

    Returns
    -------
    labels
        (n,) cell index per point (cells may be empty when a target is below a pixel).
    seeds
        (m, 2) final seed positions.
    weights
        (m,) final weights; ``power_labels(points, seeds, weights)`` reproduces ``labels``.
    """
    m = len(target_areas)
    target = np.asarray(target_areas, float) * len(points) / np.sum(target_areas)
    target = target * point_area  # in the metric of ``points``
    radii = np.sqrt(_PACKING_FRACTION * target / np.pi)
    seeds = _place_disks(points, radii, rng)
    weights = radii**2
    for it in range(_N_ITERATIONS):
        labels = power_labels(points, seeds, weights)
        area = np.bincount(labels, minlength=m) * point_area
        if it < _N_LLOYD:
            full = area > 0
            count = area[full] / point_area
            sx = np.bincount(labels, points[:, 0], m)[full] / count
            sy = np.bincount(labels, points[:, 1], m)[full] / count
            seeds[full] = np.column_stack([sx, sy])
        weights = weights + _STEP * (target - area)
        weights -= weights.max()
    return power_labels(points, seeds, weights), seeds, weights
