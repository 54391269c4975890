"""Where an EBSD detector's pixels look, and how the detector blurs what they see.

The projection centre is in the **Bruker convention** (PCx, PCy as fractions of the
detector width and height from the top left, PCz as detector distance over detector
height), as kikuchipy's :class:`~kikuchipy.detectors.EBSDDetector` stores it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector

__all__ = ["detector_direction_cosines", "gaussian_psf_kernel"]


def detector_direction_cosines(
    detector: EBSDDetector, oversample: int = 1, index: np.ndarray | None = None
) -> np.ndarray:
    """Unit vectors from the source point to the detector pixels, in the sample frame.

    Reproduces kikuchipy's ``_get_direction_cosines_for_fixed_pc`` / ``..._varying_pc``
    (float64), with the rotation from orix (``~detector.sample_to_detector``).

    Parameters
    ----------
    detector
        kikuchipy detector; the projection centre(s) in the Bruker convention.
    oversample
        Sub-pixels per detector pixel side (``k``): the grid is ``k·rows × k·cols`` over
        the same gnomonic bounds.
    index
        Flat pattern indices whose projection centres to use (a detector with one PC
        repeats it); default: every PC, or the one.

    Returns
    -------
    dc
        float64 array ``(n_pixels, 3)`` for one projection centre (no ``index``) or
        ``(n, n_pixels, 3)``, pixels in row-major order.
    """
    bounds = np.asarray(detector.gnomonic_bounds, dtype=np.float64).reshape(-1, 4)
    pcz = np.asarray(detector.pcz, dtype=np.float64).reshape(-1)
    single = bounds.shape[0] == 1
    if index is not None:
        index = np.asarray(index, dtype=int).reshape(-1)
        if single:  # one PC for every pattern
            index = np.zeros_like(index)
        bounds, pcz = bounds[index], pcz[index]
    rows, cols = detector.nrows * oversample, detector.ncols * oversample
    x_scale = (bounds[:, 1] - bounds[:, 0]) / cols
    y_scale = (bounds[:, 3] - bounds[:, 2]) / rows
    gx = bounds[:, :1] + (np.arange(cols) + 0.5) * x_scale[:, None]  # (m, cols)
    gy = bounds[:, 3:4] - (np.arange(rows) + 0.5) * y_scale[:, None]  # (m, rows)
    m = bounds.shape[0]
    d = np.empty((m, rows, cols, 3))
    d[..., 0] = (gx * pcz[:, None])[:, None, :]
    d[..., 1] = (gy * pcz[:, None])[:, :, None]
    d[..., 2] = pcz[:, None, None]
    om = (~detector.sample_to_detector).to_matrix().reshape(3, 3)
    d = d.reshape(m, rows * cols, 3) @ om.T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    return d[0] if single and index is None else d


def gaussian_psf_kernel(sigma_px: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter's 1-D kernel (truncate 4): weights over ±int(4σ + ½)."""
    radius = int(4.0 * sigma_px + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma_px) ** 2)
    return w / w.sum()
