"""``synthebsd verify``: re-hash every chunk of a store and name the corrupt ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthebsd.datasets import verify_store

__all__ = ["verify_dataset"]


def verify_dataset(store: str | Path) -> dict[str, Any]:
    """Check every chunk of a store against the hash in its manifest (or journal).

    Returns
    -------
    report
        ``passed`` (complete and every chunk matches), ``complete``, chunk counts, and
        ``corrupt`` / ``missing``: lists of ``{"chunk", "where", "problem"}`` naming
        scene, map rows and shard file of each.

    Raises
    ------
    StoreError
        If ``store`` is not a synthebsd store.
    """
    report = verify_store(store)
    return {
        "store": str(store),
        "passed": report.passed,
        "complete": report.complete,
        "n_chunks": report.n_chunks,
        "n_ok": len(report.ok),
        "corrupt": [
            {"chunk": key, "where": report.describe(key), "problem": problem}
            for key, problem in report.corrupt.items()
        ],
        "missing": [
            {"chunk": key, "where": report.describe(key), "problem": "never finished"}
            for key in report.missing
        ],
    }
