"""Command-line interface: ``synthebsd demo``, ``scene``, ``index``, ``predict``, ``train``,
``calibrate``, ``evaluate``, ``masterpattern``, ``gallery``, ``benchmark``, ``insitu``, and for training
data ``generate``, ``verify`` and ``export``.

Each command imports what it needs when it runs (``# lazy`` in the command modules): the
EBSD stack (kikuchipy, torch) takes seconds to import, and ``synthebsd --help`` should not
wait for it. Commands live in one module per stage and are registered here, by name.
"""

from __future__ import annotations

import typer

from synthebsd.cli._datasets import export, generate, verify
from synthebsd.cli._indexing import index, predict
from synthebsd.cli._neural import calibrate, evaluate, train
from synthebsd.cli._study import demo, gallery, masterpattern, scene
from synthebsd.cli._validation import benchmark, insitu

__all__ = ["app"]

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])


@app.callback()
def _main() -> None:
    """synthebsd: synthetic EBSD ground truth for Li/Na metal anodes."""


# the order of `synthebsd --help`: the flow of data
for _name, _command in {
    "demo": demo,
    "scene": scene,
    "masterpattern": masterpattern,
    "gallery": gallery,
    "index": index,
    "predict": predict,
    "train": train,
    "calibrate": calibrate,
    "evaluate": evaluate,
    "generate": generate,
    "verify": verify,
    "export": export,
    "benchmark": benchmark,
    "insitu": insitu,
}.items():
    app.command(_name)(_command)
