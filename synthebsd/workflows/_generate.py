"""``synthebsd generate``: a data-set configuration rendered into a Zarr store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthebsd.config import DatasetConfig, load_dataset_config
from synthebsd.datasets import generate_store, read_manifest

__all__ = ["generate_dataset"]


def generate_dataset(
    config: str | Path | DatasetConfig,
    out: str | Path,
    seed: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    n_workers: int | None = None,
    memory_per_worker_gib: float | None = None,
    cache_dir: str | Path | None = None,
    max_chunks: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate (or resume) the store of a data set; see :func:`synthebsd.datasets.generate_store`.

    Parameters
    ----------
    config
        A :class:`~synthebsd.config.DatasetConfig` or the path of its YAML file.
    out
        The store folder.
    seed
        The data set's seed; default the store's when resuming, else 0.
    resume, overwrite, scheduler, n_workers, memory_per_worker_gib, cache_dir, max_chunks, progress
        As :func:`~synthebsd.datasets.generate_store`.

    Returns
    -------
    summary
        :func:`~synthebsd.datasets.generate_store`'s summary with the seed and the number
        of patterns in the store.

    Raises
    ------
    ConfigError
        For an invalid configuration file, before anything is written.
    """
    if not isinstance(config, DatasetConfig):
        config = load_dataset_config(config)
    out = Path(out)
    if seed is None:
        seed = read_manifest(out)["seed"] if resume and out.exists() else 0
    summary = generate_store(
        config,
        seed,
        out,
        resume=resume,
        overwrite=overwrite,
        scheduler=scheduler,
        n_workers=n_workers,
        memory_per_worker_gib=memory_per_worker_gib,
        cache_dir=cache_dir,
        max_chunks=max_chunks,
        progress=progress,
    )
    n_rows, n_cols = config.map_shape
    return summary | {"seed": seed, "patterns_in_store": config.n_scenes * n_rows * n_cols}
