"""The indexing-accuracy benchmark: every method over a grid of dose, damage and mismatch.

Each grid point × seed (:meth:`~synthebsd.config.BenchmarkConfig.points`) is one dask
task (:func:`run_point`): a scene of the point's cell preset, rendered with the point's
forward model and pattern physics, indexed by every method, each map written and scored
from the written file (:mod:`synthebsd.workflows._runs`). A task writes its folder
``points/<key>/seed<s>/`` (``truth.h5``, ``<method>.h5``, and last ``point.json``, atomic:
the point is done when it exists). ``resume`` keeps finished points. Tasks run on an
in-process dask cluster, or with ``scheduler`` on an existing ``dask.distributed`` cluster
(the same tasks, the same results); locally they are ``dask.delayed`` calls on the
threaded scheduler. The report (:mod:`synthebsd.workflows._benchmark_report`)
writes ``results.json``, ``results.csv``, ``summary.csv`` and the figures.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import dask
import yaml

from synthebsd import __version__
from synthebsd.config import BenchmarkConfig, BenchmarkPoint, StudyConfig
from synthebsd.conventions import SCENE_STREAM, stream_rng
from synthebsd.io import atomic_path, save_json
from synthebsd.simulate import generate_microstructure
from synthebsd.workflows._benchmark_report import write_report
from synthebsd.workflows._memory import PeakMemory
from synthebsd.workflows._runs import GRAIN_SETTINGS, index_run, score_run

__all__ = ["point_study_config", "run_benchmark", "run_point"]


def point_study_config(config: BenchmarkConfig, point: BenchmarkPoint, seed: int) -> StudyConfig:
    """The study configuration of one grid point and seed (validated again as a whole).

    The benchmark's ``study`` with the point's scene (preset at the benchmark's map
    size, ``scene_overrides`` merged in), dose, damage (off, or on with every critical
    dose × ``point.damage``), indexer engine and PC error, and the indexing methods of
    ``config.methods``.
    """
    data = config.study.model_dump(mode="json")
    data["seed"] = seed
    data["scene"] = {
        "preset": point.preset,
        "shape_px": list(config.shape_px),
        "step_size_um": config.step_size_um,
        **config.scene_overrides,
    }
    patterns = data["patterns"]
    patterns["dose_counts"] = point.dose_counts
    damage = patterns["damage"]
    damage["enabled"] = point.damage is not None
    if point.damage is not None:
        damage["critical_dose_e_per_nm2"] = {
            k: v * point.damage for k, v in damage["critical_dose_e_per_nm2"].items()
        }
        damage["default_critical_dose_e_per_nm2"] *= point.damage
    data["indexer"] |= {"engine": point.indexer_engine, "pc_error": point.pc_error}
    data["indexing"] |= {
        "hough": "hough" in config.methods,
        "dictionary": "dictionary" in config.methods,
        "refine": "refined" in config.methods,
        "kinematical_dictionary": False,
    }
    data["forward_models"] = [point.forward_model]
    return StudyConfig.model_validate(data)


def _point_dir(out: Path, point: BenchmarkPoint, seed: int) -> Path:
    return out / "points" / point.key() / f"seed{seed}"


def run_point(
    config: BenchmarkConfig,
    point: BenchmarkPoint,
    seed: int,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    example: bool = False,
) -> dict[str, Any]:
    """Run one grid point for one seed; write its folder and return its record.

    Returns
    -------
    record
        ``key``, ``point`` (the axis values), ``seed``, ``n_patterns``,
        ``candidate_phases``, ``grain_settings``, ``methods`` (per method its metrics,
        seconds and patterns/s), ``render_patterns_per_second``, ``seconds`` (the whole
        task) and ``peak_rss_gib`` (this process's peak resident memory during the task).
    """
    t0 = time.perf_counter()
    folder = _point_dir(Path(out_dir), point, seed)
    folder.mkdir(parents=True, exist_ok=True)
    study = point_study_config(config, point, seed)
    # Dask inside the task (rendering, kikuchipy) runs on threads, never on the cluster
    # that runs the task itself (a worker waiting for its own sub-tasks deadlocks).
    with dask.config.set(scheduler="threads"), PeakMemory() as memory:
        truth = generate_microstructure(study.scene, stream_rng(seed, SCENE_STREAM))
        results, im, info = index_run(
            study,
            truth,
            point.forward_model,
            config.methods,
            config.neural_checkpoint,
            cache_dir,
            patterns_path=folder / "patterns.h5" if config.save_patterns else None,
        )
        methods = score_run(truth, results, im, folder)
        if example:
            _example_maps(truth, results, folder)
    record = {
        "key": point.key(),
        "point": point.model_dump(mode="json"),
        "seed": seed,
        "n_patterns": truth.size,
        "candidate_phases": im.phase_names,
        "grain_settings": dict(GRAIN_SETTINGS),
        "methods": methods,
        "neural_skipped": info["neural_skipped"],
        "render_patterns_per_second": info["render_patterns_per_second"],
        "seconds": time.perf_counter() - t0,
        "peak_rss_gib": memory.peak_gib,
    }
    save_json(record, folder / "point.json")
    return record


def _example_maps(truth, results, folder: Path) -> None:
    from synthebsd.analyze import orientation_error_map
    from synthebsd.viz import plot_error_map, plot_ipf_map

    plot_ipf_map(truth, folder / "truth_ipf.png", "Ground truth (IPF-Z)")
    for name, res in results.items():
        plot_ipf_map(res.xmap, folder / f"{name}_ipf.png", f"{name} (IPF-Z)")
        err = orientation_error_map(truth, res.xmap)
        plot_error_map(truth, err, folder / f"{name}_error.png", f"{name}: error to truth")


def _done(folder: Path) -> dict[str, Any] | None:
    """The record of a finished point, or None (missing or unreadable: run it again)."""
    path = folder / "point.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run_local(args: list[tuple], workers: int, bar) -> dict[tuple[str, int], dict]:
    """The tasks as dask.delayed calls on the threaded scheduler (``workers`` threads)."""
    lock = threading.Lock()

    def task(*a):
        rec = run_point(*a)
        with lock:
            bar.update()
        return rec

    tasks = [dask.delayed(task, pure=False)(*a) for a in args]
    done = dask.compute(*tasks, scheduler="threads", num_workers=workers)
    return {(r["key"], r["seed"]): r for r in done}


def _run_distributed(args: list[tuple], address: str, bar) -> dict[tuple[str, int], dict]:
    """The tasks on an existing dask.distributed cluster, collected as they finish."""
    from dask.distributed import Client, as_completed

    out = {}
    with Client(address, set_as_default=False) as client:
        futures = [
            client.submit(run_point, *a, key=f"benchmark-{a[1].key()}-seed{a[2]}", pure=False)
            for a in args
        ]
        for future in as_completed(futures, loop=client.loop):
            rec = future.result()
            out[(rec["key"], rec["seed"])] = rec
            bar.update()
    return out


def run_benchmark(
    config: BenchmarkConfig | None = None,
    out_dir: str | Path = "benchmark-output",
    quick: bool = False,
    resume: bool = False,
    scheduler: str | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark's grid and write its results and figures to ``out_dir``.

    Parameters
    ----------
    config
        Benchmark configuration; default :class:`~synthebsd.config.BenchmarkConfig`.
    out_dir
        Output folder.
    quick
        Run :meth:`~synthebsd.config.BenchmarkConfig.quick` instead (minutes).
    resume
        Keep the points already finished in ``out_dir`` (their ``point.json``); the
        configuration must be the one they were made with.
    scheduler
        Address of a ``dask.distributed`` scheduler to run the points on; default
        dask's threaded scheduler with ``config.workers`` threads in this process.
    cache_dir
        Master-pattern cache folder (must be readable by every worker).

    Returns
    -------
    results
        The dictionary written to ``results.json``.
    """
    from tqdm.auto import tqdm

    config = config or BenchmarkConfig()
    if quick:
        config = config.quick()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dumped = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    config_path = out / "config.yaml"
    if resume and config_path.is_file() and config_path.read_text() != dumped:
        raise ValueError(
            f"--resume: {config_path} holds another configuration than this run's; "
            "use a new --out folder or the same configuration"
        )
    with atomic_path(config_path) as tmp:
        tmp.write_text(dumped)
    tasks = [(p, s) for p in config.points() for s in config.seeds]
    for point in config.points():  # a bad point fails here, with its message, not in a task
        try:
            point_study_config(config, point, config.seeds[0])
        except ValueError as e:
            raise ValueError(f"grid point {point.key()}: {e}") from e
    examples = {p.key() for p in config.points()[: config.example_maps]}
    records: dict[tuple[str, int], dict] = {}
    todo = []
    for point, seed in tasks:
        rec = _done(_point_dir(out, point, seed)) if resume else None
        if rec is not None:
            records[(point.key(), seed)] = rec
        else:
            todo.append((point, seed))
    print(
        f"[synthebsd] benchmark: {len(config.points())} grid points × {len(config.seeds)} "
        f"seeds = {len(tasks)} tasks; {len(records)} done, {len(todo)} to run",
        flush=True,
    )
    t0 = time.perf_counter()
    args = [
        (
            config,
            point,
            seed,
            str(out.resolve()),
            None if cache_dir is None else str(cache_dir),
            seed == config.seeds[0] and point.key() in examples,
        )
        for point, seed in todo
    ]
    with tqdm(total=len(args), desc="grid points", unit="task") as bar:
        if scheduler is None:
            records |= _run_local(args, config.workers, bar)
        else:
            records |= _run_distributed(args, scheduler, bar)
    ordered = [records[(p.key(), s)] for p, s in tasks]
    return write_report(
        config,
        ordered,
        out,
        {
            "synthebsd": __version__,
            "run_s": time.perf_counter() - t0,
            "scheduler": scheduler or f"local threads ({config.workers})",
            "resumed_tasks": len(tasks) - len(todo),
        },
    )
