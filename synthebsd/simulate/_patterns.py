"""Pattern formation: Kikuchi signal from a master pattern, backscatter background, noise.

The expected number of counts in detector pixel ``(r, c)`` of the pattern of a map point
is

    λ(r, c) = N · y · b(r, c) · (1 + C · k̃(r, c)),

with ``N`` the dose (counts per pixel at the background peak), ``y`` the relative yield of
the point's region (pores and electrolyte differ from the metal), ``b`` the smooth
backscatter background (peak 1), ``C`` the band contrast and ``k̃`` the Kikuchi signal
projected from the phase's master pattern and scaled to [-1, 1] with the master pattern's
own mean and standard deviation (so the contrast does not depend on orientation). Points
without a phase (pores, electrolyte) get ``k̃ = 0``: background only. Measured counts are
Poisson distributed and stored as uint16 (saturating at 65,535).

Random numbers come from a generator seeded by ``(seed, flat point index)``, so a pattern
is the same whatever chunking, worker count or machine produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.config import DetectorConfig, PatternConfig
from synthebsd.simulate._scene import Region

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern, LazyEBSD
    from orix.crystal_map import CrystalMap

__all__ = [
    "smooth_master_pattern",
    "backscatter_background",
    "make_detector",
    "project_kikuchi_signal",
    "render_patterns",
    "simulate_patterns",
]

#: Stream id mixed into the seed of the pattern noise (other streams use other ids).
_NOISE_STREAM = 1


def make_detector(config: DetectorConfig | None = None) -> EBSDDetector:
    """Build a kikuchipy detector; the projection centre is in the Bruker convention."""
    from kikuchipy.detectors import EBSDDetector

    config = config or DetectorConfig()
    return EBSDDetector(
        shape=tuple(config.shape_px),
        pc=tuple(config.pc_bruker),
        sample_tilt=config.sample_tilt_deg,
        tilt=config.camera_tilt_deg,
        convention="bruker",
    )


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


def smooth_master_pattern(
    master_pattern: EBSDMasterPattern, detector: EBSDDetector, psf_sigma_px: float = 0.5
) -> EBSDMasterPattern:
    """Smooth a master pattern to about the angular resolution of the detector.

    An indexer's model, not the renderer's physics: dictionary indexing and refinement
    project with kikuchipy, which samples the master pattern at one direction per
    detector pixel. Dynamical Li has lines far sharper than a 60 × 60 pixel, so a model
    sampled that way is aliased and a 3° dictionary misses most Li patterns (40 % within
    2° on the demo's Li; 72 % after smoothing, 95 % after refinement). We approximate the
    pixel's solid angle (box, variance 1/12 px²) and the point spread ``psf_sigma_px``
    with one Gaussian on the Lambert master pattern, of σ = √(1/12 + psf²) detector
    pixels converted to Lambert pixels at the projection centre (a detector pixel
    subtends 1 / (PCz · rows) rad, Bruker PCz; a Lambert pixel √(2π) / n rad). The
    square Lambert projection is not conformal, so this blur is slightly anisotropic and
    differs between symmetry-equivalent regions (for Cu, symmetry-equivalent patterns
    drop from NCC 0.998 to about 0.9); the renderer therefore integrates pixels in the
    detector plane instead (:func:`project_kikuchi_signal`).

    Parameters
    ----------
    master_pattern
        Lambert master pattern, both hemispheres.
    detector
        Detector whose pixel size sets the blur (Bruker projection centre).
    psf_sigma_px
        Point-spread σ in detector pixels.

    Returns
    -------
    master_pattern
        A new, smoothed master pattern (the input is unchanged). Near the hemisphere
        edges the blur reflects at the equator.
    """
    from kikuchipy.signals import EBSDMasterPattern
    from scipy.ndimage import gaussian_filter

    pcz = float(np.asarray(detector.pcz).ravel()[0])
    detector_px_rad = 1.0 / (pcz * detector.nrows)
    data = np.asarray(master_pattern.data, dtype=np.float32)
    lambert_px_rad = np.sqrt(2 * np.pi) / data.shape[-1]
    sigma = np.sqrt(1 / 12 + psf_sigma_px**2) * detector_px_rad / lambert_px_rad
    blurred = np.stack([gaussian_filter(h, sigma, mode="reflect") for h in data])
    out = EBSDMasterPattern(
        blurred, projection="lambert", hemisphere="both", phase=master_pattern.phase.deepcopy()
    )
    energy = master_pattern.metadata.get_item("Simulation.EBSD_master_pattern.energy_kv")
    if energy is not None:
        out.metadata.set_item("Simulation.EBSD_master_pattern.energy_kv", energy)
    return out


def project_kikuchi_signal(
    master_pattern: EBSDMasterPattern,
    rotations,
    detector: EBSDDetector,
    energy_kv: float,
    oversample: int = 1,
    psf_sigma_px: float = 0.0,
) -> np.ndarray:
    """Project rotations from a master pattern; returns k̃ in [-1, 1], shape (n, rows, cols).

    Uses kikuchipy's :meth:`~kikuchipy.signals.EBSDMasterPattern.get_patterns` (Bruker
    projection centre of ``detector``). With ``oversample`` = k > 1 the pattern is
    projected on a k-times finer detector with the same projection centre and averaged
    over k × k blocks, which integrates each pixel over its solid angle; the scintillator
    and optics point spread is then a Gaussian of σ = ``psf_sigma_px`` detector pixels.
    Both act in the detector plane, so symmetry-equivalent orientations stay equivalent.
    The result is scaled by the master pattern's mean and 3 standard deviations so that
    band contrast is the same for every orientation.
    """
    from scipy.ndimage import gaussian_filter

    fine = detector
    if oversample > 1:
        from kikuchipy.detectors import EBSDDetector

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
    mp_data = np.asarray(master_pattern.data, dtype=np.float64)
    mean, std = mp_data.mean(), mp_data.std()
    return np.clip((data - mean) / (3 * std), -1.0, 1.0)


def render_patterns(
    xmap: CrystalMap,
    master_patterns: Mapping[int, EBSDMasterPattern],
    detector: EBSDDetector,
    config: PatternConfig,
    energy_kv: float,
    seed: int,
    start: int,
    stop: int,
) -> np.ndarray:
    """Render the noisy patterns of map points ``start:stop`` (flat C-order indices).

    Parameters
    ----------
    xmap
        Ground truth with phase ids and the ``region`` property.
    master_patterns
        Master pattern per phase id of ``xmap``.
    detector
        Detector (Bruker projection centre).
    config
        Dose, contrast, background width and region yields.
    energy_kv
        Beam energy in kV.
    seed
        Noise seed; pattern ``i`` uses a generator seeded with ``(seed, 1, i)``.
    start, stop
        Flat index range of the points to render.

    Returns
    -------
    patterns
        uint16 array of shape (stop - start, rows, cols).
    """
    index = np.arange(start, stop)
    phase_id = xmap.phase_id[index]
    region = xmap.prop["region"][index]
    kikuchi = np.zeros((index.size, *detector.shape), dtype=np.float32)
    for pid, mp in master_patterns.items():
        sel = np.nonzero(phase_id == pid)[0]
        if sel.size:
            kikuchi[sel] = project_kikuchi_signal(
                mp,
                xmap.rotations[index[sel]],
                detector,
                energy_kv,
                config.oversample,
                config.psf_sigma_px,
            )
    missing = set(np.unique(phase_id[phase_id >= 0]).tolist()) - set(master_patterns)
    if missing:
        raise ValueError(f"No master pattern given for phase id(s) {sorted(missing)}")

    yield_ = np.ones(index.size)
    yield_[region == Region.PORE] = config.pore_intensity
    yield_[region == Region.ELECTROLYTE] = config.electrolyte_intensity
    background = backscatter_background(detector, config.background_sigma_deg)
    expected = (
        config.dose_counts
        * yield_[:, None, None]
        * background
        * (1 + config.band_contrast * kikuchi)
    )
    out = np.empty(expected.shape, dtype=np.uint16)
    for j, i in enumerate(index):
        rng = np.random.default_rng([seed, _NOISE_STREAM, int(i)])
        out[j] = np.minimum(rng.poisson(expected[j]), np.iinfo(np.uint16).max)
    return out


def simulate_patterns(
    xmap: CrystalMap,
    master_patterns: Mapping[int, EBSDMasterPattern],
    detector: EBSDDetector,
    config: PatternConfig | None = None,
    energy_kv: float = 20.0,
    seed: int = 0,
) -> LazyEBSD:
    """Patterns of every point of a ground-truth map, as a lazy kikuchipy signal.

    Nothing is rendered until the signal is computed or saved; each dask block renders
    ``config.chunk_size`` points or fewer with :func:`render_patterns`, so memory stays
    bounded and the same code runs on threads, processes or a dask.distributed cluster.

    Returns
    -------
    signal
        :class:`~kikuchipy.signals.LazyEBSD` with navigation shape ``xmap.shape``
        (rows, cols), navigation scales equal to the map step sizes in µm, and
        ``detector`` attached.
    """
    import dask.array as da
    from kikuchipy.signals import LazyEBSD

    config = config or PatternConfig()
    n_rows, n_cols = xmap.shape
    det_shape = detector.shape
    rows_per_block = max(1, min(n_rows, config.chunk_size // max(n_cols, 1)))

    def block(block_info=None):
        (r0, r1), _, _, _ = block_info[None]["array-location"]
        patterns = render_patterns(
            xmap, master_patterns, detector, config, energy_kv, seed, r0 * n_cols, r1 * n_cols
        )
        return patterns.reshape(r1 - r0, n_cols, *det_shape)

    data = da.map_blocks(
        block,
        dtype=np.uint16,
        chunks=(_split(n_rows, rows_per_block), (n_cols,), (det_shape[0],), (det_shape[1],)),
        meta=np.empty((0, 0, 0, 0), dtype=np.uint16),
    )
    signal = LazyEBSD(data)
    for axis, step, name in zip(
        signal.axes_manager.navigation_axes[::-1], (xmap.dy, xmap.dx), ("y", "x"), strict=True
    ):
        axis.scale = step
        axis.units = "um"
        axis.name = name
    signal.detector = detector.deepcopy()
    return signal


def _split(n: int, size: int) -> tuple[int, ...]:
    return (size,) * (n // size) + ((n % size,) if n % size else ())
