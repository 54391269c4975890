"""Reading and writing maps, patterns and summaries, atomically and with clear errors.

Every writer goes through :func:`atomic_path`: the file is written under a temporary name
in the destination folder and renamed only when complete, so an interrupted run never
leaves a half-written file under the final name, and an existing file survives a failed
write.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kikuchipy.signals import EBSD
    from orix.crystal_map import CrystalMap

__all__ = [
    "atomic_path",
    "load_crystal_map",
    "load_patterns",
    "save_crystal_map",
    "save_json",
    "save_patterns",
]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it to ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic | np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serialisable")


def save_json(obj: Any, path: str | Path) -> None:
    """Write ``obj`` as indented JSON (NumPy values as Python numbers), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def save_crystal_map(xmap: CrystalMap, path: str | Path) -> None:
    """Write a crystal map in orix's HDF5 format (properties included), atomically."""
    from orix import io

    with atomic_path(path) as tmp:
        io.save(tmp, xmap, overwrite=True)


def load_crystal_map(path: str | Path) -> CrystalMap:
    """Read an orix HDF5 crystal map; a missing, truncated or foreign file raises ValueError."""
    from orix import io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No crystal map file {path}")
    try:
        return io.load(path)
    except Exception as e:  # h5py and orix raise many types for a bad file
        raise ValueError(f"Cannot read crystal map {path}: {type(e).__name__}: {e}") from e


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
    import kikuchipy as kp
    import numpy as np

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
