"""The Kikuchi signal k̃ of orientations: projected master-pattern intensities, scaled.

k̃ = (I − mean) / (3 std) of the master pattern, clipped to [−1, 1], so that the band
contrast of a pattern does not depend on its orientation (see
:mod:`~synthebsd.simulate.patterns._formation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy.ndimage import gaussian_filter

from synthebsd.simulate.patterns._renderer import render_kikuchi

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern

__all__ = ["master_pattern_stats", "project_kikuchi_signal", "scale_kikuchi"]


def project_kikuchi_signal(
    master_pattern: EBSDMasterPattern,
    rotations,
    detector: EBSDDetector,
    energy_kv: float,
    oversample: int = 1,
    psf_sigma_px: float = 0.0,
    engine: Literal["torch", "kikuchipy"] = "torch",
    device: str = "cpu",
    num_threads: int | None = None,
) -> np.ndarray:
    """Project rotations from a master pattern; returns k̃ in [-1, 1], shape (n, rows, cols).

    With ``oversample`` = k > 1 the pattern is projected on a k-times finer detector with
    the same projection centre (Bruker convention) and averaged over k × k blocks, which
    integrates each pixel over its solid angle; the scintillator and optics point spread
    is then a Gaussian of σ = ``psf_sigma_px`` detector pixels. Both act in the detector
    plane, so symmetry-equivalent orientations stay equivalent. The result is scaled by
    the master pattern's mean and 3 standard deviations so that band contrast is the same
    for every orientation.

    Parameters
    ----------
    engine
        ``"torch"`` (default): :class:`~synthebsd.simulate.KikuchiRenderer`, batched, on
        ``device``; ``"kikuchipy"``: :meth:`~kikuchipy.signals.EBSDMasterPattern.get_patterns`
        on the fine detector, block mean and :func:`scipy.ndimage.gaussian_filter` (the
        reference; both agree to NCC > 0.99999).
    device
        torch device for ``engine="torch"``.
    num_threads
        CPU worker threads for ``engine="torch"``; default torch's thread count.
    """
    if engine == "torch":
        data = render_kikuchi(
            master_pattern,
            rotations,
            detector,
            energy_kv,
            device=device,
            oversample=oversample,
            psf_sigma_px=psf_sigma_px,
            num_threads=num_threads,
        ).reshape(-1, *detector.shape)
    elif engine == "kikuchipy":
        data = _project_with_kikuchipy(
            master_pattern, rotations, detector, energy_kv, oversample, psf_sigma_px
        )
    else:
        raise ValueError(f"engine must be 'torch' or 'kikuchipy', got {engine!r}")
    return scale_kikuchi(data, *master_pattern_stats(master_pattern))


def master_pattern_stats(master_pattern: EBSDMasterPattern) -> tuple[float, float]:
    """Mean and standard deviation of a master pattern's intensities (both hemispheres)."""
    mp_data = np.asarray(master_pattern.data, dtype=np.float64)
    return float(mp_data.mean()), float(mp_data.std())


def scale_kikuchi(data: np.ndarray, mean: float, std: float) -> np.ndarray:
    """k̃ = (I − mean) / (3 std), clipped to [−1, 1]: the same band contrast everywhere."""
    return np.clip((data - mean) / (3 * std), -1.0, 1.0)


def _project_with_kikuchipy(
    master_pattern: EBSDMasterPattern,
    rotations,
    detector: EBSDDetector,
    energy_kv: float,
    oversample: int,
    psf_sigma_px: float,
) -> np.ndarray:
    """The reference path: kikuchipy on a k-times finer detector, block mean, scipy PSF."""
    fine = detector
    if oversample > 1:
        from kikuchipy.detectors import EBSDDetector  # lazy: kikuchipy takes seconds

        fine = EBSDDetector(
            shape=(detector.nrows * oversample, detector.ncols * oversample),
            pc=detector.pc,
            sample_tilt=detector.sample_tilt,
            tilt=detector.tilt,
            azimuthal=detector.azimuthal,
            twist=detector.twist,
            convention="bruker",
        )
    sim = master_pattern.get_patterns(
        rotations, fine, energy=energy_kv, compute=True, show_progressbar=False
    )
    rows, cols = detector.shape
    data = np.asarray(sim.data, dtype=np.float32).reshape(-1, rows, oversample, cols, oversample)
    data = data.mean(axis=(2, 4))
    if psf_sigma_px > 0:
        data = gaussian_filter(data, (0, psf_sigma_px, psf_sigma_px), mode="nearest")
    return data
