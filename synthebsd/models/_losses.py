"""Losses: symmetry-aware disorientation, calibrated uncertainty, region classes.

The orientation loss is the disorientation itself: the smallest rotation angle between
the prediction and any symmetry-equivalent of the truth,

    θ = min over s in G and ± of angle(q̂, ±s ⊗ q),

with G the proper rotations of the phase's (Laue) point group
(:func:`~synthebsd.models.symmetry_operators`). It is computed from the chord
d = |q̂ − (±s ⊗ q)| to the nearest equivalent as θ = 4 asin(d / 2), which equals
2 acos|⟨q̂, s ⊗ q⟩| but is linear near 0 (θ ≈ 2d): its gradient is bounded (norm ≤ 2√2
for unit quaternions, and 0, not NaN, at d = 0), where 2 acos(x) has an infinite slope at
x = 1 and stalls training. Jha et al. (2018) used a cubic-only clipped acos, Ding et al.
(2020) 1 − ⟨q, q̂⟩, blind to symmetry and to q ≡ −q; this works for any point group.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from synthebsd.models._rotation import quaternion_product

__all__ = [
    "disorientation",
    "segmentation_loss",
    "uncertainty_nll",
]


def disorientation(
    pred: torch.Tensor, target: torch.Tensor, operators: torch.Tensor
) -> torch.Tensor:
    """Symmetry-reduced rotation angle between predicted and true orientations, in radians.

    Parameters
    ----------
    pred
        (n, 4) predicted unit quaternions (orix order, w first); gradients flow here.
    target
        (n, 4) true unit quaternions.
    operators
        Proper symmetry rotations, (k, 4) shared by all points or (n, k, 4) per point
        (e.g. ``symmetry_table(...)[phase_id]``); rows may repeat.

    Returns
    -------
    angle
        (n,) disorientation angles in [0, π] radians, on ``pred``'s device, equal to orix's
        ``Orientation.angle_with`` with the same symmetry.
    """
    if operators.dim() == 2:
        operators = operators.unsqueeze(0)
    # Crystal symmetry acts on the crystal side: s ⊗ q is the same orientation as q.
    equivalents = quaternion_product(operators, target.unsqueeze(1))  # (n, k, 4)
    dots = (equivalents * pred.detach().unsqueeze(1)).sum(-1)  # (n, k)
    best = dots.abs().argmax(dim=1)
    nearest = equivalents[torch.arange(len(pred), device=pred.device), best]
    sign = torch.sign(dots.gather(1, best[:, None]))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    chord = torch.linalg.vector_norm(pred - sign * nearest, dim=-1)
    return 4 * torch.asin((chord / 2).clamp(max=1.0))


def uncertainty_nll(
    predicted_error_deg: torch.Tensor, error_deg: torch.Tensor, floor_deg: float
) -> torch.Tensor:
    """Negative log-likelihood of the observed errors under exponential laws of mean μ.

    For an exponential law of mean μ the NLL log μ + e/μ is minimised, point by point, at
    μ = E[e | pattern], so the head learns the expected error in degrees: calibrated in
    the mean, not just ranked. The observed error is detached (the head does not push
    the orientation) and floored at ``floor_deg`` (below it, errors are numerical noise).

    Parameters
    ----------
    predicted_error_deg
        (n,) predicted errors μ > 0 in degrees.
    error_deg
        (n,) observed errors in degrees.
    floor_deg
        Smallest error used as a target, in degrees.

    Returns
    -------
    nll
        (n,) per-point loss (plus a constant).
    """
    target = error_deg.detach().clamp(min=floor_deg)
    mu = predicted_error_deg.clamp(min=1e-6)
    return torch.log(mu) + target / mu


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice over the classes present, for map segmentation.

    Dice weighs each present class equally, so small regions (pores a few points wide)
    count as much as the metal layer; cross-entropy keeps every point's gradient.

    Parameters
    ----------
    logits
        (b, classes, rows, cols) class scores.
    target
        (b, rows, cols) int64 class codes; −1 is ignored.

    Returns
    -------
    loss
        Scalar.
    """
    valid = target >= 0
    ce = F.cross_entropy(logits, target.clamp(min=0), reduction="none")
    ce = (ce * valid).sum() / valid.sum().clamp(min=1)
    prob = logits.softmax(dim=1)
    onehot = F.one_hot(target.clamp(min=0), logits.shape[1]).permute(0, 3, 1, 2)
    onehot = onehot.to(prob.dtype) * valid.unsqueeze(1)
    prob = prob * valid.unsqueeze(1)
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    total = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = onehot.sum(dim=(0, 2, 3)) > 0
    dice = 1 - (2 * inter + 1) / (total + 1)
    dice = (dice * present).sum() / present.sum().clamp(min=1)
    return ce + dice
