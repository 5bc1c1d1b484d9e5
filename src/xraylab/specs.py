"""Reading YAML specs and turning pydantic validation errors into one-line ``ConfigError`` messages.

Shared by every stage's spec (generate, train, evaluate, pipeline) and the physics config, so that a bad
spec always reads ``<file>: invalid <kind> spec: <field.path>: <problem>; ...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from xraylab.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def added_field(default: Any, description: str, **constraints: Any) -> Any:
    """A spec field added after specs were in use: left out of the spec's dump while it holds ``default``, so the
    fingerprints of datasets and runs made before it existed do not change."""
    return Field(default, exclude_if=lambda v: v == default, description=description, **constraints)


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


MAX_SPEC_BYTES = 1 << 20  # 1 MiB: the largest shipped spec is ~10 kB
MAX_SPEC_NODES = 200_000  # YAML nodes with every alias expanded: a spec is hundreds; an alias bomb is billions


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice (a later one would silently win)."""

    def compose_mapping_node(self, anchor):  # type: ignore[no-untyped-def]
        node = super().compose_mapping_node(anchor)
        seen: set[tuple[str, str]] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                if (key.tag, key.value) in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key.value!r}",
                                                            key.start_mark)
                seen.add((key.tag, key.value))
        return node


def _expanded_nodes(node: yaml.Node, memo: dict[int, int | None]) -> int:
    """Nodes in ``node`` with every alias expanded (shared nodes counted once per use), without expanding."""
    k = id(node)
    if k in memo:
        n = memo[k]
        if n is None:
            raise ConfigError("a YAML alias refers to the mapping or list that contains it (a cycle)")
        return n
    memo[k] = None
    if isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_nodes(a, memo) + _expanded_nodes(b, memo) for a, b in node.value)
    elif isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_nodes(c, memo) for c in node.value)
    else:
        n = 1
    memo[k] = n
    return n


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML ``text`` safely: no duplicate keys, at most :data:`MAX_SPEC_NODES` nodes after alias expansion.

    Raises ``ConfigError`` naming ``source`` for bad YAML, a duplicate key or an alias bomb.
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            n = _expanded_nodes(node, {})
        except RecursionError:
            n = MAX_SPEC_NODES + 1
        if n > MAX_SPEC_NODES:
            raise ConfigError(f"{source}: the YAML expands to more than {MAX_SPEC_NODES:,} values through its aliases "
                              "(&anchor / *alias); write the spec out plainly")
        return loader.construct_document(node)
    except ConfigError as exc:
        raise ConfigError(str(exc) if str(exc).startswith(source) else f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise ConfigError(f"{source}: cannot parse as YAML ({first})") from None
    finally:
        loader.dispose()


def read_yaml_mapping(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; missing file, bad YAML, duplicate keys, a file over
    :data:`MAX_SPEC_BYTES` or an alias bomb, or a non-mapping → ``ConfigError``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: {kind} spec not found; give the path of a YAML spec (see simulations/)")
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise ConfigError(f"{p}: the {kind} spec is {size / 2**20:.1f} MiB, more than a spec can be "
                              f"({MAX_SPEC_BYTES >> 20} MiB); is this the right file?")
        raw = load_yaml(p.read_text(encoding="utf-8"), f"{p}: {kind} spec")
    except (OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{p}: cannot parse the {kind} spec as YAML ({first})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: a {kind} spec must be a YAML mapping of fields, got {type(raw).__name__}")
    return raw
