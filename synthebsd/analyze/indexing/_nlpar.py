"""Non-local pattern averaging (NLPAR, Brewick, Callahan & De Graef 2019) by PyEBSDIndex.

Each pattern becomes a weighted mean of the patterns within ``search_radius`` map points,
weighted by exp(−d²/λ²), d² the noise-normalised squared difference of the two patterns:
neighbours in the same grain count, those across a boundary (another pattern) hardly.
At low dose that raises the signal as a larger dose would without blurring grain
boundaries, which window averaging does.

PyEBSDIndex's :class:`~pyebsdindex.nlpar.NLPAR` reads and writes pattern files. It does
not read kikuchipy ≥ 0.10 h5ebsd (its reader compares version strings, so "0.13.1" <
"0.3.dev0"), so the patterns go through an EDAX UP2 file, its own format, in a temporary
folder.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["nlpar_patterns"]

_FULL_SCALE = 60000.0  # of uint16's 65,535


def _write_up2(path: Path, data, rows: int, cols: int, block_rows: int):
    """Write (rows, cols, h, w) patterns to a UP2 file row block by row block.

    Returns the factor the intensities were multiplied by (NLPAR's noise-normalised
    weights and its weighted means do not depend on it) and which patterns are not all
    zero.
    """
    import dask  # one pass over a lazy map for both extremes
    from pyebsdindex import ebsd_pattern

    low, peak = (float(v) for v in dask.compute(data.min(), data.max()))
    if not np.isfinite(peak) or low < 0:
        raise ValueError("NLPAR needs finite, non-negative pattern intensities")
    # near full scale: PyEBSDIndex truncates its float means to uint16, which would
    # otherwise take 0.5 count off every pixel on average
    scale = _FULL_SCALE / max(peak, 1e-12)
    up = ebsd_pattern.UPFile(str(path))
    up.version = 3
    up.patternH, up.patternW = (int(n) for n in data.shape[-2:])
    up.nRows, up.nCols = np.uint64(rows), np.uint64(cols)
    up.nPatterns = rows * cols
    up.xStep = up.yStep = 1.0
    up.filedatatype = np.uint16
    up.write_header()
    lit = np.zeros(rows * cols, dtype=bool)
    for r0 in range(0, rows, block_rows):
        block = np.asarray(data[r0 : r0 + block_rows], dtype=np.float64)
        n = block.shape[0] * cols
        block = np.rint(block.reshape(n, *block.shape[-2:]) * scale).astype(np.uint16)
        up.write_data(newpatterns=block, patStartCount=[r0 * cols, n])
        lit[r0 * cols : r0 * cols + n] = block.reshape(n, -1).max(axis=1) > 0
    return scale, lit


def nlpar_patterns(
    signal,
    search_radius: int = 3,
    lam: float | None = None,
    block_rows: int = 64,
):
    """Average every pattern with its similar neighbours (NLPAR, by PyEBSDIndex).

    Parameters
    ----------
    signal
        kikuchipy ``EBSD`` or ``LazyEBSD`` with a 2-D navigation (map rows, columns),
        raw counts or any non-negative intensities.
    search_radius
        Neighbours within this many map points along each axis (a (2r + 1)² window).
    lam
        λ of the weights exp(−d²/λ²). None: PyEBSDIndex's automatic choice
        (``NLPAR.opt_lambda``, the median of its three target weights), fitted on this map.
    block_rows
        Map rows read into memory at a time when writing the temporary file.

    Returns
    -------
    averaged, info
        An in-memory ``EBSD`` of the same shape, navigation axes and detector, float32
        in the units of ``signal`` (the weights sum to 1, so a count stays a count, to
        PyEBSDIndex's truncation to uint16 at 1/60,000 of the brightest pixel), and
        ``{"lambda", "search_radius", "seconds"}``.

    Raises
    ------
    ValueError
        If the navigation is not 2-D, ``search_radius`` < 1 or too large for the map, or
        the intensities are not finite and non-negative.
    RuntimeError
        If PyEBSDIndex returns an empty pattern for one that was not.
    """
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds
    from pyebsdindex import ebsd_pattern, nlpar

    if signal.axes_manager.navigation_dimension != 2:
        raise ValueError(
            "NLPAR averages over map neighbours: the patterns need a 2-D navigation "
            f"(rows, columns), got {signal.axes_manager.navigation_shape[::-1]}"
        )
    if search_radius < 1:
        raise ValueError(f"search_radius must be >= 1, got {search_radius}")
    rows, cols = signal.axes_manager.navigation_shape[::-1]
    # PyEBSDIndex cuts the map in at least two tiles along its longer side, and a tile
    # narrower than its (2r + 1) window reads past the data (NaN, written as 0).
    if min(rows, cols) < 2 * search_radius + 2:
        raise ValueError(
            f"NLPAR with search_radius {search_radius} needs a map of at least "
            f"{2 * search_radius + 2} × {2 * search_radius + 2} points, got {rows} × {cols}"
        )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synthebsd-nlpar-") as tmp:
        raw, averaged = Path(tmp) / "patterns.up2", Path(tmp) / "nlpar.up2"
        scale, lit = _write_up2(raw, signal.data, rows, cols, max(1, block_rows))
        nl = nlpar.NLPAR(
            str(raw),
            lam=0.7 if lam is None else float(lam),
            searchradius=int(search_radius),
            nrows=rows,
            ncols=cols,
        )
        # PyEBSDIndex prints λ and its progress whatever the verbosity
        with contextlib.redirect_stdout(io.StringIO()):
            if lam is None:
                nl.opt_lambda(verbose=0)
            nl.calcnlpar(fileout=str(averaged), verbose=0)
        up = ebsd_pattern.get_pattern_file_obj(str(averaged))
        data, _ = up.read_data(convertToFloat=True, returnArrayOnly=True)
    empty = lit & (data.reshape(rows * cols, -1).max(axis=1) == 0)
    if empty.any():
        raise RuntimeError(
            f"PyEBSDIndex's NLPAR returned {int(empty.sum())} empty patterns (of "
            f"{rows * cols}) for patterns that were not; first at flat index "
            f"{int(np.argmax(empty))}"
        )
    data = (data / scale).astype(np.float32).reshape(rows, cols, *data.shape[-2:])
    out = kp.signals.EBSD(data)
    for new, old in zip(
        out.axes_manager.navigation_axes, signal.axes_manager.navigation_axes, strict=True
    ):
        new.scale, new.offset, new.units, new.name = old.scale, old.offset, old.units, old.name
    out.detector = signal.detector.deepcopy()
    info = {
        "lambda": float(np.asarray(nl.lam).reshape(-1)[0]),
        "search_radius": int(search_radius),
        "seconds": time.perf_counter() - t0,
    }
    return out, info
