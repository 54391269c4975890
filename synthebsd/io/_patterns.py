"""Pattern files: kikuchipy h5ebsd, written atomically, read with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synthebsd.io._atomic import atomic_path

if TYPE_CHECKING:
    from kikuchipy.signals import EBSD

__all__ = ["load_patterns", "save_patterns"]


def save_patterns(signal: EBSD, path: str | Path) -> None:
    """Write patterns as kikuchipy h5ebsd (``.h5``), atomically.

    A lazy signal is computed and written chunk by chunk; navigation scales (µm) and the
    detector (Bruker projection centre, tilts) are stored, so :func:`kikuchipy.load`
    returns an ``EBSD`` signal with the right navigation shape, step size and detector.
    """
    path = Path(path)
    if path.suffix != ".h5":
        raise ValueError(f"Pattern files are written as kikuchipy h5ebsd '.h5', got {path.name}")
    with atomic_path(path) as tmp:
        signal.save(tmp, overwrite=True)


def load_patterns(path: str | Path, lazy: bool = False) -> EBSD:
    """Read patterns with :func:`kikuchipy.load`, with a clear error for a bad file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If kikuchipy cannot read the file (truncated, corrupt, not EBSD patterns), or the
        patterns contain NaN or infinite values.
    """
    import kikuchipy as kp  # lazy: importing kikuchipy takes seconds

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No pattern file {path}")
    try:
        signal = kp.load(path, lazy=lazy)
    except Exception as e:  # readers raise OSError, KeyError, ValueError, ...
        raise ValueError(f"Cannot read patterns from {path}: {type(e).__name__}: {e}") from e
    if isinstance(signal, list) or type(signal).__name__ not in ("EBSD", "LazyEBSD"):
        raise ValueError(f"{path} holds {type(signal).__name__}, not one EBSD signal")
    if (
        not lazy
        and np.issubdtype(signal.data.dtype, np.floating)
        and not np.isfinite(signal.data).all()
    ):
        raise ValueError(f"Patterns in {path} contain NaN or infinite values")
    return signal
