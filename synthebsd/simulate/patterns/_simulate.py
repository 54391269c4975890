"""Pattern maps: noisy patterns of ground-truth maps, rendered in memory-bounded chunks.

The expected number of counts in detector pixel ``(r, c)`` of the pattern of a map point
is, with every optional model off (the study's default),

    λ(r, c) = N · y · b(r, c) · (1 + C · k̃(r, c)),

with ``N`` the dose (counts per pixel at the background peak), ``y`` the relative yield of
the point's region (pores and electrolyte differ from the metal), ``b`` the smooth
backscatter background (peak 1), ``C`` the band contrast and ``k̃`` the Kikuchi signal
projected from the phase's master pattern (torch renderer,
:class:`~synthebsd.simulate.patterns.KikuchiRenderer`) and scaled to [-1, 1] with the master
pattern's own mean and standard deviation (so the contrast does not depend on
orientation). Points without a phase (pores, electrolyte) get ``k̃ = 0``: background only.
Measured counts are Poisson distributed and stored as uint16 (saturating at 65,535).

Optional models, each switched on in :class:`~synthebsd.config.PatternConfig`: camera
(:mod:`~synthebsd.simulate.patterns._camera`), beam damage
(:mod:`~synthebsd.simulate.patterns._damage`), boundary mixing
(:mod:`~synthebsd.simulate.patterns._mixing`), pore shadowing
(:func:`~synthebsd.simulate.patterns.pore_shadow`) and a FIB surface layer; their
combination is written out in :mod:`~synthebsd.simulate.patterns._formation`.

Random numbers come from a generator seeded by ``(seed, NOISE_STREAM, flat point index)``
(:mod:`synthebsd.conventions`), so a
pattern is the same whatever chunking, worker count or machine produced it. Rendering is
chunked; :func:`plan_chunks` derives the chunk size from a memory budget.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import dask
import dask.array as da
import numpy as np

from synthebsd.config import PatternConfig
from synthebsd.simulate.patterns._camera import camera_counts, poisson_counts
from synthebsd.simulate.patterns._formation import PatternModel

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSDMasterPattern, LazyEBSD
    from orix.crystal_map import CrystalMap

__all__ = ["MemoryBudgetError", "plan_chunks", "render_patterns", "simulate_patterns"]


class MemoryBudgetError(ValueError):
    """Raised when a memory budget cannot hold even one chunk of patterns."""


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
        A :class:`~synthebsd.simulate.patterns.PatternModel` of this map, to reuse
        (dose map, mixing weights); built here if not given.
    num_threads
        CPU threads of the torch renderer; default torch's thread count.

    Returns
    -------
    patterns
        uint16 array of shape (stop - start, rows, cols): counts, or ADU with the
        camera model (saturating at 2^bit_depth − 1).
    """
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
    (:func:`~synthebsd.simulate.patterns.pattern_ground_truth` returns them); pass a ``model``
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
    from kikuchipy.signals import LazyEBSD  # lazy: kikuchipy takes seconds

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
