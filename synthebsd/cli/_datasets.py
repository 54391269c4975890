"""Commands of the training-data stores: generate, verify, export.

Each command imports what it needs when it runs (``# lazy``): see :mod:`synthebsd.cli`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from synthebsd.cli._errors import exit_on_user_error
from synthebsd.cli._options import CACHE_DIR

__all__ = ["generate", "verify", "export"]


def generate(
    config: Path = typer.Argument(
        ..., help="data-set YAML config (synthebsd.config.DatasetConfig)"
    ),
    out: Path = typer.Option(..., "--out", help="output store (a Zarr folder)"),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="data-set seed (default: the store's with --resume, else 0)"
    ),
    resume: bool = typer.Option(
        False, "--resume", help="continue an interrupted store (finished chunks re-verified)"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing store"),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="dask.distributed scheduler ADDRESS (default: a LocalCluster sized to this "
        "machine; 'synchronous': this process only)",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="LocalCluster workers (default: one per core)"
    ),
    memory: float | None = typer.Option(
        None, "--memory-per-worker", help="LocalCluster memory limit per worker, GiB"
    ),
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    """Render a data set into a Zarr store: patterns, labels, manifest with a hash per chunk.

    Never overwrites an existing store unless --overwrite is given. Workers of an existing
    cluster (--scheduler) must see the store and the master-pattern cache.
    """
    # lazy: see synthebsd.cli
    from synthebsd.workflows import generate_dataset

    with exit_on_user_error(ValueError, OSError):
        summary = generate_dataset(
            config,
            out,
            seed=seed,
            resume=resume,
            overwrite=overwrite,
            scheduler=scheduler,
            n_workers=workers,
            memory_per_worker_gib=memory,
            cache_dir=cache_dir,
        )
    state = "complete" if summary["complete"] else "incomplete"
    rate = summary["patterns_per_second"]
    typer.echo(
        f"{summary['store']}: {state}, {summary['patterns_in_store']} patterns (seed "
        f"{summary['seed']}); wrote {summary['chunks_written']} chunks, kept "
        f"{summary['chunks_kept']}, {summary['seconds']:.1f} s"
        + (f", {rate:.0f} patterns/s" if rate else "")
    )


def verify(
    store: Path = typer.Argument(..., help="a store written by synthebsd generate"),
) -> None:
    """Re-hash every chunk of a store; name the corrupt and missing ones (exit code 1)."""
    # lazy: see synthebsd.cli
    from synthebsd.workflows import verify_dataset

    with exit_on_user_error(ValueError):
        report = verify_dataset(store)
    for entry in report["corrupt"] + report["missing"]:
        typer.echo(f"{entry['chunk']}: {entry['where']}: {entry['problem']}", err=True)
    verdict = "ok" if report["passed"] else "FAILED"
    typer.echo(
        f"{store}: {verdict}: {report['n_ok']}/{report['n_chunks']} chunks match, "
        f"{len(report['corrupt'])} corrupt, {len(report['missing'])} missing"
        + ("" if report["complete"] else " (store incomplete)")
    )
    if not report["passed"]:
        raise typer.Exit(1)


def export(
    store: Path = typer.Argument(..., help="a store written by synthebsd generate"),
    out_dir: Path = typer.Argument(..., help="output folder"),
    scene: int = typer.Option(..., "--scene", min=0, help="scene index"),
    to: str = typer.Option(
        ..., "--to", help="h5ebsd (patterns), ang (truth, EDAX) or orix (truth)"
    ),
) -> None:
    """Write one stored scene as kikuchipy h5ebsd, EDAX .ang or orix HDF5 into OUT_DIR."""
    # lazy: see synthebsd.cli
    from synthebsd.workflows import export_dataset_scene

    with exit_on_user_error(ValueError):
        path = export_dataset_scene(store, scene, to, out_dir)
    typer.echo(f"Wrote {path}")
