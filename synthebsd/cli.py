"""Command-line interface: ``synthebsd demo``."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _main() -> None:
    """synthebsd: synthetic EBSD ground truth for Li/Na metal anodes."""


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="output folder"),
    seed: int = typer.Option(0, "--seed", min=0, help="random seed (scene and noise)"),
    config: Path | None = typer.Option(
        None, "--config", help="YAML study config to use instead of the default"
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="master-pattern cache folder"),
) -> None:
    """Run the default end-to-end study: scene, patterns, Hough + dictionary indexing, errors."""
    from synthebsd.config import ConfigError, StudyConfig, load_config
    from synthebsd.study import format_summary, run_study

    try:
        cfg = load_config(config) if config is not None else StudyConfig()
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    cfg = cfg.model_copy(update={"seed": seed})
    summary = run_study(cfg, out, cache_dir)
    typer.echo("")
    typer.echo(format_summary(summary))
    typer.echo(f"\nOutputs written to {out.resolve()}")
