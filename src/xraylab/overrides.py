"""The one override grammar of every stage: ``key.path=value``.

Used by ``--set`` of every command, by ``xraylab run`` (``set:`` of a step) and by the generate sweep. A value
is parsed once, as YAML (``120`` → int, ``true`` → bool, ``[1, 2]`` → list, ``none`` → ``None``), and then
typed by the pydantic model it lands in when that model validates the result. Overrides arrive either as
strings (``"spectrum.kvp=90"``) or as already-typed pairs (``("spectrum.kvp", 90)``, e.g. a swept value read
from YAML), so a value is never turned back into text.

With ``model`` given, each path is checked against the model's fields before anything is set (an unknown field
is a one-line :class:`~xraylab.errors.ConfigError` naming the key and the valid fields), and setting a field
inside an optional section that is off (``grid.ratio=10`` while ``grid: none``) first switches the section on
with its defaults. Fields typed as free mappings (``dict[str, Any]``) accept any key below them.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Iterable, Mapping, Union

import yaml
from pydantic import BaseModel

from xraylab.errors import ConfigError

Override = Union[str, tuple[str, Any]]


def parse_value(text: str) -> Any:
    """A ``--set`` value as YAML (``"90"`` → 90, ``"none"`` → None); text that is not YAML stays text."""
    if not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_override(item: Override) -> tuple[list[str], Any]:
    """``"a.b=1"`` or ``("a.b", 1)`` → (``["a", "b"]``, ``1``); ``ConfigError`` for a malformed item."""
    if isinstance(item, tuple):
        key, value = item
    else:
        key, eq, text = str(item).partition("=")
        if not eq:
            raise ConfigError(f"--set {item!r} must look like key.sub=value (e.g. spectrum.kvp=90)")
        value = parse_value(text)
    key = str(key).strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"--set {item!r}: the key must be a dotted field path such as spectrum.kvp")
    return parts, value


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``Model``, ``Model | None``, ``Optional[Model]``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _is_free_mapping(annotation: Any) -> bool:
    """True for ``dict[...]`` / ``Mapping`` annotations (free keys below them), also inside ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping) or annotation is dict:
        return True
    if origin in (Union, types.UnionType):
        return any(_is_free_mapping(a) for a in typing.get_args(annotation))
    return False


def set_path(data: dict, parts: list[str], value: Any, model: type[BaseModel] | None = None,
             label: str = "--set") -> None:
    """Set ``data[parts[0]]…[parts[-1]] = value`` in place, creating mappings along the way.

    With ``model``, every step is checked against the model's fields (see the module docstring). Below a field
    typed as a free mapping, existing nested mappings are walked and the rest of the path becomes one dotted
    key (``sweep.grid.geometry.rotation_deg=…`` sets the key ``"geometry.rotation_deg"`` of ``sweep.grid``). A
    numeric part indexes into an existing list (``data.0.path=…``).
    """
    key = ".".join(parts)
    node: Any = data
    current = model
    i = 0
    while i < len(parts):
        part = parts[i]
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{label} {key}: {'.'.join(parts[:i])!r} is a list of {len(node)}; "
                                  f"use an index 0…{len(node) - 1}")
            if last:
                node[int(part)] = value
                return
            node, i = node[int(part)], i + 1
            continue
        field_model: type[BaseModel] | None = None
        free = current is None
        if current is not None:
            fields = current.model_fields
            if part not in fields:
                raise ConfigError(f"{label} {key}: unknown field {where!r}; choose one of {', '.join(fields)}")
            annotation = fields[part].annotation
            field_model = _model_of(annotation)
            free = _is_free_mapping(annotation)
            if not last and field_model is None and not free and not isinstance(node.get(part), list):
                raise ConfigError(f"{label} {key}: {where!r} is a value, not a section")
        if last:
            node[part] = value
            return
        nxt = node.get(part)
        if isinstance(nxt, list):
            node, current, i = nxt, _list_item_model(current, part), i + 1
            continue
        if not isinstance(nxt, dict):
            # An absent or switched-off section: start from its defaults when the model has them.
            nxt = field_model().model_dump() if field_model is not None and _has_defaults(field_model) else {}
            node[part] = nxt
        if free and current is not None:
            _set_free(nxt, parts[i + 1:], value)
            return
        node, current, i = nxt, field_model, i + 1


def _set_free(node: dict, rest: list[str], value: Any) -> None:
    """Below a free mapping: walk existing nested mappings, then set the remaining dotted key."""
    j = 0
    while j < len(rest) - 1 and isinstance(node.get(rest[j]), dict):
        node = node[rest[j]]
        j += 1
    node[".".join(rest[j:])] = value


def _list_item_model(model: type[BaseModel] | None, name: str) -> type[BaseModel] | None:
    """The item model of a ``list[Model]`` field ``name`` of ``model`` (None when not a model list)."""
    if model is None:
        return None
    args = typing.get_args(model.model_fields[name].annotation)
    for arg in args:
        found = _model_of(arg) or next((m for m in map(_model_of, typing.get_args(arg)) if m), None)
        if found is not None:
            return found
    return None


def _has_defaults(model: type[BaseModel]) -> bool:
    return all(not f.is_required() for f in model.model_fields.values())


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[Override], model: type[BaseModel] | None = None,
                    label: str = "--set") -> dict[str, Any]:
    """A deep copy of ``data`` with every override set (later overrides win). Validation is the caller's."""
    out = deep_merge({}, dict(data))
    for item in overrides:
        parts, value = parse_override(item)
        set_path(out, parts, value, model, label)
    return out


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in: nested mappings merge key by key, anything else is replaced."""
    out: dict[str, Any] = {}
    for k, v in base.items():
        out[k] = deep_merge({}, v) if isinstance(v, Mapping) else v
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, Mapping):
            out[k] = deep_merge({}, v)
        else:
            out[k] = v
    return out


def mapping_to_overrides(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{spectrum: {kvp: 90}, grid: none}`` → ``[("spectrum.kvp", 90), ("grid", "none")]`` (typed pairs).

    Keys may already be dotted (``{"spectrum.kvp": 90}``). An empty mapping is kept as a value (``{}``).
    """
    out: list[tuple[str, Any]] = []
    for k, v in mapping.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.extend(mapping_to_overrides(v, key + "."))
        else:
            out.append((key, v))
    return out


def as_overrides(value: Iterable[str] | Mapping[str, Any] | None) -> list[Override]:
    """Overrides given as a list of ``key=value`` strings or as a (nested or dotted) mapping → one list."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(mapping_to_overrides(value))
    if isinstance(value, str):
        return [value]
    return list(value)
