"""The detector: where its pixels look, how it blurs, and the background it records.

The projection centre is in the **Bruker convention** (PCx, PCy as fractions of the
detector width and height from the top left, PCz as detector distance over detector
height), as kikuchipy's :class:`~kikuchipy.detectors.EBSDDetector` stores it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthebsd.config import DetectorConfig

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector

__all__ = [
    "backscatter_background",
    "detector_direction_cosines",
    "gaussian_psf_kernel",
    "make_detector",
    "pore_shadow",
]


def make_detector(config: DetectorConfig | None = None) -> EBSDDetector:
    """Build a kikuchipy detector; the projection centre is in the Bruker convention."""
    from kikuchipy.detectors import EBSDDetector  # lazy: kikuchipy takes seconds

    config = config or DetectorConfig()
    return EBSDDetector(
        shape=tuple(config.shape_px),
        pc=tuple(config.pc_bruker),
        sample_tilt=config.sample_tilt_deg,
        tilt=config.camera_tilt_deg,
        convention="bruker",
    )


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


def backscatter_background(detector: EBSDDetector, sigma_deg: float = 35.0) -> np.ndarray:
    """Smooth backscatter intensity on the detector, peak value 1.

    Backscattered intensity from a steeply tilted sample peaks near the specular
    direction of the beam on the sample surface, ``2·tilt − 90°`` below the horizontal
    (50° for a 70° tilt), and falls off with the angle from it. We model it as a Gaussian
    in that angle with width ``sigma_deg``. The detector geometry uses the Bruker
    projection centre (PCx, PCy as fractions of width and height from the top left, PCz
    as distance over height) and the camera tilt in degrees.

    Parameters
    ----------
    detector
        kikuchipy detector with a single (constant) projection centre.
    sigma_deg
        Angular width of the background in degrees.

    Returns
    -------
    background
        Array of the detector shape (rows, cols), float64, maximum 1 at the peak
        direction (which may lie off the detector).
    """
    n_rows, n_cols = detector.shape
    pcx, pcy, pcz = (float(v) for v in np.asarray(detector.pc).reshape(-1, 3)[0])
    rows, cols = np.mgrid[0:n_rows, 0:n_cols]
    # Directions from the source point in the detector frame, in units of detector height
    # (x right, y down, z from the detector towards the sample).
    dirs = np.stack(
        [
            (cols + 0.5) / n_rows - pcx * n_cols / n_rows,
            (rows + 0.5) / n_rows - pcy,
            np.full(rows.shape, pcz),
        ],
        axis=-1,
    )
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    below_normal = np.deg2rad(2 * detector.sample_tilt - 90 - detector.tilt)
    peak = np.array([0.0, np.sin(below_normal), np.cos(below_normal)])
    angle = np.arccos(np.clip(dirs @ peak, -1.0, 1.0))
    return np.exp(-0.5 * (angle / np.deg2rad(sigma_deg)) ** 2)


def pore_shadow(detector: EBSDDetector, depth_ratio: float) -> np.ndarray | None:
    """Fraction of a pore's backscatter that clears the pore rim, per detector pixel.

    Electrons leaving the floor of a pore of depth h and width w towards a detector
    pixel at take-off angle e above the sample surface escape only from the part of the
    floor farther than h / tan(e) from the rim on the detector side: the transmitted
    fraction is ``clip(1 − (h/w) / tan(e), 0, 1)``. Low take-off angles (the bottom of
    the detector, which looks along the tilted surface) are shadowed first. The take-off
    angle of each pixel comes from its direction in the sample frame (z along the
    surface normal; Bruker projection centre).

    Parameters
    ----------
    detector
        kikuchipy detector (one projection centre used).
    depth_ratio
        Pore depth over width h/w; 0 means no shadow.

    Returns
    -------
    shadow
        float64 array of the detector shape in [0, 1], or None when ``depth_ratio`` is 0.
    """
    if depth_ratio <= 0:
        return None
    dc = detector_direction_cosines(detector)
    if dc.ndim == 3:
        dc = dc[0]
    take_off = np.arcsin(np.clip(dc[:, 2], 1e-6, 1.0))
    shadow = np.clip(1.0 - depth_ratio / np.tan(take_off), 0.0, 1.0)
    return shadow.reshape(detector.shape)
