"""Measure a microstructure back from a map: grain sizes, porosity, texture spread.

These functions read only what a measurement would have (grain ids, regions or pore
masks, orientations), never the generator's settings, so they check the generator:
:func:`microstructure_statistics` puts the measured values next to the requested ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from orix.quaternion import Orientation, Rotation
from orix.vector import Miller, Vector3d
from skimage.measure import label, regionprops

from synthebsd.conventions import Region
from synthebsd.phases import get_phase

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap, Phase

    from synthebsd.config import MicrostructureConfig

__all__ = [
    "fibre_texture_spread",
    "grain_mean_rotations",
    "grain_reference_misorientation",
    "grain_size_distribution",
    "microstructure_statistics",
    "pore_statistics",
]

_LAYER_REGIONS = {
    "collector": Region.COLLECTOR,
    "metal": Region.METAL,
    "electrolyte": Region.ELECTROLYTE,
}


def _grid(xmap: CrystalMap, name: str) -> np.ndarray:
    return np.asarray(xmap.prop[name]).reshape(xmap.shape)


def grain_size_distribution(
    xmap: CrystalMap, region: int | None = None, exclude_edge_grains: bool = False
) -> dict[str, Any]:
    """Equivalent-circle diameters of the grains of a map (``grain_id`` property).

    Parameters
    ----------
    xmap
        Map with a ``grain_id`` property (−1: no grain) and, if ``region`` is given, a
        ``region`` property.
    region
        Only grains whose pixels are mostly in this region code.
    exclude_edge_grains
        Drop grains touching the map border (their section is cut by the map).

    Returns
    -------
    stats
        ``ecd_um`` (array, µm), ``n_grains``, ``mean_ecd_um``, ``median_ecd_um``,
        ``log_mean`` and ``log_sigma`` (mean and standard deviation of ln(ECD/µm)), and
        ``n_excluded_edge``. Areas from :func:`skimage.measure.regionprops` (a grain in
        several pieces counts once, all pieces together).
    """
    grains = _grid(xmap, "grain_id").astype(np.int64)
    labels = np.where(grains >= 0, grains + 1, 0)
    regions = _grid(xmap, "region") if region is not None else None
    step_area = xmap.dx * xmap.dy
    ecd, n_edge = [], 0
    n_rows, n_cols = labels.shape
    for props in regionprops(labels):
        rr, cc = props.coords[:, 0], props.coords[:, 1]
        if regions is not None and np.mean(regions[rr, cc] == region) <= 0.5:
            continue
        if exclude_edge_grains and (
            rr.min() == 0 or cc.min() == 0 or rr.max() == n_rows - 1 or cc.max() == n_cols - 1
        ):
            n_edge += 1
            continue
        ecd.append(np.sqrt(4 * props.area * step_area / np.pi))
    ecd = np.asarray(ecd, dtype=float)
    log = np.log(ecd) if ecd.size else np.empty(0)
    return {
        "ecd_um": ecd,
        "n_grains": int(ecd.size),
        "mean_ecd_um": float(ecd.mean()) if ecd.size else float("nan"),
        "median_ecd_um": float(np.median(ecd)) if ecd.size else float("nan"),
        "log_mean": float(log.mean()) if ecd.size else float("nan"),
        "log_sigma": float(log.std(ddof=1)) if ecd.size > 1 else float("nan"),
        "n_excluded_edge": n_edge,
    }


def pore_statistics(xmap: CrystalMap) -> dict[str, Any]:
    """Porosity and pore sizes from the ``pore`` mask (and ``region`` where present).

    Returns
    -------
    stats
        ``porosity``: pores / (pores + metal) (``region`` needed; else NaN),
        ``area_fraction``: pores / map, ``n_pores`` (8-connected pore pieces),
        ``pore_ecd_um`` (array) and ``mean_pore_ecd_um``.
    """
    pore = _grid(xmap, "pore").astype(bool)
    porosity = float("nan")
    if "region" in xmap.prop:
        metal = _grid(xmap, "region") == Region.METAL
        total = pore.sum() + (metal & ~pore).sum()
        porosity = float(pore.sum() / total) if total else 0.0
    pieces = label(pore, connectivity=2)
    areas = np.bincount(pieces.ravel())[1:] * xmap.dx * xmap.dy
    ecd = np.sqrt(4 * areas / np.pi)
    return {
        "porosity": porosity,
        "area_fraction": float(pore.mean()),
        "n_pores": int(ecd.size),
        "pore_ecd_um": ecd,
        "mean_pore_ecd_um": float(ecd.mean()) if ecd.size else float("nan"),
    }


def _nearest_equivalents(q: np.ndarray, ref: np.ndarray, symmetry) -> np.ndarray:
    """The symmetry equivalent (crystal symmetry on the left) of each quaternion ``q`` that
    is closest to ``ref`` (same shape (n, 4)), with the sign of positive ``q · ref``."""
    candidates = symmetry.outer(Rotation(q)).data.reshape(symmetry.size, -1, 4)
    dots = np.einsum("snk,nk->sn", candidates, ref)
    best = np.argmax(np.abs(dots), axis=0)
    n = np.arange(q.shape[0])
    return candidates[best, n] * np.sign(dots[best, n] + 1e-300)[:, None]


def grain_mean_rotations(xmap: CrystalMap, grain_ids: np.ndarray | None = None) -> Rotation:
    """Mean orientation of each grain.

    Each point's orientation is replaced by its symmetry equivalent (its phase's point
    group) nearest to the grain's first point, with the quaternion sign of that point;
    the mean is the normalised sum (the chordal L2 mean, right for the few-degree spreads
    inside a grain). Indexed maps, whose points carry arbitrary symmetry equivalents, and
    generated maps give the same mean.

    Parameters
    ----------
    xmap
        Map with a ``grain_id`` property.
    grain_ids
        Grains to average (default: every id ≥ 0, sorted).

    Returns
    -------
    rotations
        One rotation per grain, in the order of ``grain_ids``.
    """
    gid = np.asarray(xmap.prop["grain_id"])
    if grain_ids is None:
        grain_ids = np.unique(gid[gid >= 0])
    q = xmap.rotations.data.reshape(-1, 4)
    sel = np.isin(gid, grain_ids)
    g = gid[sel]
    index = np.searchsorted(grain_ids, g)
    first = np.full(len(grain_ids), -1)
    first[index[::-1]] = np.nonzero(sel)[0][::-1]
    qs = q[sel].copy()
    ref = q[first[index]]
    phase_id = xmap.phase_id[sel]
    for pid, phase in xmap.phases:
        here = phase_id == pid
        if pid >= 0 and here.any():
            qs[here] = _nearest_equivalents(qs[here], ref[here], phase.point_group)
    qs *= np.sign(np.sum(qs * ref, axis=1, keepdims=True) + 1e-300)
    total = np.zeros((len(grain_ids), 4))
    np.add.at(total, index, qs)
    return Rotation(total / np.linalg.norm(total, axis=1, keepdims=True))


def grain_reference_misorientation(xmap: CrystalMap) -> np.ndarray:
    """Grain reference orientation deviation (GROD) of every point, in degrees.

    The disorientation (orix, the phase's crystal symmetry) between each point's
    orientation and the mean orientation of its grain (:func:`grain_mean_rotations`), as
    EBSD software measures intragranular misorientation. Only the map's ``grain_id``,
    phases and orientations are read.

    Returns
    -------
    grod
        (n,) float array; NaN where ``grain_id`` < 0 or the phase id is −1.
    """
    gid = np.asarray(xmap.prop["grain_id"])
    out = np.full(xmap.size, np.nan)
    for pid, phase in xmap.phases:
        sel = (xmap.phase_id == pid) & (gid >= 0)
        if pid < 0 or not sel.any():
            continue
        ids, index = np.unique(gid[sel], return_inverse=True)
        mean = grain_mean_rotations(xmap, ids)
        pixels = Orientation(xmap.rotations.data.reshape(-1, 4)[sel], symmetry=phase.point_group)
        ref = Orientation(mean.data[index], symmetry=phase.point_group)
        out[sel] = pixels.angle_with(ref, degrees=True)
    return out


def fibre_texture_spread(
    rotations: Rotation,
    phase: Phase,
    crystal_direction_uvw: tuple[float, float, float],
    sample_direction_xyz: tuple[float, float, float],
) -> dict[str, Any]:
    """How far each orientation's sample direction lies from a crystal fibre axis.

    The angle θ between g·s (the sample direction in crystal coordinates) and the
    nearest symmetry-equivalent ⟨uvw⟩ is computed with orix. For a Gaussian fibre
    (tilt components normal with standard deviation σ) θ is Rayleigh-distributed; its
    maximum-likelihood scale is σ̂ = √(Σθ² / 2n). Symmetry folds large tilts onto other
    equivalent axes, so σ̂ is reliable while σ stays well below the angle between
    equivalent axes (cubic, measured on 3000 fibre orientations: ⟨110⟩ within 2 % up to
    10°, 8 % low at 15°; ⟨100⟩ within 2 % up to 15°); a uniform texture gives σ̂ ≈ 17°
    for ⟨110⟩, 21° for ⟨111⟩ and 24° for ⟨100⟩.

    Parameters
    ----------
    rotations
        Orientations (one per grain, sample → crystal).
    phase
        Their phase (point group for the symmetry).
    crystal_direction_uvw
        Fibre axis [uvw] in the crystal.
    sample_direction_xyz
        Fibre axis in the sample frame.

    Returns
    -------
    stats
        ``angles_deg`` (array), ``spread_deg`` (σ̂, degrees), ``median_angle_deg``.
    """
    o = Orientation(rotations.data.reshape(-1, 4), symmetry=phase.point_group)
    s = Vector3d(np.asarray(sample_direction_xyz, dtype=float)).unit
    in_crystal = Miller(xyz=(o * s).data, phase=phase)
    axis = Miller(uvw=np.asarray(crystal_direction_uvw, dtype=float), phase=phase)
    theta = np.asarray(in_crystal.angle_with(axis, use_symmetry=True, degrees=True)).ravel()
    return {
        "angles_deg": theta,
        "spread_deg": float(np.sqrt(np.mean(theta**2) / 2)) if theta.size else float("nan"),
        "median_angle_deg": float(np.median(theta)) if theta.size else float("nan"),
    }


def microstructure_statistics(
    xmap: CrystalMap, config: MicrostructureConfig | None = None
) -> dict[str, Any]:
    """Measured statistics of a generated map, next to the requested ones.

    Parameters
    ----------
    xmap
        Map with ``grain_id``, ``region`` and ``pore`` properties (as made by
        :func:`synthebsd.simulate.generate_microstructure`).
    config
        The configuration that made it; adds the ``requested`` values.

    Returns
    -------
    stats
        JSON-ready: per layer ``grains`` (measured mean ECD, log σ, count, with
        ``requested``), ``texture`` for fibre textures (measured spread), the metal's
        intragranular misorientation, and ``pores``.
    """
    out: dict[str, Any] = {"frame": getattr(xmap, "frame", None), "layers": {}}
    for name, code in _LAYER_REGIONS.items():
        gs = grain_size_distribution(xmap, region=code)
        layer: dict[str, Any] = {
            "grains": {
                "measured": {
                    "n_grains": gs["n_grains"],
                    "mean_ecd_um": gs["mean_ecd_um"],
                    "log_sigma": gs["log_sigma"],
                }
            }
        }
        if config is not None:
            lc = getattr(config, name)
            layer["phase"] = lc.phase
            layer["grains"]["requested"] = {
                "mean_ecd_um": lc.grains.mean_ecd_um,
                "log_sigma": lc.grains.ecd_log_sigma,
                "shape": lc.grains.shape,
                "aspect_ratio": lc.grains.aspect_ratio,
            }
            if lc.texture.kind == "fibre" and gs["n_grains"]:
                gid = np.asarray(xmap.prop["grain_id"])
                reg = np.asarray(xmap.prop["region"])
                ids = np.unique(gid[(reg == code) & (gid >= 0)])
                spread = fibre_texture_spread(
                    grain_mean_rotations(xmap, ids),
                    get_phase(lc.phase),
                    lc.texture.crystal_direction_uvw,
                    lc.texture.sample_direction_xyz,
                )
                layer["texture"] = {
                    "measured": {
                        "spread_deg": spread["spread_deg"],
                        "median_angle_deg": spread["median_angle_deg"],
                    },
                    "requested": {
                        "kind": "fibre",
                        "spread_deg": lc.texture.spread_deg,
                        "crystal_direction_uvw": list(lc.texture.crystal_direction_uvw),
                        "sample_direction_xyz": list(lc.texture.sample_direction_xyz),
                    },
                }
            elif lc.texture.kind != "fibre":
                layer["texture"] = {"requested": {"kind": lc.texture.kind}}
        out["layers"][name] = layer
    grod = grain_reference_misorientation(xmap)
    mis = grod[(np.asarray(xmap.prop["region"]) == Region.METAL) & np.isfinite(grod)]
    out["layers"]["metal"]["intragranular"] = {
        "measured": {
            "mean_grod_deg": float(mis.mean()) if mis.size else float("nan"),
            "p95_grod_deg": float(np.percentile(mis, 95)) if mis.size else float("nan"),
        }
    }
    if config is not None:
        out["layers"]["metal"]["intragranular"]["requested"] = (
            config.metal.intragranular.model_dump(mode="json")
        )
    ps = pore_statistics(xmap)
    out["pores"] = {
        "measured": {
            "porosity": ps["porosity"],
            "area_fraction": ps["area_fraction"],
            "n_pores": ps["n_pores"],
            "mean_pore_ecd_um": ps["mean_pore_ecd_um"],
        }
    }
    if config is not None:
        out["pores"]["requested"] = config.pores.model_dump(mode="json")
    return out
