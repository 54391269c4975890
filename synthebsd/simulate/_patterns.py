"""Pattern formation: Kikuchi signal from a master pattern, backscatter background, noise.

The expected number of counts in detector pixel ``(r, c)`` of the pattern of a map point
is, with every optional model off (the study's default),

    λ(r, c) = N · y · b(r, c) · (1 + C · k̃(r, c)),

with ``N`` the dose (counts per pixel at the background peak), ``y`` the relative yield of
the point's region (pores and electrolyte differ from the metal), ``b`` the smooth
backscatter background (peak 1), ``C`` the band contrast and ``k̃`` the Kikuchi signal
projected from the phase's master pattern (torch renderer,
:class:`~synthebsd.simulate.KikuchiRenderer`) and scaled to [-1, 1] with the master
pattern's own mean and standard deviation (so the contrast does not depend on
orientation). Points without a phase (pores, electrolyte) get ``k̃ = 0``: background only.
Measured counts are Poisson distributed and stored as uint16 (saturating at 65,535).

Optional models, each switched on in :class:`~synthebsd.config.PatternConfig`: camera
(:mod:`~synthebsd.simulate._camera`), beam damage (:mod:`~synthebsd.simulate._damage`),
boundary mixing (:mod:`~synthebsd.simulate._mixing`), pore shadowing
(:func:`pore_shadow`) and a FIB surface layer; their combination is written out in
:mod:`~synthebsd.simulate._formation`.

Random numbers come from a generator seeded by ``(seed, 1, flat point index)``, so a
pattern is the same whatever chunking, worker count or machine produced it. Rendering is
chunked; :func:`plan_chunks` derives the chunk size from a memory budget.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np

from synthebsd.config import DetectorConfig, PatternConfig
from synthebsd.simulate._camera import camera_counts, poisson_counts

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern, LazyEBSD
    from orix.crystal_map import CrystalMap

    from synthebsd.simulate._formation import PatternModel

__all__ = [
    "MemoryBudgetError",
    "backscatter_background",
    "make_detector",
    "plan_chunks",
    "pore_shadow",
    "project_kikuchi_signal",
    "render_patterns",
    "simulate_patterns",
    "smooth_master_pattern",
]


class MemoryBudgetError(ValueError):
    """Raised when a memory budget cannot hold even one chunk of patterns."""


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
    from synthebsd.simulate._detector_geometry import detector_direction_cosines

    dc = detector_direction_cosines(detector)
    if dc.ndim == 3:
        dc = dc[0]
    take_off = np.arcsin(np.clip(dc[:, 2], 1e-6, 1.0))
    shadow = np.clip(1.0 - depth_ratio / np.tan(take_off), 0.0, 1.0)
    return shadow.reshape(detector.shape)


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
        from synthebsd.simulate._renderer import render_kikuchi

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
    return data


def render_patterns(
    xmap: CrystalMap,
    master_patterns: Mapping[int, EBSDMasterPattern],
    detector: EBSDDetector,
    config: PatternConfig,
    energy_kv: float,
    seed: int,
    start: int,
    stop: int,
    model: PatternModel | None = None,
    num_threads: int | None = None,
) -> np.ndarray:
    """Render the noisy patterns of map points ``start:stop`` (flat C-order indices).

    Parameters
    ----------
    xmap
        Ground truth with phase ids and the ``region`` property (and ``grain_id``).
    master_patterns
        Master pattern per phase id of ``xmap``.
    detector
        Detector (Bruker projection centre).
    config
        Dose, contrast, background width, region yields and the optional models.
    energy_kv
        Beam energy in kV.
    seed
        Noise seed; pattern ``i`` uses a generator seeded with ``(seed, 1, i)``.
    start, stop
        Flat index range of the points to render.
    model
        A :class:`~synthebsd.simulate._formation.PatternModel` of this map, to reuse
        (dose map, mixing weights); built here if not given.
    num_threads
        CPU threads of the torch renderer; default torch's thread count.

    Returns
    -------
    patterns
        uint16 array of shape (stop - start, rows, cols): counts, or ADU with the
        camera model (saturating at 2^bit_depth − 1).
    """
    from synthebsd.simulate._formation import PatternModel

    if model is None:
        model = PatternModel(xmap, master_patterns, detector, config, energy_kv)
    expected = model.expected(start, stop, num_threads)
    index = np.arange(start, stop)
    if config.camera.enabled:
        return camera_counts(expected, config.camera, seed, index)
    return poisson_counts(expected, seed, index)


def _kikuchi_bytes_per_pixel(model: PatternModel) -> int:
    """k̃ (float32), and its damage-blurred copy."""
    return 4 + (4 if model.dose is not None else 0)


def _bytes_per_pattern(model: PatternModel) -> int:
    """Working memory per pattern of a chunk in :meth:`PatternModel.expected` + noise."""
    n_pixels = int(np.prod(model.detector.shape))
    per_pixel = _kikuchi_bytes_per_pixel(model) + 8 + 2 + 8  # k̃, λ, uint16 out, noise
    if not model.plain:
        per_pixel += 3 * 8  # float64 signal, content and its product in the mixing loop
    return n_pixels * per_pixel + 8 * model.offsets.shape[0] * 3


def _fixed_bytes(model: PatternModel, workers: int) -> int:
    """Memory held whatever the chunk size: renderers (image, directions, one chunk each)."""
    renderers = model.renderers.values()
    total = sum(r.fixed_bytes() for r in renderers)
    total += workers * max((r.cpu_chunk_bytes() for r in renderers), default=0)
    total += 8 * model.xmap.size * (model.offsets.shape[0] + 4)  # weights, dose, yields
    # Mixing: each chunk also renders k̃ of the rows above and below it (the halo).
    halo = 2 * model.halo_rows * model.xmap.shape[1] * int(np.prod(model.detector.shape))
    total += (workers + 1) * halo * _kikuchi_bytes_per_pixel(model)
    return total


def plan_chunks(
    model: PatternModel, memory_budget_bytes: float, workers: int | None = None
) -> int:
    """Map rows per chunk such that rendering stays within a memory budget.

    The budget covers the working memory of rendering (all ``workers`` chunks in flight
    plus one finished chunk waiting to be written, the renderers' master-pattern images
    and buffers, the map's dose and mixing arrays), not the Python process itself.

    Raises
    ------
    MemoryBudgetError
        If the budget cannot hold even one chunk of one map row.
    """
    if workers is None:
        import dask

        workers = int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    n_cols = model.xmap.shape[1]
    per_row = _bytes_per_pattern(model) * n_cols
    fixed = _fixed_bytes(model, workers)
    rows = int((memory_budget_bytes - fixed) // ((workers + 1) * per_row))
    if rows < 1:
        need = fixed + (workers + 1) * per_row
        raise MemoryBudgetError(
            f"A memory budget of {memory_budget_bytes / 2**20:.1f} MiB cannot hold one chunk "
            f"of one map row ({n_cols} patterns of {model.detector.shape}, {workers} workers): "
            f"at least {need / 2**20:.1f} MiB are needed"
        )
    return rows


def simulate_patterns(
    xmap: CrystalMap,
    master_patterns: Mapping[int, EBSDMasterPattern],
    detector: EBSDDetector,
    config: PatternConfig | None = None,
    energy_kv: float = 20.0,
    seed: int = 0,
    device: str = "cpu",
    model: PatternModel | None = None,
) -> LazyEBSD:
    """Patterns of every point of a ground-truth map, as a lazy kikuchipy signal.

    Nothing is rendered until the signal is computed or saved; each dask block renders
    whole map rows with :func:`render_patterns`, at most ``config.chunk_size`` points and
    as many as the memory budget (``config.memory_budget_gib``) allows for dask's
    workers (:func:`plan_chunks`), so memory stays bounded; saving streams block by
    block. The dose map, mixing weights and other ground truth are computed once here
    (:func:`~synthebsd.simulate.pattern_ground_truth` returns them); pass a ``model``
    built for the same arguments to reuse it (e.g. to read that ground truth too).

    Returns
    -------
    signal
        :class:`~kikuchipy.signals.LazyEBSD` with navigation shape ``xmap.shape``
        (rows, cols), navigation scales equal to the map step sizes in µm, and
        ``detector`` attached.

    Raises
    ------
    MemoryBudgetError
        If the memory budget cannot hold one map row.
    """
    import dask.array as da
    from kikuchipy.signals import LazyEBSD

    from synthebsd.simulate._formation import PatternModel

    config = config or PatternConfig()
    if model is None:
        model = PatternModel(xmap, master_patterns, detector, config, energy_kv, device)
    n_rows, n_cols = xmap.shape
    det_shape = detector.shape
    budget_rows = plan_chunks(model, config.memory_budget_gib * 2**30)
    rows_per_block = max(1, min(n_rows, config.chunk_size // max(n_cols, 1), budget_rows))

    def block(block_info=None):
        (r0, r1), _, _, _ = block_info[None]["array-location"]
        patterns = render_patterns(
            xmap,
            master_patterns,
            detector,
            config,
            energy_kv,
            seed,
            r0 * n_cols,
            r1 * n_cols,
            model=model,
            num_threads=1,  # dask runs blocks in parallel
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
