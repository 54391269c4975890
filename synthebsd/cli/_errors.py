"""One way for every command to refuse bad input: ``error: ...`` on stderr, exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

__all__ = ["exit_on_user_error", "refuse"]


def _message(error: BaseException) -> str:
    from synthebsd.config import ConfigError  # lazy: see synthebsd.cli

    # A ConfigError lists one problem per line; other messages fold onto one line.
    text = str(error) if isinstance(error, ConfigError) else " ".join(str(error).split())
    return text or type(error).__name__


def refuse(message: str) -> typer.Exit:
    """Print ``error: message`` to stderr and return the exit (code 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@contextmanager
def exit_on_user_error(*errors: type[BaseException]) -> Iterator[None]:
    """Turn the given exceptions (default ``ValueError`` and ``FileNotFoundError``: bad
    configs, files, phases and checkpoints) into ``error: ...`` and exit code 2.

    ``ConfigError``, ``StoreError``, ``CheckpointError`` and pydantic's ``ValidationError``
    are ``ValueError``\\ s.
    """
    caught = errors or (ValueError, FileNotFoundError)
    try:
        yield
    except caught as e:
        raise refuse(_message(e)) from e
