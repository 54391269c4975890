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
    "detector_config",
    "detector_direction_cosines",
    "gaussian_psf_kernel",
    "make_detector",
    "map_detector",
    "pc_shift_along_beam",
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
        px_size=config.px_size_um,
        binning=1,
        convention="bruker",
    )


def detector_config(
    detector: EBSDDetector, *, energy_kv: float, px_size_um: float | None = None
) -> DetectorConfig:
    """The :class:`~synthebsd.config.DetectorConfig` of a kikuchipy detector (a measured
    file's): its shape, mean projection centre (Bruker), sample and camera tilts.

    Parameters
    ----------
    detector
        kikuchipy detector; a per-pattern PC is averaged over the map.
    energy_kv
        Beam energy in kV (kikuchipy's detector does not hold it).
    px_size_um
        Screen pixel size in µm; None: the detector's ``px_size × binning``. Files often
        lack it (kikuchipy then assumes 1 µm), so callers may keep their own.

    Raises
    ------
    ValueError
        If the detector is outside what :class:`~synthebsd.config.DetectorConfig` allows
        (e.g. a PC or tilt out of range), naming the value.
    """
    from pydantic import ValidationError

    if detector.azimuthal != 0 or detector.twist != 0:
        raise ValueError(
            f"The detector has azimuthal {detector.azimuthal}° and twist {detector.twist}°; "
            "synthebsd's detector model has neither"
        )
    pc = np.asarray(detector.pc, dtype=float).reshape(-1, 3).mean(axis=0)
    size = float(detector.px_size * detector.binning) if px_size_um is None else px_size_um
    values = {
        "shape_px": [int(n) for n in detector.shape],
        "pc_bruker": [float(v) for v in pc],
        "px_size_um": size,
        "sample_tilt_deg": float(detector.sample_tilt),
        "camera_tilt_deg": float(detector.tilt),
        "energy_kv": float(energy_kv),
    }
    try:
        return DetectorConfig.model_validate(values)
    except ValidationError as e:
        fields = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ValueError(f"The detector does not fit synthebsd's detector model: {fields}") from e


def map_detector(
    config: DetectorConfig, map_shape: tuple[int, int], step_sizes_um: tuple[float, float]
) -> EBSDDetector:
    """The detector of a map: one projection centre per map point, moving with the beam.

    ``config.pc_bruker`` is the PC of the map's centre point (row ``rows // 2``, column
    ``cols // 2``); the others follow from the beam position with kikuchipy's
    :meth:`~kikuchipy.detectors.EBSDDetector.extrapolate_pc` (Singh et al. 2017): a step
    of Δx moves PCx by Δx / (cols · px_size), a step of Δy moves PCy and PCz by
    Δy · (cos α, −sin α) / (rows · px_size), α = 90° − sample tilt + camera tilt.

    Parameters
    ----------
    config
        Detector geometry (Bruker PC at the map centre, pixel size in µm).
    map_shape
        (rows, cols) of the map.
    step_sizes_um
        (dy, dx) in µm.

    Returns
    -------
    detector
        kikuchipy detector with ``navigation_shape == map_shape``.
    """
    centre = (map_shape[0] // 2, map_shape[1] // 2)
    return make_detector(config).extrapolate_pc(
        pc_indices=list(centre), navigation_shape=tuple(map_shape), step_sizes=step_sizes_um
    )


def pc_shift_along_beam(detector: EBSDDetector, depth_um: np.ndarray) -> np.ndarray:
    """PC change (Bruker, (n, 3)) when the source sinks ``depth_um`` below the surface.

    A beam entering a pore travels on, down the microscope axis, until it meets material
    at depth d below the surface, a path s = d / cos(tilt). In the frame of
    :func:`map_detector` (kikuchipy's) a displacement s·(beam) moves the PC by
    (ΔPCy, ΔPCz) = d/H · (sin α + tan σ · cos α, cos α − tan σ · sin α), H the detector
    height (rows · px_size), σ the sample tilt, α = 90° − σ + camera tilt; PCx is
    unchanged. For a vertical screen (camera tilt 0) that is ΔPCy = s / H, ΔPCz = 0: the
    source drops below the pattern centre.
    """
    depth = np.asarray(depth_um, dtype=float).reshape(-1)
    sigma = np.deg2rad(detector.sample_tilt)
    alpha = np.deg2rad(90.0 - detector.sample_tilt + detector.tilt)
    height = detector.nrows * detector.px_size * detector.binning
    shift = np.zeros((depth.size, 3))
    shift[:, 1] = depth / height * (np.sin(alpha) + np.tan(sigma) * np.cos(alpha))
    shift[:, 2] = depth / height * (np.cos(alpha) - np.tan(sigma) * np.sin(alpha))
    return shift


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


def backscatter_background(
    detector: EBSDDetector, sigma_deg: float = 35.0, pc_index: np.ndarray | None = None
) -> np.ndarray:
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
        kikuchipy detector, one projection centre or one per map point.
    sigma_deg
        Angular width of the background in degrees.
    pc_index
        Flat indices of the projection centres to use (a detector with one PC repeats
        it); None: the first PC only.

    Returns
    -------
    background
        float64 array (rows, cols), or (len(pc_index), rows, cols), maximum 1 at the peak
        direction (which may lie off the detector).
    """
    n_rows, n_cols = detector.shape
    pcs = np.asarray(detector.pc, dtype=float).reshape(-1, 3)
    index = np.zeros(1, dtype=int) if pc_index is None else np.asarray(pc_index).reshape(-1)
    if pcs.shape[0] == 1:
        index = np.zeros_like(index)
    pcx, pcy, pcz = (pcs[index, k][:, None, None] for k in range(3))
    rows, cols = np.mgrid[0:n_rows, 0:n_cols]
    # Directions from the source point in the detector frame, in units of detector height
    # (x right, y down, z from the detector towards the sample).
    dx = (cols + 0.5) / n_rows - pcx * n_cols / n_rows
    dy = (rows + 0.5) / n_rows - pcy
    dz = np.broadcast_to(pcz, dx.shape)
    norm = np.sqrt(dx**2 + dy**2 + dz**2)
    below_normal = np.deg2rad(2 * detector.sample_tilt - 90 - detector.tilt)
    cos_angle = (dy * np.sin(below_normal) + dz * np.cos(below_normal)) / norm
    angle = np.arccos(np.clip(cos_angle, -1.0, 1.0))
    out = np.exp(-0.5 * (angle / np.deg2rad(sigma_deg)) ** 2)
    return out[0] if pc_index is None else out


def pore_shadow(detector: EBSDDetector, depth_ratio: float | np.ndarray) -> np.ndarray | None:
    """Fraction of a pore's backscatter that clears the pore rim, per detector pixel.

    Electrons leaving the floor of a pore of depth h and width w towards a detector
    pixel at take-off angle e above the sample surface escape only from the part of the
    floor farther than h / tan(e) from the rim on the detector side: the transmitted
    fraction is ``clip(1 − (h/w) / tan(e), 0, 1)``. Low take-off angles (the bottom of
    the detector, which looks along the tilted surface) are shadowed first. The take-off
    angle of each pixel comes from its direction in the sample frame (z along the
    surface normal; Bruker projection centre; the first PC of the detector: the PC moves
    far less across a map than the angles of a pixel change).

    Parameters
    ----------
    detector
        kikuchipy detector.
    depth_ratio
        Pore depth over width h/w, a number or one per pattern (n,); 0 means no shadow.

    Returns
    -------
    shadow
        float64 array of the detector shape in [0, 1] (or (n, rows, cols) for an array of
        ratios); None when a single ``depth_ratio`` is 0.
    """
    ratio = np.asarray(depth_ratio, dtype=float)
    if ratio.ndim == 0 and ratio <= 0:
        return None
    dc = detector_direction_cosines(detector, index=np.zeros(1, dtype=int))[0]
    tan_take_off = np.tan(np.arcsin(np.clip(dc[:, 2], 1e-6, 1.0))).reshape(detector.shape)
    return np.clip(1.0 - ratio[..., None, None] / tan_take_off, 0.0, 1.0)
