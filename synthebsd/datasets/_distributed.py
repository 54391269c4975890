"""Writing a store on dask.distributed (or in this process), resumable, with progress.

:func:`generate_store` checks everything that can fail before it writes anything (the
output path, the master patterns, the settings drawn for every scene), creates the
store, then renders the chunks not yet finished: one dask task per scene (its chunks in
order, written by the worker, whole shards, so workers never share a file), or, with
``scheduler="synchronous"``, in this process on its threads. Each finished chunk's hash
goes to the store's journal as its result arrives; when all are in, the manifest gets
them and the store is complete.

Workers write the store and read the master-pattern cache themselves: with
``scheduler=ADDRESS`` both paths must be reachable from every worker (a shared file
system). The default cluster is a ``LocalCluster`` with one single-threaded worker
process per core, each limited to a share of the machine's memory.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from synthebsd.config import DatasetConfig
from synthebsd.datasets._masterpatterns import (
    dataset_master_pattern_keys,
    preload_master_patterns,
)
from synthebsd.datasets._scenes import LABEL_DTYPES, scene_spec
from synthebsd.datasets._store import (
    STORE_FORMAT,
    StoreError,
    chunk_key,
    create_store,
    expected_chunks,
    finish_store,
    package_versions,
    read_journal,
    read_manifest,
    record_chunk,
    verify_store,
    write_block,
)
from synthebsd.datasets._stream import Chunk, PatternStream

__all__ = ["default_cluster_size", "generate_store"]

#: Most memory a default LocalCluster worker may use (a scene and a chunk in flight need
#: far less; the limit keeps a runaway worker from taking the machine).
MAX_WORKER_MEMORY_GIB = 4.0


def default_cluster_size() -> tuple[int, float]:
    """Workers (one per usable core) and memory per worker (GiB) of the default cluster."""
    import psutil  # lazy: only the default cluster needs it

    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = max(1, int(n or 1))
    per_worker = 0.8 * psutil.virtual_memory().total / 2**30 / n
    return n, min(MAX_WORKER_MEMORY_GIB, per_worker)


def _prepare_path(path: Path, resume: bool, overwrite: bool) -> bool:
    """Check the output path; return True when an existing store is to be resumed."""
    if resume and overwrite:
        raise StoreError("--resume and --overwrite exclude each other")
    if not path.exists():
        return False
    if resume:
        read_manifest(path)  # raises if not a store
        return True
    if not overwrite:
        raise StoreError(
            f"{path} exists; not overwritten (resume it with --resume, replace it with "
            "--overwrite)"
        )
    if path.is_dir() and not any(path.iterdir()):
        return False
    read_manifest(path)  # only a synthebsd store is ever removed
    return False


def _check_resumable(manifest: dict, config: DatasetConfig, seed: int) -> None:
    if manifest["config"] != config.model_dump(mode="json"):
        raise StoreError("The store was written with another configuration; not resumed")
    if manifest["seed"] != seed:
        raise StoreError(f"The store was written with seed {manifest['seed']}, not {seed}")
    versions = package_versions()
    changed = {
        k: (v, versions.get(k)) for k, v in manifest["versions"].items() if versions.get(k) != v
    }
    if changed:
        shown = ", ".join(f"{k} {a} → {b}" for k, (a, b) in changed.items())
        raise StoreError(
            f"The store was started with other package versions ({shown}); resuming would "
            "mix their outputs (patterns are bit-stable only within one build)"
        )


def _store_arrays(chunk: Chunk, n_cols: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A chunk's patterns and labels in the store's shapes and dtypes (exact casts)."""
    rows = chunk.row_stop - chunk.row_start
    patterns = chunk.patterns.cpu().numpy().reshape(rows, n_cols, *chunk.patterns.shape[1:])
    labels = {}
    for name, (dtype, tail) in LABEL_DTYPES.items():
        values = chunk.labels[name].cpu().numpy()
        labels[name] = values.reshape(rows, n_cols, *tail).astype(dtype)
    return patterns.astype(np.uint16), labels


@functools.lru_cache(maxsize=4)
def _config(config_json: str) -> DatasetConfig:
    return DatasetConfig.model_validate_json(config_json)


def render_scene_chunks(
    store: str,
    config_json: str,
    seed: int,
    scene: int,
    blocks: list[tuple[int, int, int]],
    cache_dir: str | None,
) -> list[tuple[str, str, int]]:
    """Render and write chunks of one scene (a dask task); returns (key, hash, patterns)."""
    stream = PatternStream(_config(config_json), seed, "cpu", cache_dir=cache_dir, num_threads=1)
    built = stream.scene(scene)
    out = []
    for block, r0, r1 in blocks:
        chunk = stream.render_chunk(built, r0, r1)
        patterns, labels = _store_arrays(chunk, built.shape[1])
        digest = write_block(store, scene, r0, patterns, labels)
        out.append((chunk_key(scene, block), digest, len(chunk)))
    return out


def _run_synchronous(
    stream: PatternStream, path: Path, todo: dict[int, list[tuple[int, int, int]]]
) -> Iterator[list[tuple[str, str, int]]]:
    rows = {(k, r0): b for k, blocks in todo.items() for b, r0, _ in blocks}
    selected = [(k, r0, r1) for k, blocks in todo.items() for _, r0, r1 in blocks]
    n_cols = stream.map_shape[1]
    for chunk in stream.chunks(blocks=selected):
        patterns, labels = _store_arrays(chunk, n_cols)
        digest = write_block(path, chunk.scene, chunk.row_start, patterns, labels)
        yield [(chunk_key(chunk.scene, rows[chunk.scene, chunk.row_start]), digest, len(chunk))]


def _run_dask(
    client, path: Path, config: DatasetConfig, seed: int, todo, cache_dir
) -> Iterator[list[tuple[str, str, int]]]:
    from distributed import as_completed  # lazy: distributed starts slowly

    config_json = config.model_dump_json()
    futures = [
        client.submit(
            render_scene_chunks,
            str(path),
            config_json,
            seed,
            k,
            blocks,
            None if cache_dir is None else str(cache_dir),
            key=f"synthebsd-scene-{k}-{seed}-{os.getpid()}-{time.monotonic_ns()}",
            pure=False,
        )
        for k, blocks in todo.items()
    ]
    for future in as_completed(futures):
        yield future.result()


def _client(scheduler: str | None, n_workers: int | None, memory_gib: float | None):
    """A dask client: to ``scheduler`` (an address) or to a new default LocalCluster."""
    from distributed import Client, LocalCluster  # lazy: distributed starts slowly

    if scheduler is not None:
        return Client(scheduler), None
    default_n, default_mem = default_cluster_size()
    cluster = LocalCluster(
        n_workers=n_workers or default_n,
        threads_per_worker=1,
        processes=True,
        memory_limit=f"{(memory_gib or default_mem):.3f}GiB",
        dashboard_address=None,
        silence_logs=logging.ERROR,  # not the nannies' notes on closing
    )
    return Client(cluster), cluster


def generate_store(
    config: DatasetConfig,
    seed: int,
    path: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    scheduler: str | None = None,
    n_workers: int | None = None,
    memory_per_worker_gib: float | None = None,
    cache_dir: str | Path | None = None,
    max_chunks: int | None = None,
    progress: bool = True,
    on_chunk: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Render a data set into a Zarr store (see :mod:`synthebsd.datasets._store`).

    Parameters
    ----------
    config, seed
        The data set; every pattern is a function of these only.
    path
        The store (a folder).
    resume
        Continue an interrupted store: chunks recorded as finished are re-verified by
        their hash and kept, every other chunk (never recorded, or recorded but no longer
        matching) is rendered again. The configuration, seed and package versions must be
        the store's.
    overwrite
        Replace an existing store (only a synthebsd store, or an empty folder, is removed).
    scheduler
        ``None``: a new LocalCluster (``n_workers`` single-threaded worker processes,
        default one per core, each limited to ``memory_per_worker_gib``, default the
        smaller of 4 GiB and 80 % of the memory per core); ``"synchronous"``: this process,
        its threads rendering chunks in parallel; else the address of a running
        dask.distributed scheduler.
    cache_dir
        Master-pattern cache folder (default ``$SYNTHEBSD_CACHE``); workers read it.
    max_chunks
        Stop after about this many chunks (whole scenes on dask) and leave the store
        incomplete, to be resumed (for splitting a long run into sessions).
    progress
        Show a progress bar (patterns/s and ETA).
    on_chunk
        Called with each finished chunk's key after it is recorded.

    Returns
    -------
    summary
        Store path, patterns and chunks written and kept, seconds, patterns/s,
        whether the store is complete.

    Raises
    ------
    StoreError
        If the path exists and neither ``resume`` nor ``overwrite`` is given, or the store
        to resume does not match; nothing is written then.
    ValueError
        If a master pattern cannot be made or a scene's drawn settings are invalid;
        nothing is written then.
    """
    t0 = time.perf_counter()
    path = Path(path)
    resuming = _prepare_path(path, resume, overwrite)
    preload_master_patterns(config, cache_dir)
    specs = [scene_spec(config, seed, k).summary() for k in range(config.n_scenes)]
    if resuming:
        manifest = read_manifest(path)
        _check_resumable(manifest, config, seed)
        recorded = manifest["chunks"] if manifest["complete"] else read_journal(path)
        report = verify_store(path, recorded)
        done = {k: recorded[k] for k in report.ok}
    else:
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        create_store(path, config, seed, dataset_master_pattern_keys(config), specs)
        manifest = read_manifest(path)
        done = {}
    n_cols = config.map_shape[1]
    todo: dict[int, list[tuple[int, int, int]]] = {}
    for k, b, r0, r1 in expected_chunks(manifest):
        if chunk_key(k, b) not in done:
            todo.setdefault(k, []).append((b, r0, r1))
    if max_chunks is not None:
        todo = _first_chunks(todo, max_chunks)
    total = sum((r1 - r0) * n_cols for blocks in todo.values() for _, r0, r1 in blocks)
    written: dict[str, str] = {}
    counts: dict[str, int] = {}
    client = cluster = None
    bar = tqdm(total=total, unit="pattern", unit_scale=True, desc="generate", disable=not progress)
    try:
        if not todo:
            results: Iterator = iter(())
        elif scheduler == "synchronous":
            stream = PatternStream(config, seed, "cpu", cache_dir=cache_dir)
            results = _run_synchronous(stream, path, todo)
        else:
            client, cluster = _client(scheduler, n_workers, memory_per_worker_gib)
            results = _run_dask(client, path, config, seed, todo, cache_dir)
        for finished in results:
            for key, digest, n in finished:
                record_chunk(path, key, digest)
                written[key] = digest
                counts[key] = n
                bar.update(n)
                if on_chunk is not None:
                    on_chunk(key)
    finally:
        bar.close()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    all_chunks = {**done, **written}
    complete = len(all_chunks) == len(expected_chunks(manifest))
    if complete and (written or not manifest["complete"]):
        finish_store(path, all_chunks)
    seconds = time.perf_counter() - t0
    n_written = sum(n for key, n in counts.items())
    return {
        "store": str(path),
        "format": STORE_FORMAT,
        "complete": complete,
        "chunks_written": len(written),
        "chunks_kept": len(done),
        "patterns_written": n_written,
        "seconds": seconds,
        "patterns_per_second": n_written / seconds if seconds > 0 else None,
    }


def _first_chunks(
    todo: dict[int, list[tuple[int, int, int]]], max_chunks: int
) -> dict[int, list[tuple[int, int, int]]]:
    out: dict[int, list[tuple[int, int, int]]] = {}
    left = max(0, int(max_chunks))
    for k, blocks in todo.items():
        if left == 0:
            break
        out[k] = blocks[:left]
        left -= len(out[k])
    return out
