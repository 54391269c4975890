"""What every configuration shares: strict frozen models, YAML reading, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "EXTENDS_KEY",
    "ConfigError",
    "StrictModel",
    "merged_mapping",
    "parse_yaml_mapping",
    "read_yaml_mapping",
    "validated",
]

#: The key with which a mapping in a YAML config, at any depth, names another YAML file
#: (relative to the file it is written in) whose mapping it extends.
EXTENDS_KEY = "extends"


class ConfigError(ValueError):
    """Raised when a configuration file or value is invalid."""


class StrictModel(BaseModel):
    """Unknown fields are errors and values cannot change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def merged_mapping(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, nested mappings key by key.

    Any other value of ``override`` (a list, a scalar, None) replaces ``base``'s.
    """
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged_mapping(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping, with its ``extends`` resolved.

    A mapping at any depth may hold ``extends: OTHER.yaml`` (a path relative to the file
    it is written in): it then stands for that file's mapping with its own settings merged
    in key by key (:func:`merged_mapping`); the other file may extend further. So one
    stage of a training curriculum is its predecessor's file plus what changes.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML or does not hold a mapping, or an ``extends``
        names a missing file, is not a path, or extends itself through a chain; the
        message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist")
    return _resolve_extends(parse_yaml_mapping(path.read_text(), str(path)), path, ())


def _resolve_extends(node: Any, path: Path, chain: tuple[Path, ...]) -> Any:
    """``node`` (read from ``path``) with every ``extends`` replaced by what it names."""
    if isinstance(node, list):
        return [_resolve_extends(item, path, chain) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _resolve_extends(value, path, chain) for key, value in node.items()}
    if EXTENDS_KEY not in node:
        return node
    name = node.pop(EXTENDS_KEY)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: '{EXTENDS_KEY}' must name a YAML file, got {name!r}")
    target = path.parent / name
    if not target.is_file():
        raise ConfigError(f"{path}: '{EXTENDS_KEY}: {name}' names {target}, which does not exist")
    here = (*chain, path.resolve())
    if target.resolve() in here:
        loop = " -> ".join(str(p) for p in (*here, target.resolve()))
        raise ConfigError(f"{path}: '{EXTENDS_KEY}' makes a loop: {loop}")
    base = parse_yaml_mapping(target.read_text(), str(target))
    return merged_mapping(_resolve_extends(base, target, here), node)


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
