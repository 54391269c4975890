"""What every configuration shares: strict frozen models, YAML reading, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["ConfigError", "StrictModel", "parse_yaml_mapping", "read_yaml_mapping", "validated"]


class ConfigError(ValueError):
    """Raised when a configuration file or value is invalid."""


class StrictModel(BaseModel):
    """Unknown fields are errors and values cannot change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML or does not hold a mapping; the message names
        the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist")
    return parse_yaml_mapping(path.read_text(), str(path))


def parse_yaml_mapping(text: str, label: str) -> dict[str, Any]:
    """Parse YAML text that must hold a mapping; ``label`` names its source in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{label} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{label} must hold a mapping of settings, got {type(data).__name__}")
    return data


def validated(model: type[BaseModel], data: Any, label: str) -> Any:
    """``model.model_validate(data)``, with a ConfigError naming each offending field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in e.errors()
        ]
        raise ConfigError(f"Invalid {label}:\n" + "\n".join(lines)) from e
