"""Rough interfaces between the layers of a cell: correlated random height profiles."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["rough_profile"]


def rough_profile(
    n_cols: int, amplitude_px: float, correlation_px: float, rng: np.random.Generator
) -> np.ndarray:
    """Zero-mean height profile (px) with RMS ``amplitude_px``.

    White noise filtered by a Gaussian of σ = ``correlation_px`` / 2 (periodic), so the
    autocorrelation exp(−r² / 4σ²) falls to 1/e at r = ``correlation_px``.
    """
    noise = rng.standard_normal(n_cols)
    if amplitude_px == 0:
        return np.zeros(n_cols)
    profile = gaussian_filter1d(noise, sigma=max(correlation_px / 2, 0.5), mode="wrap")
    profile -= profile.mean()
    return profile * amplitude_px / max(profile.std(), 1e-12)
