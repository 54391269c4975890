"""What one training step computes, per task, from items of the dataset contract.

- orientation (one pattern per item: ``pattern``, ``quaternion``, ``phase_id``,
  ``region``): symmetry-aware disorientation of the points with a phase, region-class
  cross-entropy on all points, and the uncertainty head's NLL against the observed error
  (points without an orientation are given ``non_indexable_error_deg``);
- segmentation (one scene per item: ``patterns``, ``region``, ``grain_id``): cross-entropy
  plus Dice over the map's classes.

Also the per-pattern dose estimate that checkpoints record as the range they cover.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from synthebsd.config import TrainConfig
from synthebsd.conventions import Region
from synthebsd.models._losses import disorientation, segmentation_loss, uncertainty_nll
from synthebsd.models._metrics import orientation_metrics, segmentation_metrics

__all__ = [
    "GRAIN_BOUNDARY",
    "estimate_dose_counts",
    "evaluate_orientation",
    "evaluate_segmentation",
    "orientation_columns",
    "orientation_losses",
    "pattern_coverage",
    "segmentation_losses",
    "segmentation_targets",
]

#: Class code of grain-boundary points in segmentation targets (after the Region codes).
GRAIN_BOUNDARY = 4


def estimate_dose_counts(patterns: torch.Tensor) -> torch.Tensor:
    """Counts per pixel at the background peak of each pattern, estimated from the pattern.

    The maximum of the pattern blurred with σ = 1/8 of its larger side, which averages
    out bands and noise and leaves N · y · b at the background peak (the forward model's
    dose for the metal, ``synthebsd.simulate.render_patterns``).

    Parameters
    ----------
    patterns
        (..., rows, cols) counts.

    Returns
    -------
    dose
        (...,) float32 on the patterns' device.
    """
    shape = patterns.shape
    x = patterns.reshape(-1, 1, *shape[-2:]).float()
    sigma = max(shape[-2:]) / 8
    half = max(1, min(math.ceil(3 * sigma), min(shape[-2:]) - 1))
    k = torch.exp(-0.5 * (torch.arange(-half, half + 1, device=x.device) / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype)
    x = F.pad(x, (half, half, half, half), mode="replicate")
    x = F.conv2d(F.conv2d(x, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    return x.flatten(1).amax(dim=1).reshape(shape[:-2])


def orientation_losses(
    model, batch: dict[str, torch.Tensor], operators: torch.Tensor, config: TrainConfig
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted loss of one batch of single-pattern items, and its (detached) parts.

    ``operators`` is the (phases, k, 4) symmetry table on the model's device
    (:func:`~synthebsd.models.symmetry_table`).
    """
    out = model(batch["pattern"])
    phase_id, region = batch["phase_id"], batch["region"]
    crystal = phase_id >= 0
    n_crystal = crystal.sum().clamp(min=1)
    angle = disorientation(
        out["quaternion"],
        batch["quaternion"].to(out["quaternion"].dtype),
        operators[phase_id.clamp(min=0)],
    )
    orientation = (angle * crystal).sum() / n_crystal
    classes = F.cross_entropy(out["class_logits"], region)
    error_deg = torch.where(
        crystal, torch.rad2deg(angle), torch.full_like(angle, config.non_indexable_error_deg)
    )
    uncertainty = uncertainty_nll(
        out["uncertainty_deg"], error_deg, config.uncertainty_floor_deg
    ).mean()
    loss = (
        config.orientation_weight * orientation
        + config.phase_weight * classes
        + config.uncertainty_weight * uncertainty
    )
    parts = {
        "orientation_loss_deg": torch.rad2deg(orientation).detach(),
        "class_loss": classes.detach(),
        "uncertainty_loss": uncertainty.detach(),
    }
    return loss, parts


def segmentation_targets(
    region: torch.Tensor, grain_id: torch.Tensor | None, grain_boundary: bool
) -> torch.Tensor:
    """Class maps (b, rows, cols): the region codes, and optionally grain boundaries.

    With ``grain_boundary``, a point inside a grain (``grain_id`` ≥ 0) with a 4-neighbour
    in another grain is class :data:`GRAIN_BOUNDARY`.
    """
    target = region.long().clone()
    if not grain_boundary:
        return target
    if grain_id is None:
        raise ValueError("Grain-boundary targets need the scenes' grain_id maps")
    g = grain_id.long()
    edge = torch.zeros_like(target, dtype=torch.bool)
    down = (g[:, 1:] != g[:, :-1]) & (g[:, 1:] >= 0) & (g[:, :-1] >= 0)
    edge[:, 1:] |= down
    edge[:, :-1] |= down
    right = (g[:, :, 1:] != g[:, :, :-1]) & (g[:, :, 1:] >= 0) & (g[:, :, :-1] >= 0)
    edge[:, :, 1:] |= right
    edge[:, :, :-1] |= right
    target[edge] = GRAIN_BOUNDARY
    return target


def segmentation_losses(
    model, batch: dict[str, torch.Tensor], config: TrainConfig
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss of one batch of whole-scene items (cross-entropy + Dice)."""
    out = model(batch["patterns"])
    inner = getattr(model, "module", model)
    target = segmentation_targets(
        batch["region"], batch.get("grain_id"), inner.config.grain_boundary
    )
    loss = segmentation_loss(out["class_logits"], target)
    return loss, {"segmentation_loss": loss.detach()}


@torch.no_grad()
def orientation_columns(model, loader, operators: torch.Tensor, device, views=None) -> dict:
    """Per item of a loader: ``err`` (disorientation to the truth, °), ``unc`` (the raw
    predicted error, °), ``cls`` (predicted class), ``reg`` (true class), ``pid``, ``q``
    and ``q_true`` (predicted and true quaternions) and, where items have one, ``pc``.
    With ``views`` (:func:`~synthebsd.models.inference_views`) the network sees each
    pattern through them, as :func:`~synthebsd.models.predict_tensors` does."""
    was_training = model.training
    model.eval()
    names = ("err", "unc", "cls", "reg", "pid", "q", "q_true", "pc")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(batch["pattern"]) if views is None else views(model, batch["pattern"])
        pid = batch["phase_id"]
        angle = disorientation(
            out["quaternion"],
            batch["quaternion"].to(out["quaternion"].dtype),
            operators[pid.clamp(min=0)],
        )
        cols["err"].append(torch.rad2deg(angle).cpu().numpy())
        cols["unc"].append(out["uncertainty_deg"].cpu().numpy())
        cols["cls"].append(out["class_logits"].argmax(1).cpu().numpy())
        cols["reg"].append(batch["region"].cpu().numpy())
        cols["pid"].append(pid.cpu().numpy())
        cols["q"].append(out["quaternion"].double().cpu().numpy())
        cols["q_true"].append(batch["quaternion"].double().cpu().numpy())
        if "pc" in batch:
            cols["pc"].append(batch["pc"].double().cpu().numpy().reshape(-1, 3))
    model.train(was_training)
    out = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    if not cols["pc"]:
        del out["pc"]
    return out


def evaluate_orientation(
    model, loader, operators: torch.Tensor, device, max_uncertainty_deg: float
) -> dict:
    """Metrics (:func:`~synthebsd.models.orientation_metrics`) over every item of a loader."""
    c = orientation_columns(model, loader, operators, device)
    return orientation_metrics(
        c["err"], c["unc"], c["cls"], c["reg"], c["pid"], max_uncertainty_deg
    )


@torch.no_grad()
def evaluate_segmentation(model, loader, device) -> dict:
    """Metrics (:func:`~synthebsd.models.segmentation_metrics`) over every scene of a loader."""
    model.eval()
    inner = getattr(model, "module", model)
    preds, targets = [], []
    for batch in loader:
        out = model(batch["patterns"].to(device))
        target = segmentation_targets(
            batch["region"], batch.get("grain_id"), inner.config.grain_boundary
        )
        preds.append(out["class_logits"].argmax(1).cpu().numpy().ravel())
        targets.append(target.numpy().ravel())
    model.train()
    return segmentation_metrics(
        np.concatenate(preds), np.concatenate(targets), inner.config.n_classes
    )


def pattern_coverage(
    batch: dict[str, torch.Tensor], task: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Dose estimates and PCs (None: no ``pc`` key) of the indexable patterns of a batch,
    on the batch's device (the training loop keeps their range there: no sync per step)."""
    if task == "orientation":
        keep = batch["phase_id"] >= 0
        dose = estimate_dose_counts(batch["pattern"][keep])
        pc = batch["pc"][keep].reshape(-1, 3) if "pc" in batch else None
    else:
        keep = (batch["region"] == Region.METAL) | (batch["region"] == Region.COLLECTOR)
        dose = estimate_dose_counts(batch["patterns"][keep])
        pc = None
    return dose, pc
