"""Reading YAML specs and turning pydantic validation errors into one-line ``ConfigError`` messages.

Shared by every stage's spec (generate, train, evaluate, pipeline) and the physics config, so that a bad
spec always reads ``<file>: invalid <kind> spec: <field.path>: <problem>; ...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from xraylab.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """``field.path: message; ...`` for every error of ``exc`` (validator-function frames dropped)."""
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
        path = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or "(top level)")
        parts.append(f"{path}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def validate_spec(model: type[M], raw: Any, source: str, kind: str) -> M:
    """Validate ``raw`` into ``model``; a failure raises ``ConfigError('<source>: invalid <kind> spec: ...')``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a {kind} spec must be a YAML mapping of fields, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid {kind} spec: {describe_validation_error(exc)}") from None


def read_yaml_mapping(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; missing file, bad YAML or a non-mapping → ``ConfigError``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: {kind} spec not found; give the path of a YAML spec (see simulations/)")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{p}: cannot parse the {kind} spec as YAML ({first})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: a {kind} spec must be a YAML mapping of fields, got {type(raw).__name__}")
    return raw
