"""Post-hoc correction of an orientation model for the projection centre it is not given.

A network that reads one pattern cannot tell a small shift of the projection centre (PC)
from a small rotation of the crystal: moving the PC by δ (Bruker units) moves the
pattern on the screen about as a rotation of δ / PCz rad would (the shipped model's
orientations moved by a median 1.9–2.4° for δ = 0.02). Trained on jittered PCs, it reads
every pattern as if taken at the PC of its training data. At inference the PC is known,
from the detector calibration the indexer uses too, so that apparent rotation can be
undone. On held-out patterns, the error of each predicted orientation g (passive,
sample → crystal), as the sample-frame rotation Δ = g_true⁻¹ · s g (s: the crystal
symmetry operator that brings s g closest to the truth), is fitted as linear in the PC
offset:

    ω(Δ) ≈ A (pc − pc_ref) + b        (rotation vectors, rad)

and predictions are corrected as g · exp(A (pc − pc_ref) + b)⁻¹. A right factor is a
rotation of the sample frame, so the correction is the same for every symmetry
equivalent of g; b is the network's mean bias at the reference PC.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from orix.quaternion import Rotation

from synthebsd.models._rotation import symmetry_operators

__all__ = [
    "TooFewPointsError",
    "apply_pc_correction",
    "fit_pc_correction",
    "per_pattern_pc",
    "sample_frame_errors",
]

#: Fewest held-out points within the error cut that a correction is fitted on.
MIN_PC_CORRECTION_POINTS = 200


class TooFewPointsError(ValueError):
    """Too few held-out points lie within the error cut to fit a PC correction on."""


def _rotation_vectors(rotations: Rotation) -> np.ndarray:
    """(n, 3) rotation vectors (axis × angle, rad, angle ≤ π) of rotations."""
    q = rotations.data.reshape(-1, 4)
    q = np.where(q[:, :1] < 0, -q, q)  # the short way round: w ≥ 0
    return np.asarray(Rotation(q).to_axes_angles().data, dtype=np.float64).reshape(-1, 3)


def _from_vectors(vectors: np.ndarray) -> Rotation:
    angle = np.linalg.norm(vectors, axis=1)
    axis = np.where(angle[:, None] > 0, vectors / np.maximum(angle, 1e-300)[:, None], [0, 0, 1])
    return Rotation.from_axes_angles(axis, angle)


def sample_frame_errors(
    predicted: np.ndarray,
    truth: np.ndarray,
    phase_id: np.ndarray,
    phase_names: dict[int, str],
    friedel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The error of each predicted orientation as a sample-frame rotation.

    Parameters
    ----------
    predicted, truth
        (n, 4) quaternions (orix order, w first; passive, sample → crystal).
    phase_id
        (n,) phase ids of the truth (≥ 0; each id a key of ``phase_names``).
    phase_names
        Phase id → phase name; the symmetry of each is
        :func:`~synthebsd.models.symmetry_operators`'s (``friedel`` as there).

    Returns
    -------
    vectors, angle_deg
        (n, 3) rotation vectors (rad) of g_true⁻¹ · s g_pred with the operator s that
        minimises the angle, and (n,) that angle, the disorientation, in degrees.
    """
    pred = np.asarray(predicted, dtype=np.float64).reshape(-1, 4)
    true = np.asarray(truth, dtype=np.float64).reshape(-1, 4)
    pid = np.asarray(phase_id).ravel()
    if not (pred.shape == true.shape and pid.size == len(pred)):
        raise ValueError(
            f"{len(pred)} predictions, {len(true)} true orientations and {pid.size} phase ids"
        )
    unknown = sorted(set(np.unique(pid).tolist()) - set(phase_names))
    if unknown:
        raise ValueError(f"Phase ids {unknown} have no phase name (known: {sorted(phase_names)})")
    best = np.full(len(pred), np.inf)
    vectors = np.zeros((len(pred), 3))
    for p in np.unique(pid):
        sel = pid == p
        inverse_truth = ~Rotation(true[sel])
        for op in symmetry_operators(phase_names[int(p)], friedel):
            delta = inverse_truth * (Rotation(op) * Rotation(pred[sel]))
            angle = delta.angle
            better = angle < best[sel]
            idx = np.nonzero(sel)[0][better]
            best[idx] = angle[better]
            vectors[idx] = _rotation_vectors(delta[better])
    return vectors, np.rad2deg(best)


def _design(pc: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.hstack([pc - reference, np.ones((len(pc), 1))])


def per_pattern_pc(pc: Any, n: int) -> np.ndarray:
    """(n, 3) PCs from one PC or one per pattern (any shape with 3 n values)."""
    arr = np.asarray(pc, dtype=np.float64)
    if arr.size == 3:
        arr = np.broadcast_to(arr.reshape(1, 3), (n, 3))
    elif arr.size == 3 * n:
        arr = arr.reshape(n, 3)
    else:
        raise ValueError(
            f"Need one PC (3 values) or one per pattern ({n}, 3), got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError("The projection centres contain NaN or infinities")
    return arr


def fit_pc_correction(
    predicted: np.ndarray,
    truth: np.ndarray,
    phase_id: np.ndarray,
    pc_bruker: np.ndarray,
    phase_names: dict[int, str],
    reference_pc_bruker: tuple[float, float, float],
    friedel: bool = True,
    max_error_deg: float = 8.0,
    min_points: int = MIN_PC_CORRECTION_POINTS,
    return_errors: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], np.ndarray]:
    """Fit the sample-frame rotation a PC offset makes the network read, on held-out points.

    Parameters
    ----------
    predicted, truth, phase_id, phase_names, friedel
        As :func:`sample_frame_errors` (points with an orientation only).
    pc_bruker
        (n, 3) the PC each pattern was taken at (Bruker convention).
    reference_pc_bruker
        The PC the offsets are taken from (the training data's detector PC).
    max_error_deg
        Points farther off than this (gross errors, pseudo-symmetric variants) are left
        out of the least-squares fit.
    min_points
        Fewest points within ``max_error_deg`` to fit on.
    return_errors
        Also return every point's disorientation after the correction.

    Returns
    -------
    correction
        ``reference_pc_bruker``, ``rad_per_pc`` (3 × 3 A, rotation vector per unit PC
        offset), ``bias_rad`` (b), ``max_error_deg``, ``n_points`` (fitted), and the
        fitted points' median disorientation before and after (``median_error_deg``,
        ``median_error_deg_corrected``; in sample).
    error_deg
        With ``return_errors``: (n,) each point's disorientation after the correction,
        in degrees.

    Raises
    ------
    ValueError
        If the arrays do not match or hold NaN; :class:`TooFewPointsError` if too few
        points are within the cut.
    """
    vectors, angle = sample_frame_errors(predicted, truth, phase_id, phase_names, friedel)
    pc = per_pattern_pc(pc_bruker, len(angle))
    keep = angle <= max_error_deg
    if keep.sum() < min_points:
        raise TooFewPointsError(
            f"A PC correction needs at least {min_points} held-out points within "
            f"{max_error_deg:g} deg of the truth, got {int(keep.sum())}"
        )
    reference = np.asarray(reference_pc_bruker, dtype=np.float64).reshape(3)
    coef, *_ = np.linalg.lstsq(_design(pc[keep], reference), vectors[keep], rcond=None)
    correction = {
        "reference_pc_bruker": reference.tolist(),
        "rad_per_pc": coef[:3].T.tolist(),
        "bias_rad": coef[3].tolist(),
        "max_error_deg": float(max_error_deg),
        "n_points": int(keep.sum()),
    }
    fitted = apply_pc_correction(correction, predicted, pc)
    _, after = sample_frame_errors(fitted, truth, phase_id, phase_names, friedel)
    correction["median_error_deg"] = float(np.median(angle[keep]))
    correction["median_error_deg_corrected"] = float(np.median(after[keep]))
    return (correction, after) if return_errors else correction


def apply_pc_correction(
    correction: dict[str, Any] | None, quaternions: np.ndarray, pc_bruker: Any = None
) -> np.ndarray:
    """Corrected orientations g · exp(A (pc − pc_ref) + b)⁻¹; unchanged without a correction.

    Parameters
    ----------
    correction
        From :func:`fit_pc_correction`, or None.
    quaternions
        (n, 4) predicted orientations (orix order).
    pc_bruker
        The PC of the patterns (Bruker): one (3,) or one per pattern (n, 3); None takes
        the correction's reference PC (only the bias is removed).

    Returns
    -------
    quaternions
        (n, 4) float64.
    """
    q = np.asarray(quaternions, dtype=np.float64).reshape(-1, 4)
    if correction is None:
        return q
    reference = np.asarray(correction["reference_pc_bruker"], dtype=np.float64)
    pc = per_pattern_pc(reference if pc_bruker is None else pc_bruker, len(q))
    a = np.asarray(correction["rad_per_pc"], dtype=np.float64)
    b = np.asarray(correction["bias_rad"], dtype=np.float64)
    omega = (pc - reference) @ a.T + b
    return (Rotation(q) * ~_from_vectors(omega)).data.reshape(-1, 4)
