"""The default checkpoint shipped with the package, and how a setting names a checkpoint.

The shipped checkpoint (``default_orientation.safetensors``, package data next to this
module) is an ``orientation_cnn_small`` for the demo cell (Cu | Li | LLZTO, 60 × 60
patterns, projection centres around the demo's, 25–2,000 counts per pixel), trained by
``synthebsd train`` in four stages (``default_pretrain.yaml``, :data:`DEFAULT_TRAIN_CONFIG`,
then ``default_finetune.yaml`` and ``default_refine.yaml`` on two stored sets of the same
stream) and calibrated by ``synthebsd calibrate`` on their held-out stream (the README
gives the commands); its metadata records what it covers.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = [
    "DEFAULT_TRAIN_CONFIG",
    "SHIPPED_CHECKPOINT",
    "resolve_checkpoint",
    "shipped_checkpoint",
]

#: File name of the shipped checkpoint inside ``synthebsd.models``.
SHIPPED_CHECKPOINT = "default_orientation.safetensors"
#: The training configuration that made it (package data).
DEFAULT_TRAIN_CONFIG = "default_train.yaml"


def _package_file(name: str) -> Path:
    return Path(str(resources.files("synthebsd.models").joinpath(name)))


def shipped_checkpoint() -> Path:
    """Path of the shipped default orientation checkpoint.

    Raises
    ------
    FileNotFoundError
        If this installation has no shipped checkpoint (e.g. a source tree without it).
    """
    path = _package_file(SHIPPED_CHECKPOINT)
    if not path.is_file():
        raise FileNotFoundError(
            f"This synthebsd has no shipped checkpoint ({path}); train one with "
            f"`synthebsd train {_package_file(DEFAULT_TRAIN_CONFIG)} --out DIR`"
        )
    return path


def resolve_checkpoint(value: str | Path) -> Path:
    """``"shipped"`` → :func:`shipped_checkpoint`; anything else is a path (must exist)."""
    if str(value) == "shipped":
        return shipped_checkpoint()
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint file {path}")
    return path
