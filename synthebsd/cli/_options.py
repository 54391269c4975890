"""Options that several commands share, declared once."""

from __future__ import annotations

import typer

__all__ = ["CACHE_DIR"]

#: ``--cache-dir``: the master-pattern cache of every command that renders or indexes.
CACHE_DIR = typer.Option(
    None,
    "--cache-dir",
    help="master-pattern cache folder (default $SYNTHEBSD_CACHE or ~/.cache/synthebsd)",
)
