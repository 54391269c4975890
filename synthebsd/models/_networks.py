"""The networks: pattern normalisation, the orientation CNN and the segmentation U-Net.

Every network takes raw detector counts and normalises them itself (on its device, so
inference needs no preprocessing outside the model and the normalisation is saved with
the weights). Tensors are created on the input's device only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from synthebsd.config import OrientationNetConfig, PatternNormConfig, SegmentationNetConfig
from synthebsd.models._rotation import REPRESENTATION_DIMS, quaternion_from_output

__all__ = [
    "OrientationNet",
    "PatternNormalizer",
    "SegmentationNet",
    "fuse_batch_norm",
    "pattern_statistics",
]


class PatternNormalizer(nn.Module):
    """Dynamic background correction and per-pattern standardisation of raw counts.

    x → x / (G_σ ∗ x + ε), then zero mean and unit variance per pattern (σ =
    ``background_sigma_px``; σ = 0: standardisation only). Dividing by the smooth
    background removes the backscatter background and the dose, as kikuchipy's
    ``remove_dynamic_background(operation="divide")`` does, so the same network serves
    25 or 2,000 counts per pixel.
    """

    def __init__(self, config: PatternNormConfig):
        super().__init__()
        self.config = config
        self._matrices: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _blur_matrix(self, n: int, device, dtype) -> torch.Tensor:
        """(n, n) Gaussian blur along one axis with replicated edges: out = M @ x."""
        sigma = self.config.background_sigma_px
        half = max(1, math.ceil(3 * sigma))
        offsets = torch.arange(-half, half + 1, dtype=torch.float64)
        w = torch.exp(-0.5 * (offsets / sigma) ** 2)
        w = w / w.sum()
        m = torch.zeros(n, n, dtype=torch.float64)
        rows = torch.arange(n).unsqueeze(1).expand(n, len(offsets))
        cols = (rows + offsets.long()).clamp(0, n - 1)  # replicate padding
        m.index_put_((rows, cols), w.expand(n, -1).clone(), accumulate=True)
        return m.to(device=device, dtype=dtype)

    def background(self, x: torch.Tensor) -> torch.Tensor:
        """G_σ ∗ x for (..., rows, cols), with replicated edges (two small matrix products)."""
        rows, cols = x.shape[-2:]
        key = (rows, cols, x.device, x.dtype)
        if key not in self._matrices:
            self._matrices = {
                key: (
                    self._blur_matrix(rows, x.device, x.dtype),
                    self._blur_matrix(cols, x.device, x.dtype),
                )
            }
        m_rows, m_cols = self._matrices[key]
        return m_rows @ x @ m_cols.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if self.config.background_sigma_px > 0:
            x = x / (self.background(x) + self.config.epsilon)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.std(dim=(-2, -1), keepdim=True)
        return (x - mean) / (std + 1e-6)


_MAX_LOG_ERROR = math.log(360.0)


def _conv(c_in: int, c_out: int, k: int, stride: int, norm: bool, pad: int | None = None):
    pad = k // 2 if pad is None else pad
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, stride, pad, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _downsampled(n: int, patch: int, times: int) -> int:
    n //= patch
    for _ in range(times):
        n = (n + 1) // 2
    return n


def fuse_batch_norm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every Conv2d → BatchNorm2d pair folded into one
    convolution (same outputs to float rounding, ~1.5× faster on a CPU)."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv, bn)
                module[i + 1] = nn.Identity()
    return fused


class OrientationNet(nn.Module):
    """CNN: one pattern → orientation, region-class logits and expected error.

    Input: raw counts (n, 1, rows, cols) or (n, rows, cols), rows × cols =
    ``config.input_shape_px``. Output: a dict of

    - ``quaternion``: (n, 4) unit quaternions, orix order (w first), passive, sample →
      crystal; q and −q are the same orientation;
    - ``class_logits``: (n, n_classes) scores of the region classes
      (:class:`~synthebsd.conventions.Region` codes: collector, metal, pore, electrolyte);
    - ``uncertainty_deg``: (n,) predicted disorientation error in degrees (> 0);
    - ``embedding``: (n, embedding_dim) features before the heads.
    """

    task = "orientation"

    def __init__(self, config: OrientationNetConfig):
        super().__init__()
        self.config = config
        norm = config.norm == "batch"
        ch, p, extra = config.channels, config.stem_patch_px, config.blocks_per_stage - 1
        layers: list[nn.Module] = [_conv(1, ch[0], p, p, norm, pad=0)]
        layers += [_conv(ch[0], ch[0], 3, 1, norm) for _ in range(extra)]
        for c_in, c_out in zip(ch[:-1], ch[1:], strict=True):
            layers.append(_conv(c_in, c_out, 3, 2, norm))
            layers += [_conv(c_out, c_out, 3, 1, norm) for _ in range(extra)]
        self.normalise = PatternNormalizer(config.normalisation)
        self.features = nn.Sequential(*layers)
        rows, cols = (_downsampled(n, p, len(ch) - 1) for n in config.input_shape_px)
        self.embed = nn.Sequential(
            nn.Flatten(), nn.Linear(ch[-1] * rows * cols, config.embedding_dim), nn.ReLU()
        )
        self.rotation_head = nn.Linear(
            config.embedding_dim, REPRESENTATION_DIMS[config.rotation_representation]
        )
        self.class_head = nn.Linear(config.embedding_dim, config.n_classes)
        self.uncertainty_head = nn.Linear(config.embedding_dim, 1)
        nn.init.zeros_(self.uncertainty_head.weight)
        nn.init.constant_(self.uncertainty_head.bias, math.log(10.0))  # start at 10°
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, patterns: torch.Tensor) -> dict[str, torch.Tensor]:
        if patterns.dim() == 3:
            patterns = patterns.unsqueeze(1)
        expected = tuple(self.config.input_shape_px)
        if tuple(patterns.shape[-2:]) != expected:
            raise ValueError(
                f"Patterns are {tuple(patterns.shape[-2:])} px but the network takes {expected}"
            )
        z = self.embed(self.features(self.normalise(patterns)))
        raw = self.rotation_head(z)
        # log-parametrised: the NLL's gradient in log μ is 1 − e/μ, bounded as μ grows
        log_error = self.uncertainty_head(z).squeeze(-1).clamp(max=_MAX_LOG_ERROR)
        error = torch.exp(log_error) + self.config.min_uncertainty_deg
        return {
            "quaternion": quaternion_from_output(raw, self.config.rotation_representation),
            "class_logits": self.class_head(z),
            "uncertainty_deg": error,
            "embedding": z,
        }


def pattern_statistics(patterns: torch.Tensor, normalise: PatternNormalizer) -> torch.Tensor:
    """Log mean count and log band contrast of each pattern, (n, rows, cols) → (n, 2).

    The band contrast is the standard deviation of the background-corrected pattern
    (``normalise``'s dynamic background); :meth:`SegmentationNet.classify` makes both
    relative to the map.
    """
    x = patterns.reshape(-1, 1, *patterns.shape[-2:]).float()
    log_mean = torch.log(x.mean(dim=(-2, -1)).clamp(min=1e-3))
    if normalise.config.background_sigma_px > 0:
        corrected = x / (normalise.background(x) + 1.0)
    else:
        corrected = x
    log_std = torch.log(corrected.std(dim=(-2, -1)).clamp(min=1e-6))
    return torch.cat([log_mean, log_std], dim=1)


class _Double(nn.Sequential):
    def __init__(self, c_in: int, c_out: int):
        super().__init__(_conv(c_in, c_out, 3, 1, True), _conv(c_out, c_out, 3, 1, True))


class SegmentationNet(nn.Module):
    """U-Net over per-pattern embeddings and statistics: a class for every map point.

    Input: raw counts (b, rows, cols, det_rows, det_cols), whole maps. Output: a dict with
    ``class_logits`` (b, n_classes, rows, cols) over the
    :class:`~synthebsd.conventions.Region` codes (and 4 = grain boundary with
    ``config.grain_boundary``).
    """

    task = "segmentation"

    def __init__(self, config: SegmentationNetConfig):
        super().__init__()
        self.config = config
        ch = config.encoder_channels
        layers: list[nn.Module] = [_conv(1, ch[0], 5, 2, True)]
        layers += [_conv(a, b, 3, 2, True) for a, b in zip(ch[:-1], ch[1:], strict=True)]
        self.normalise = PatternNormalizer(config.normalisation)
        self.encoder = nn.Sequential(
            *layers,
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(ch[-1] * 16, config.embedding_dim),
            nn.ReLU(),
        )
        u = config.unet_channels
        self.down = nn.ModuleList([_Double(config.embedding_dim + 3, u[0])])
        self.down.extend(_Double(a, b) for a, b in zip(u[:-1], u[1:], strict=True))
        pairs = list(zip(u[1:], u[:-1], strict=True))[::-1]  # deepest first
        self.up = nn.ModuleList(_Double(a + b, b) for a, b in pairs)
        self.head = nn.Conv2d(u[0], config.n_classes, 1)

    def pattern_features(self, patterns: torch.Tensor) -> torch.Tensor:
        """Per-pattern features, (n, rows, cols) counts → (n, embedding_dim + 2).

        The embedding and :func:`pattern_statistics`; a map can be embedded in chunks
        and put together for :meth:`classify`.
        """
        expected = tuple(self.config.input_shape_px)
        if tuple(patterns.shape[-2:]) != expected:
            raise ValueError(
                f"Patterns are {tuple(patterns.shape[-2:])} px but the network takes {expected}"
            )
        flat = patterns.reshape(-1, 1, *expected)
        z = self.encoder(self.normalise(flat))
        return torch.cat([z, pattern_statistics(flat, self.normalise)], dim=1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Class logits (b, classes, rows, cols) from features (b, rows, cols, dim + 2).

        The statistics become, per map: log mean minus its median (pores and electrolyte
        yield less than the metal), log contrast minus its median, and log contrast plus
        ½ log mean (≈ constant for background-only Poisson patterns, higher with bands).
        """
        b = features.shape[0]
        z, log_mean, log_std = features[..., :-2], features[..., -2], features[..., -1]

        def centred(v: torch.Tensor) -> torch.Tensor:
            return v - v.flatten(1).median(dim=1).values.view(b, 1, 1)

        stats = torch.stack([centred(log_mean), centred(log_std), log_std + 0.5 * log_mean], -1)
        x = torch.cat([z, stats], dim=-1).permute(0, 3, 1, 2)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool2d(x, 2, ceil_mode=True)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)

    def forward(self, patterns: torch.Tensor) -> dict[str, torch.Tensor]:
        if patterns.dim() != 5:
            raise ValueError(
                f"Expected maps of patterns (b, rows, cols, det_rows, det_cols), "
                f"got shape {tuple(patterns.shape)}"
            )
        b, h, w = patterns.shape[:3]
        features = self.pattern_features(patterns).view(b, h, w, -1)
        return {"class_logits": self.classify(features)}
