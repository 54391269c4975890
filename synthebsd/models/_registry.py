"""The model registry: every network by name, listed in one table (no import side effects).

Like timm's ``list_models`` / ``create_model``, but the table below is the registry:
nothing registers itself when a module is imported, so what exists is what is written
here, and a test builds each entry.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from synthebsd.config import OrientationNetConfig, SegmentationNetConfig
from synthebsd.config._base import validated
from synthebsd.models._networks import OrientationNet, SegmentationNet

__all__ = ["ModelEntry", "UnknownModelError", "create_model", "list_models", "model_config"]


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its class, config class, default settings and a description."""

    cls: type[nn.Module]
    config_cls: type
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


_REGISTRY: dict[str, ModelEntry] = {
    "orientation_cnn_tiny": ModelEntry(
        OrientationNet,
        OrientationNetConfig,
        {"channels": (8, 16, 32), "blocks_per_stage": 1, "embedding_dim": 64},
        "3 stages of 8-32 channels, one convolution each: tests and quick experiments",
    ),
    "orientation_cnn_small": ModelEntry(
        OrientationNet,
        OrientationNetConfig,
        {},
        "4 × 4 patch layer, 3 stages of 32-128 channels, 2 convolutions each: CPU default",
    ),
    "orientation_cnn_base": ModelEntry(
        OrientationNet,
        OrientationNetConfig,
        {"channels": (64, 128, 256), "blocks_per_stage": 3, "embedding_dim": 512},
        "3 stages of 64-256 channels, 3 convolutions each: for GPU training",
    ),
    "segmentation_unet_tiny": ModelEntry(
        SegmentationNet,
        SegmentationNetConfig,
        {"encoder_channels": (4, 8), "embedding_dim": 8, "unet_channels": (16, 32)},
        "2-level U-Net on 8-D pattern embeddings: tests",
    ),
    "segmentation_unet_small": ModelEntry(
        SegmentationNet,
        SegmentationNetConfig,
        {},
        "3-level U-Net on 16-D pattern embeddings and 3 pattern statistics",
    ),
}


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (``"orientation_*"``), sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def _entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise UnknownModelError(
            f"Unknown model {name!r}; registered models: {', '.join(list_models())}"
        )
    return _REGISTRY[name]


def model_config(name: str, **kwargs: Any):
    """The validated config of model ``name`` with ``kwargs`` overriding its defaults.

    Raises
    ------
    UnknownModelError
        If ``name`` is not registered.
    synthebsd.config.ConfigError
        If an override is not a field of the model's config or is out of range.
    """
    entry = _entry(name)
    return validated(entry.config_cls, {**entry.defaults, **kwargs}, f"settings of {name}")


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model (weights from torch's global generator: seed it first).

    Parameters
    ----------
    name
        A name from :func:`list_models`.
    **kwargs
        Overrides of the model's config fields (e.g. ``input_shape_px=(80, 80)``).

    Returns
    -------
    model
        The network, with ``model.config`` and ``model.model_name`` set.
    """
    config = model_config(name, **kwargs)
    model = _entry(name).cls(config)
    model.model_name = name
    return model
