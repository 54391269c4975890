"""Patterns in blocks of the navigation axis, in memory or lazy, and the memory plan.

Every indexing method reads its patterns through :func:`iter_blocks`: a kikuchipy
signal (``EBSD`` in memory, or ``LazyEBSD`` backed by dask) is flattened to ``(n, rows,
cols)`` in C order and handed out block by block as float32 NumPy arrays, so a lazy map
is never loaded whole. The block size comes from a byte budget (:func:`plan_block`), as
pattern rendering's does (:func:`synthebsd.simulate.plan_chunks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.simulate import MemoryBudgetError

if TYPE_CHECKING:
    from kikuchipy.detectors import EBSDDetector
    from kikuchipy.signals import EBSD

__all__ = [
    "MAX_BLOCK",
    "check_detector",
    "flat_patterns",
    "iter_blocks",
    "is_lazy",
    "navigation_size",
    "plan_block",
]

#: Largest block of patterns handed out at once (beyond it nothing gets faster).
MAX_BLOCK = 2048

_READER = ThreadPoolExecutor(1, thread_name_prefix="synthebsd-read")


def is_lazy(signal: EBSD) -> bool:
    """Whether the signal's data is a dask array (kikuchipy ``LazyEBSD``)."""
    import dask.array as da

    return isinstance(signal.data, da.Array)


def navigation_size(signal: EBSD) -> int:
    return int(signal.axes_manager.navigation_size or 1)


def flat_patterns(signal: EBSD):
    """The signal's data as ``(n, rows, cols)``: a NumPy view or a dask array."""
    shape = tuple(signal.axes_manager.signal_shape[::-1])
    return signal.data.reshape(-1, *shape)


def check_detector(signal: EBSD, detector: EBSDDetector) -> None:
    """Raise a ValueError if the patterns and the detector differ in shape."""
    shape = tuple(signal.axes_manager.signal_shape[::-1])
    if shape != tuple(detector.shape):
        raise ValueError(
            f"The patterns are {shape[0]} × {shape[1]} px but the detector is "
            f"{detector.shape[0]} × {detector.shape[1]} px; give the detector of these "
            "patterns (binning included)"
        )


def _release_memory() -> None:
    """Give freed heap memory back to the system (glibc's ``malloc_trim``; else nothing).

    Blocks are allocated and freed by several threads (reader, render workers), each
    with its own malloc arena; without trimming, the arenas keep what they once held and
    the resident memory of a long map grows with its length (dask's workers trim for the
    same reason).
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc
        return None


_LIBC = _load_libc()


def _check_finite(block: np.ndarray, start: int) -> None:
    if not np.isfinite(block).all():
        bad = start + np.unique(np.nonzero(~np.isfinite(block))[0])
        raise ValueError(
            f"{bad.size} pattern(s) contain NaN or infinite values (first flat indices "
            f"{bad[:5].tolist()}); clean or mask them before indexing"
        )


def iter_blocks(
    signal: EBSD, block_size: int, prefetch: bool = True
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, patterns)``: float32 arrays of at most ``block_size`` patterns.

    A lazy signal is computed block by block (dask's chunks along the flat navigation
    axis are split or merged to the block size); with ``prefetch`` the next block is
    computed in a background thread while the caller works on the current one (one
    extra block in memory).

    Raises
    ------
    ValueError
        If a pattern contains a NaN or infinite value.
    """
    arr = flat_patterns(signal)
    n = arr.shape[0]
    size = max(1, int(block_size))
    lazy = is_lazy(signal)
    bounds = _chunk_aligned(arr.chunks[0], size) if lazy else _even(n, size)
    if not lazy:
        for start, stop in bounds:
            block = np.asarray(arr[start:stop], dtype=np.float32)
            _check_finite(block, start)
            yield start, stop, block
        return

    def compute(i: int) -> np.ndarray:
        start, stop = bounds[i]
        # One block at a time on dask's synchronous scheduler: the caller's threads
        # (torch) do the heavy work, and memory holds one block (plus the prefetched).
        return np.asarray(arr[start:stop].compute(scheduler="synchronous"), dtype=np.float32)

    if not prefetch or len(bounds) == 1:
        for i, (start, stop) in enumerate(bounds):
            if i:
                _release_memory()
            block = compute(i)
            _check_finite(block, start)
            yield start, stop, block
        return
    # One long-lived reader thread: a new thread per block would get a new malloc arena
    # each time, and every arena keeps the blocks it once held (measured: +1 GiB RSS on
    # a 256 × 256 map).
    pending = _READER.submit(compute, 0)
    try:
        for i, (start, stop) in enumerate(bounds):
            block = pending.result()
            if i:  # the previous block is gone
                _release_memory()
            pending = _READER.submit(compute, i + 1) if i + 1 < len(bounds) else None
            _check_finite(block, start)
            yield start, stop, block
    finally:
        if pending is not None:
            pending.cancel()


def _even(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _chunk_aligned(chunks: tuple[int, ...], size: int) -> list[tuple[int, int]]:
    """Blocks of whole dask chunks (each computed once), chunks above ``size`` split."""
    bounds: list[tuple[int, int]] = []
    start = stop = 0
    for c in chunks:
        if c > size:  # split: the chunk is read (or computed) once per piece
            if stop > start:
                bounds.append((start, stop))
            bounds += [(stop + a, stop + b) for a, b in _even(c, size)]
            start = stop = stop + c
        elif stop - start + c > size:
            bounds.append((start, stop))
            start, stop = stop, stop + c
        else:
            stop += c
    if stop > start:
        bounds.append((start, stop))
    return bounds


def plan_block(
    budget_bytes: float,
    fixed_bytes: float,
    bytes_per_pattern: float,
    what: str,
    n_patterns: int,
) -> int:
    """Patterns per block such that ``fixed + block × per_pattern`` fits the budget.

    Parameters
    ----------
    budget_bytes
        Working memory allowed, in bytes.
    fixed_bytes
        Memory held whatever the block size (models, a cached dictionary), in bytes.
    bytes_per_pattern
        Working memory per pattern of a block, in bytes.
    what
        Name of the step, for the error message.
    n_patterns
        Patterns to process (the block is never larger).

    Raises
    ------
    MemoryBudgetError
        If the budget cannot hold one pattern's block.
    """
    block = int((budget_bytes - fixed_bytes) // max(bytes_per_pattern, 1))
    if block < 1:
        need = fixed_bytes + bytes_per_pattern
        raise MemoryBudgetError(
            f"A memory budget of {budget_bytes / 2**20:.1f} MiB cannot hold one chunk of "
            f"{what}: at least {need / 2**20:.1f} MiB are needed "
            f"({fixed_bytes / 2**20:.1f} MiB fixed + {bytes_per_pattern / 2**20:.2f} MiB "
            "per pattern)"
        )
    return max(1, min(block, MAX_BLOCK, max(int(n_patterns), 1)))
