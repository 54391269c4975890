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


def project_kikuchi_signal(
    master_pattern: EBSDMasterPattern, rotations, detector: EBSDDetector, energy_kv: float
) -> np.ndarray:
    """Project rotations from a master pattern; returns k̃ in [-1, 1], shape (n, rows, cols).

    Uses kikuchipy's :meth:`~kikuchipy.signals.EBSDMasterPattern.get_patterns` (Bruker
    projection centre of ``detector``); scales by the master pattern's mean and 3 standard
    deviations so band contrast is the same for every orientation.
    """
    sim = master_pattern.get_patterns(
        rotations, detector, energy=energy_kv, compute=True, show_progressbar=False
    )
    data = np.asarray(sim.data, dtype=np.float32).reshape(-1, *detector.shape)
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
                mp, xmap.rotations[index[sel]], detector, energy_kv
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
