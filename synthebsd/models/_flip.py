"""Test-time flip: a second, exact view of every pattern for the orientation network.

With the pattern centre on the detector's middle column (Bruker PCx = 0.5) the detector
is symmetric under the mirror through that column. A pattern mirrored left–right is then
the pattern of the mirrored crystal; EBSD patterns show the Laue group (Friedel's law),
which holds the inversion, so the mirrored crystal gives the same pattern as the proper
orientation g ⊗ r, r the 180° rotation about the sample y axis (kikuchipy's sample frame,
whose y axis is parallel to the detector's horizontal axis; checked against kikuchipy's projection in
the tests). The network's errors on the two views are only weakly correlated, so their
mean is closer to the truth, and how far apart they are says how far off it may be.
Where they disagree by more than a few degrees one of them is grossly wrong, and the view
the network's own uncertainty head trusts more is kept instead of the mean.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from synthebsd.models._checkpoint import OutsideTrainingRangeWarning
from synthebsd.models._rotation import quaternion_product

__all__ = [
    "FLIP_MAX_MEAN_ANGLE_DEG",
    "FLIP_PC_TOLERANCE",
    "FLIP_QUATERNION",
    "check_flip_pc",
    "predict_with_flip",
]

#: The sample-frame rotation (orix quaternion, w first) that turns the orientation of a
#: left–right mirrored pattern into the orientation of the pattern itself (180° about y).
FLIP_QUATERNION = (0.0, 0.0, 1.0, 0.0)
#: Views further apart than this (degrees) are not averaged: the one whose uncertainty
#: head predicts the smaller error is kept. Chosen on a held-out stream (24,000 patterns,
#: seed 7000; not an evaluation scene): 4-15° gave within 2° and 5° alike to about a point.
FLIP_MAX_MEAN_ANGLE_DEG = 8.0
#: How far (Bruker PCx) the pattern centre may sit from the middle column before the
#: two views stop being the same crystal: the network was trained over ±0.02 around 0.5.
FLIP_PC_TOLERANCE = 0.02


def check_flip_pc(pc_bruker: np.ndarray | None) -> None:
    """Warn when the patterns' PCx is too far from 0.5 for the flip to be exact."""
    if pc_bruker is None:
        return
    off = float(np.max(np.abs(np.asarray(pc_bruker, dtype=float).reshape(-1, 3)[:, 0] - 0.5)))
    if off > FLIP_PC_TOLERANCE:
        warnings.warn(
            f"The test-time flip assumes the pattern centre on the detector's middle column "
            f"(PCx = 0.5); these patterns' PCx is up to {off:.3f} from it, so the mirrored "
            f"view is of another detector geometry. Pass flip=False for such maps.",
            OutsideTrainingRangeWarning,
            stacklevel=3,
        )


def nearest_equivalent(
    reference: torch.Tensor, other: torch.Tensor, operators: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The symmetry equivalent s ⊗ other closest to ``reference``, and the angle between.

    Parameters
    ----------
    reference, other
        (n, 4) unit quaternions (orix order).
    operators
        (n, k, 4) each point's proper symmetry rotations.

    Returns
    -------
    nearest, angle_deg
        (n, 4) the equivalent with the sign of positive ⟨·, reference⟩, and (n,) the
        disorientation in degrees. ⟨s ⊗ b, q⟩ = ⟨s, q ⊗ b*⟩, so only the chosen
        equivalent is ever formed.
    """
    sign = torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=other.dtype, device=other.device)
    dots = torch.einsum("nkd,nd->nk", operators, quaternion_product(reference, other * sign))
    best = dots.abs().argmax(1)
    rows = torch.arange(len(other), device=other.device)
    chosen = dots[rows, best]
    nearest = quaternion_product(operators[rows, best], other)
    angle = torch.rad2deg(2.0 * torch.arccos(chosen.abs().clamp(max=1.0)))
    return torch.sign(chosen + 1e-30).unsqueeze(1) * nearest, angle


def _combine(
    plain: dict[str, torch.Tensor],
    flipped: dict[str, torch.Tensor],
    class_operators: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The mean of the two views' outputs (network output keys, plus ``flip_angle_deg``)."""
    probability = 0.5 * (plain["class_logits"].softmax(1) + flipped["class_logits"].softmax(1))
    classes = probability.argmax(1)
    q = plain["quaternion"]
    back = quaternion_product(
        flipped["quaternion"], torch.tensor(FLIP_QUATERNION, dtype=q.dtype, device=q.device)
    )
    # the flipped view's equivalent closest to the plain one, then the chordal mean: right
    # for the few degrees the two views differ by
    nearest, angle = nearest_equivalent(q, back, class_operators[classes])
    # Views further apart cannot both be close: their mean would be far from either (and
    # outside a refinement's basin), so the view its own head trusts more is kept.
    trusted = torch.where(
        (plain["uncertainty_deg"] <= flipped["uncertainty_deg"]).unsqueeze(1), q, nearest
    )
    mean = torch.nn.functional.normalize(q + nearest, dim=1)
    agree = (angle <= FLIP_MAX_MEAN_ANGLE_DEG).unsqueeze(1)
    # Two views of one pattern: each head's expected error, and their disagreement,
    # whose half is the error of the mean where the views err independently.
    spread = 0.5 * (plain["uncertainty_deg"] + flipped["uncertainty_deg"])
    return {
        "quaternion": torch.where(agree, mean, trusted),
        "class_logits": torch.log(probability.clamp(min=1e-12)),
        "uncertainty_deg": torch.sqrt(spread**2 / 2.0 + (angle / 2.0) ** 2),
        "flip_angle_deg": angle,
    }


def predict_with_flip(
    model: torch.nn.Module, patterns: torch.Tensor, class_operators: torch.Tensor
) -> dict[str, torch.Tensor]:
    """An orientation model's outputs averaged over a pattern and its left–right mirror.

    Parameters
    ----------
    model
        An orientation network (outputs ``quaternion``, ``class_logits``,
        ``uncertainty_deg``).
    patterns
        (n, rows, cols) or (n, 1, rows, cols) raw patterns; the last axis is the
        detector's columns.
    class_operators
        (n_classes, k, 4) proper symmetry rotations (orix quaternions) of the phase each
        class stands for; identity rows for classes without one.

    Returns
    -------
    outputs
        The network's keys for the two views together (one forward pass of 2n):
        ``quaternion`` (the chordal mean of the two orientations, the mirrored one
        turned back by :data:`FLIP_QUATERNION` and to its nearest symmetry equivalent;
        for views more than :data:`FLIP_MAX_MEAN_ANGLE_DEG` apart, the one with the
        smaller predicted error),
        ``class_logits`` (log of the mean class probabilities), ``uncertainty_deg``
        (√(ū²/2 + (θ/2)²), ū the heads' mean expected error and θ the angle between
        the views, in degrees) and ``flip_angle_deg`` (θ).
    """
    n = patterns.shape[0]
    out = model(torch.cat([patterns, patterns.flip(-1)]))
    plain = {k: v[:n] for k, v in out.items()}
    flipped = {k: v[n:] for k, v in out.items()}
    return _combine(plain, flipped, class_operators.to(patterns.device, out["quaternion"].dtype))
