"""``synthebsd export``: one stored scene as kikuchipy h5ebsd, EDAX .ang or orix HDF5."""

from __future__ import annotations

from pathlib import Path

from synthebsd.datasets import export_scene

__all__ = ["export_dataset_scene"]


def export_dataset_scene(store: str | Path, scene: int, to: str, out_dir: str | Path) -> Path:
    """Write scene ``scene`` of ``store`` in format ``to`` (h5ebsd, ang, orix) to ``out_dir``.

    See :func:`synthebsd.datasets.export_scene` for the files and their conventions.
    """
    return export_scene(store, scene, to, out_dir)
