"""Commands of the validation runs: the indexing benchmark and the in-situ sequence.

Each command imports what it needs when it runs (``# lazy``): see :mod:`synthebsd.cli`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from synthebsd.cli._errors import exit_on_user_error
from synthebsd.cli._options import CACHE_DIR

__all__ = ["benchmark", "insitu"]


def benchmark(
    config: Path | None = typer.Argument(
        None, help="YAML benchmark config (default: the built-in grid)"
    ),
    out: Path = typer.Option(..., "--out", help="output folder"),
    quick: bool = typer.Option(False, "--quick", help="the small quick grid (minutes)"),
    resume: bool = typer.Option(False, "--resume", help="keep grid points already finished"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="dask.distributed scheduler address (default: in-process)"
    ),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Indexing-accuracy benchmark: every method over dose, damage and model mismatch."""
    # lazy: see synthebsd.cli
    from synthebsd.config import BenchmarkConfig, load_benchmark_config
    from synthebsd.workflows import run_benchmark

    with exit_on_user_error():
        cfg = load_benchmark_config(config) if config is not None else BenchmarkConfig()
        results = run_benchmark(cfg, out, quick, resume, scheduler, cache_dir)
    typer.echo(
        f"{results['n_tasks']} tasks ({results['resumed_tasks']} resumed) in "
        f"{results['run_s']:.0f} s; results.json, results.csv, summary.csv and "
        f"{len(results['figures'])} figures in {out.resolve()}"
    )


def insitu(
    config: Path | None = typer.Argument(
        None, help="YAML in-situ config (default: the built-in run)"
    ),
    out: Path = typer.Option(..., "--out", help="output folder"),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """In-situ validation: plating and stripping frames with accumulating beam damage."""
    # lazy: see synthebsd.cli
    from synthebsd.config import InsituConfig, load_insitu_config
    from synthebsd.workflows import run_insitu

    with exit_on_user_error():
        cfg = load_insitu_config(config) if config is not None else InsituConfig()
        results = run_insitu(cfg, out, cache_dir)
    typer.echo(
        f"{results['n_frames_indexed']} frames indexed in {results['run_s']:.0f} s; "
        f"insitu.json and figures in {out.resolve()}"
    )
