"""Test-time views: the flip pair of each pattern, optionally also turned in its plane.

A pattern turned by φ in the detector plane about the projection centre is the pattern of
the crystal turned by φ about the detector normal (gnomonic projection), but for the
corners that leave the detector and the resampling; the turned view's orientation is
turned back by −φ about that normal. Each turned view is itself a flip pair
(:func:`~synthebsd.models.predict_with_flip`). The network errs differently at another
orientation of the same crystal, so the views' mean is closer to the truth; views that
disagree with the untouched flip pair by more than :data:`FLIP_MAX_MEAN_ANGLE_DEG` are left
out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from synthebsd.models._flip import (
    FLIP_MAX_MEAN_ANGLE_DEG,
    nearest_equivalent,
    predict_with_flip,
)
from synthebsd.models._rotation import quaternion_product

if TYPE_CHECKING:
    from torch import nn

__all__ = ["InferenceViews", "detector_normal", "rotate_patterns"]


def detector_normal(sample_tilt_deg: float, camera_tilt_deg: float) -> np.ndarray:
    """Unit detector normal in the sample frame (kikuchipy's ``sample_to_detector``).

    Returns
    -------
    axis
        (3,) float: the axis a turn of the pattern about the projection centre turns the
        crystal about (e.g. (sin 20°, 0, cos 20°) at 70° sample tilt and 0° camera tilt).
    """
    from kikuchipy.detectors import EBSDDetector  # lazy: kikuchipy takes seconds
    from orix.vector import Vector3d

    detector = EBSDDetector(sample_tilt=sample_tilt_deg, tilt=camera_tilt_deg)
    return ((~detector.sample_to_detector) * Vector3d.zvector()).unit.data.reshape(3)


def rotate_patterns(
    patterns: torch.Tensor, angle_deg: float, centre_px: tuple[float, float]
) -> torch.Tensor:
    """Patterns turned by ``angle_deg`` about ``centre_px`` (row, column of pixel centres).

    Bilinear resampling; pixels whose source lies off the detector take the nearest edge
    pixel. Matches ``scipy.ndimage.affine_transform(order=1, mode="nearest")`` with the
    matrix [[cos φ, −sin φ], [sin φ, cos φ]] on (row, column).

    Parameters
    ----------
    patterns
        (n, rows, cols) or (n, 1, rows, cols).
    angle_deg
        The turn φ, degrees.
    centre_px
        (row, column) of the centre, pixel-centre coordinates (0 is the first pixel's
        centre).
    """
    x = patterns if patterns.dim() == 4 else patterns.unsqueeze(1)
    rows, cols = x.shape[-2:]
    a = np.deg2rad(angle_deg)
    r = torch.arange(rows, dtype=x.dtype, device=x.device) - centre_px[0]
    c = torch.arange(cols, dtype=x.dtype, device=x.device) - centre_px[1]
    rr, cc = torch.meshgrid(r, c, indexing="ij")
    src_r = np.cos(a) * rr - np.sin(a) * cc + centre_px[0]
    src_c = np.sin(a) * rr + np.cos(a) * cc + centre_px[1]
    # grid_sample's normalised coordinates (align_corners=True: −1 and 1 are pixel centres)
    grid = torch.stack([2 * src_c / (cols - 1) - 1, 2 * src_r / (rows - 1) - 1], dim=-1)
    grid = grid.unsqueeze(0).expand(x.shape[0], -1, -1, -1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out if patterns.dim() == 4 else out.squeeze(1)


@dataclass(frozen=True)
class InferenceViews:
    """How an orientation network sees each pattern at inference: flip pairs, turned.

    Attributes
    ----------
    class_operators
        (n_classes, k, 4) Laue-group rotations per class
        (:func:`~synthebsd.models.class_symmetry_table`).
    rotations_deg
        In-plane turns of the extra flip pairs (empty: the flip pair alone).
    axis
        (3,) detector normal in the sample frame (:func:`detector_normal`).
    centre_px
        (row, column) of the projection centre, pixel-centre coordinates.
    """

    class_operators: torch.Tensor
    rotations_deg: tuple[float, ...] = ()
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    centre_px: tuple[float, float] = (0.0, 0.0)

    def __call__(self, model: nn.Module, patterns: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network's outputs for the views together: ``quaternion``, ``class_logits``,
        ``uncertainty_deg`` and ``flip_angle_deg`` as from
        :func:`~synthebsd.models.predict_with_flip`, for the untouched pair, with the
        turned pairs (their views within :data:`FLIP_MAX_MEAN_ANGLE_DEG` of it) averaged
        into the orientation and their spread added to the predicted error; the classes
        stay the untouched pair's (averaging the turned ones in, whose corners are padded,
        cost 19 points of region-class accuracy on held-out data)."""
        ops = self.class_operators.to(patterns.device)
        out = predict_with_flip(model, patterns, ops)
        if not self.rotations_deg:
            return out
        q = out["quaternion"]
        operators = ops.to(q.dtype)[out["class_logits"].argmax(1)]  # (n, k, 4)
        total, used = q.clone(), torch.ones(len(q), dtype=q.dtype, device=q.device)
        squares = out["uncertainty_deg"] ** 2
        angles = []
        for phi in self.rotations_deg:
            turned = predict_with_flip(model, rotate_patterns(patterns, phi, self.centre_px), ops)
            back = quaternion_product(turned["quaternion"], self._turn(-phi, q))
            nearest, angle = nearest_equivalent(q, back, operators)
            agree = angle <= FLIP_MAX_MEAN_ANGLE_DEG
            total = total + agree.unsqueeze(1) * nearest
            used = used + agree
            squares = squares + turned["uncertainty_deg"] ** 2
            angles.append(angle.clamp(max=4 * FLIP_MAX_MEAN_ANGLE_DEG))
        n_views = 1 + len(self.rotations_deg)
        spread = torch.stack(angles).pow(2).mean(0)
        return {
            "quaternion": F.normalize(total, dim=1),
            # the classes are the untouched pair's: a turned view's corners are padded
            "class_logits": out["class_logits"],
            # each pair's expected error over the views averaged, and their disagreement
            "uncertainty_deg": torch.sqrt((squares / n_views + spread / 4.0) / used),
            "flip_angle_deg": out["flip_angle_deg"],
        }

    def _turn(self, angle_deg: float, like: torch.Tensor) -> torch.Tensor:
        """The orix quaternion of a turn by ``angle_deg`` about :attr:`axis`."""
        half = np.deg2rad(angle_deg) / 2.0
        q = [np.cos(half), *(np.sin(half) * np.asarray(self.axis, dtype=float))]
        return torch.tensor(q, dtype=like.dtype, device=like.device)
