"""Atomic writes and JSON: nothing already written is lost or left half-written.

Every writer of synthebsd goes through :func:`atomic_path`: the file is written under a
temporary name in the destination folder and renamed only when complete, so an
interrupted run never leaves a half-written file under the final name, and an existing
file survives a failed write. The temporary name holds the process and thread ids, so
concurrent writers (dask workers, threads) never share one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_path", "json_ready", "save_json"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); rename it to ``path`` on success.

    The folder is created if missing. On an exception the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(
        f".{path.stem}.partial-{os.getpid()}-{threading.get_ident()}{path.suffix}"
    )
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def json_ready(obj: Any) -> Any:
    """``obj`` with NumPy values as Python ones, paths as strings, NaN and ±inf as None.

    Standard JSON has no NaN or infinity; a statistic that is undefined (the median of
    no points) is written as ``null``.

    Raises
    ------
    TypeError
        For an object JSON cannot hold.
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        return json_ready(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serialisable")


def save_json(obj: Any, path: str | Path) -> None:
    """Write ``obj`` as indented standard JSON, atomically.

    NumPy values become Python numbers, and NaN and infinities are written as ``null``
    (:func:`json_ready`); the output never holds ``NaN`` or ``Infinity``.
    """
    text = json.dumps(json_ready(obj), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
