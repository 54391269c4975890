"""Pores as a method sees them: the non-indexable mask against the true pore mask."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from synthebsd.conventions import Region

if TYPE_CHECKING:
    from orix.crystal_map import CrystalMap

__all__ = ["mask_overlap", "pore_mask_metrics"]


def mask_overlap(true_mask: np.ndarray, found_mask: np.ndarray) -> dict[str, Any]:
    """Intersection over union, precision and recall of a found mask against the truth.

    Parameters
    ----------
    true_mask, found_mask
        Boolean arrays of the same shape.

    Returns
    -------
    overlap
        ``iou`` = |T ∩ F| / |T ∪ F|, ``precision`` = |T ∩ F| / |F|, ``recall`` =
        |T ∩ F| / |T| (None when the denominator is 0), ``n_true``, ``n_found``.
    """
    t = np.asarray(true_mask, dtype=bool)
    f = np.asarray(found_mask, dtype=bool)
    if t.shape != f.shape:
        raise ValueError(f"Masks differ in shape: true {t.shape}, found {f.shape}")
    inter = int(np.sum(t & f))
    union = int(np.sum(t | f))
    n_t, n_f = int(t.sum()), int(f.sum())
    return {
        "iou": inter / union if union else None,
        "precision": inter / n_f if n_f else None,
        "recall": inter / n_t if n_t else None,
        "n_true": n_t,
        "n_found": n_f,
    }


def pore_mask_metrics(truth: CrystalMap, result: CrystalMap) -> dict[str, Any]:
    """The non-indexable mask a method implies, against the true pores.

    The method's pore mask is its not-indexed points (phase id −1), or, for a map with a
    predicted ``region`` class (the networks'), its points of the pore class: a network
    also refuses points it is unsure of, which are no pores. The comparison is
    made inside the metal layer, the metal and pore regions of the truth (an experiment
    sees the layer boundaries in the secondary-electron image; an amorphous electrolyte
    is not indexable either and is no pore).

    Returns
    -------
    overlap
        :func:`mask_overlap` of the truth's ``pore`` mask and the method's, both within
        the metal layer, plus ``n_layer_points``.
    """
    if truth.size != result.size:
        raise ValueError(f"Maps differ in size: truth {truth.size}, result {result.size} points")
    pore = np.asarray(truth.prop["pore"]).astype(bool)
    if "region" in truth.prop:
        region = np.asarray(truth.prop["region"])
        layer = (region == Region.METAL) | (region == Region.PORE) | pore
    else:
        layer = np.ones(truth.size, dtype=bool)
    if "region" in result.prop:
        found = np.asarray(result.prop["region"]) == Region.PORE
    else:
        found = result.phase_id < 0
    out = mask_overlap(pore[layer], found[layer])
    out["n_layer_points"] = int(layer.sum())
    return out
