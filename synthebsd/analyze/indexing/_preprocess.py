"""Background removal before indexing: static (divided) and dynamic (subtracted).

In memory or lazy: a lazy (dask-backed) signal stays lazy, its static background (the
map mean) is computed in one streaming pass, and each chunk of the navigation axis is
corrected on its own when it is computed, so a map larger than memory is never loaded
(every consumer of the lazy result then corrects each chunk again). A lazy map whose
result fits ``in_memory_max_bytes`` is corrected once, chunk by chunk, into memory.
Both operations act pattern by pattern (kikuchipy's), so chunking never changes a
pattern.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthebsd.analyze.indexing._blocks import flat_patterns, is_lazy

if TYPE_CHECKING:
    from kikuchipy.signals import EBSD

__all__ = ["preprocess_patterns"]

#: Patterns per chunk of a lazy result: kikuchipy's background removal needs several
#: temporary copies of a chunk (measured: 0.5 GiB above the start with 1024).
LAZY_CHUNK_PATTERNS = 256


def _nan_error(bad: np.ndarray) -> ValueError:
    return ValueError(
        f"{bad.size} pattern(s) contain NaN or infinite values (first flat indices "
        f"{bad[:5].tolist()}); clean or mask them before indexing"
    )


def _correct(block: np.ndarray, static_bg: np.ndarray) -> np.ndarray:
    """Divide by the static background and subtract the dynamic one (kikuchipy's)."""
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    # A copy: kikuchipy works in place, and the block may be the caller's array.
    s = kp.signals.EBSD(np.array(block, dtype=np.float32, copy=True))
    s.remove_static_background(operation="divide", static_bg=static_bg, show_progressbar=False)
    s.remove_dynamic_background(show_progressbar=False)
    return s.data


def preprocess_patterns(
    signal: EBSD,
    static_background: np.ndarray | None = None,
    chunk_patterns: int = LAZY_CHUNK_PATTERNS,
    in_memory_max_bytes: float | None = None,
) -> EBSD:
    """Flatten to a 1-D navigation, then remove the static and dynamic backgrounds.

    The static background is ``static_background`` (a recorded one, pattern shape) or,
    if None, the mean pattern of the whole map (synthetic maps have no recorded one); it
    is divided out: the backscatter background multiplies the Kikuchi
    signal, so subtracting it would leave bands on the dim side of the detector several
    times weaker than on the bright side (on clean Li patterns that costs Hough indexing
    4.5 % of the points; dividing recovers 100 % within 2°). The dynamic background, a
    Gaussian blur of each pattern (kikuchipy's default width), is then subtracted.

    Parameters
    ----------
    signal
        kikuchipy ``EBSD`` or ``LazyEBSD`` with any navigation shape.
    static_background
        Recorded static background (rows, cols), or None for the map mean.
    chunk_patterns
        A lazy signal's result is chunked to at most this many patterns along the flat
        navigation axis (each chunk is corrected when it is computed).
    in_memory_max_bytes
        A lazy signal whose float32 result takes at most this many bytes is corrected
        now, chunk by chunk, and returned in memory, so that several indexing methods do
        not each correct it again. None (default): a lazy signal stays lazy.

    Returns
    -------
    patterns
        float32 patterns with a 1-D navigation: ``EBSD`` for an in-memory signal or a
        lazy one that fits ``in_memory_max_bytes``, else ``LazyEBSD`` (nothing computed
        but the map mean).

    Raises
    ------
    ValueError
        If any pattern contains a NaN or infinite value (for a lazy signal: found in
        the streaming pass of the map mean, or when a chunk is computed if a static
        background is given).
    """
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    shape = tuple(signal.axes_manager.signal_shape[::-1])
    if static_background is not None:
        static_background = np.asarray(static_background, dtype=np.float32)
        if static_background.shape != shape:
            raise ValueError(
                f"static_background has shape {static_background.shape}, the patterns {shape}"
            )
    if not is_lazy(signal):
        data = np.asarray(signal.data, dtype=np.float32).reshape(-1, *shape)
        if not np.isfinite(data).all():
            raise _nan_error(np.unique(np.nonzero(~np.isfinite(data))[0]))
        bg = data.mean(axis=0) if static_background is None else static_background
        return kp.signals.EBSD(_correct(data, bg))

    import dask.array as da

    arr = flat_patterns(signal)
    if max(arr.chunks[0]) > chunk_patterns:
        arr = arr.rechunk({0: chunk_patterns, 1: -1, 2: -1})
    if static_background is None:
        # One streaming pass, chunk by chunk (dask's tree reduction), in float64.
        bg = arr.astype(np.float64).mean(axis=0).compute()
        if not np.isfinite(bg).all():
            bad = da.nonzero(~da.isfinite(arr).all(axis=(1, 2)))[0].compute()
            raise _nan_error(np.asarray(bad))
        bg = bg.astype(np.float32)
    else:
        bg = static_background

    def block(x: np.ndarray, block_info=None) -> np.ndarray:
        if not np.isfinite(x).all():
            start = block_info[0]["array-location"][0][0]
            raise _nan_error(start + np.unique(np.nonzero(~np.isfinite(x))[0]))
        return _correct(x, bg)

    out = da.map_blocks(block, arr, dtype=np.float32, meta=np.empty((0, 0, 0), np.float32))
    if in_memory_max_bytes is not None and out.nbytes <= in_memory_max_bytes:
        return kp.signals.EBSD(out.compute())
    return kp.signals.LazyEBSD(out)
