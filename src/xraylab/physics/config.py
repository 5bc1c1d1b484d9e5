"""The validated configuration of the whole physics chain (issue 3).

``PhysicsConfig`` nests one pydantic model per stage (all ``extra='forbid'``). Build it with
:func:`make_physics_config` / :func:`load_physics_config` so that validation errors become a
:class:`xraylab.errors.ConfigError` whose message names the field path (``spectrum.kvp: ...``), and change it
with :func:`apply_overrides` (the CLI's ``--set key.sub=value``). ``grid: none`` / ``scatter: none`` remove the
grid / the scatter model.
"""

from __future__ import annotations

from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xraylab.errors import ConfigError
from xraylab.specs import describe_validation_error, read_yaml_mapping
from xraylab.physics.collimation import CollimationConfig
from xraylab.physics.detector import DetectorConfig
from xraylab.physics.focal_spot import FocalSpotConfig
from xraylab.physics.grid import GridConfig
from xraylab.physics.heel import HeelConfig
from xraylab.physics.postprocess import PostProcessConfig
from xraylab.physics.scatter import ScatterConfig
from xraylab.physics.spectrum import SpectrumConfig

_NONE_WORDS = {"none", "off", "no", "false", "null", ""}


class PhysicsConfig(BaseModel):
    """Every physics setting of one simulated acquisition (the geometry is passed separately)."""

    model_config = ConfigDict(extra="forbid")

    spectrum: SpectrumConfig = Field(default_factory=SpectrumConfig)
    heel: HeelConfig = Field(default_factory=HeelConfig)
    focal_spot: FocalSpotConfig = Field(default_factory=FocalSpotConfig)
    collimation: CollimationConfig = Field(default_factory=CollimationConfig)
    scatter: ScatterConfig | None = Field(default_factory=ScatterConfig, description="None: no scatter")
    grid: GridConfig | None = Field(default_factory=GridConfig, description="None: no anti-scatter grid")
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    postprocess: PostProcessConfig = Field(default_factory=PostProcessConfig)

    @field_validator("grid", "scatter", mode="before")
    @classmethod
    def _none_words(cls, v: Any) -> Any:
        if v is False or (isinstance(v, str) and v.strip().lower() in _NONE_WORDS):
            return None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "PhysicsConfig":
        if self.heel.enabled and self.focal_spot.enabled and self.heel.axis != self.focal_spot.length_axis:
            raise ValueError(
                f"heel.anode_side={self.heel.anode_side!r} puts the anode–cathode axis {self.heel.axis}, but "
                f"focal_spot.length_axis={self.focal_spot.length_axis!r}: set both to the same axis"
            )
        return self


def make_physics_config(data: dict | None = None, source: str | None = None, **fields) -> PhysicsConfig:
    """Validate ``data`` (and/or keyword fields) into a :class:`PhysicsConfig`; ``ConfigError`` names the field."""
    raw = dict(data or {})
    raw.update(fields)
    try:
        return PhysicsConfig.model_validate(raw)
    except ValidationError as exc:
        where = f" in {source}" if source else ""
        raise ConfigError(f"invalid physics config{where}: {describe_validation_error(exc)}") from None


def load_physics_config(path) -> PhysicsConfig:
    """Read a YAML physics config (optionally with ``preset: name`` as base) from ``path``."""
    from pathlib import Path

    p = Path(path)
    data = read_yaml_mapping(p, "physics")  # missing file, bad YAML / encoding, non-mapping → ConfigError
    preset = data.pop("preset", None)
    if preset is not None:
        from xraylab.physics.presets import preset_config

        base = preset_config(preset).model_dump()
        return make_physics_config(_deep_merge(base, data), source=str(p))
    return make_physics_config(data, source=str(p))


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


_SECTION_DEFAULTS = {"grid": GridConfig, "scatter": ScatterConfig}


def apply_overrides(config: PhysicsConfig, overrides: Iterable[str]) -> PhysicsConfig:
    """Apply ``key.sub=value`` overrides (values parsed as YAML: ``120``, ``true``, ``[1, 2]``, ``none``).

    Setting a field of a section that is off (``grid.ratio=10`` with ``grid: none``) switches the section on
    with its defaults first. Unknown keys and invalid values raise ``ConfigError`` naming the key.
    """
    data = config.model_dump()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        key, _, text = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        parts = key.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None and isinstance(node, dict) and i == 0 and part in _SECTION_DEFAULTS:
                nxt = _SECTION_DEFAULTS[part]().model_dump()
                node[part] = nxt
            if not isinstance(nxt, dict):
                if isinstance(node, dict) and part not in node:
                    raise ConfigError(f"--set {key}: unknown field {'.'.join(parts[: i + 1])!r}")
                raise ConfigError(f"--set {key}: {'.'.join(parts[: i + 1])!r} is not a section")
            node = nxt
        if isinstance(node, dict) and parts[-1] not in node and len(parts) > 1:
            raise ConfigError(f"--set {key}: unknown field {key!r}")
        node[parts[-1]] = value
    try:
        return PhysicsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid override: {describe_validation_error(exc)}") from None
