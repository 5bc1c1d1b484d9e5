"""The validated configuration of the whole physics chain.

``PhysicsConfig`` nests one pydantic model per stage (all ``extra='forbid'``). Build it with
:func:`make_physics_config` (or from a preset with :func:`xraylab.physics.presets.resolve_preset`) so that
validation errors become a :class:`xraylab.errors.ConfigError` whose message names the field path
(``spectrum.kvp: ...``), and change it with :func:`with_overrides` (the CLI's ``--set key.sub=value``).
``grid: none`` / ``scatter: none`` remove the grid / the scatter model.
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xraylab.errors import ConfigError
from xraylab.overrides import Override
from xraylab.overrides import apply_overrides as override_mapping
from xraylab.physics.collimation import CollimationConfig
from xraylab.physics.detector import DetectorConfig
from xraylab.physics.dose import DoseConfig
from xraylab.physics.focal_spot import FocalSpotConfig
from xraylab.physics.grid import GridConfig
from xraylab.physics.heel import HeelConfig
from xraylab.physics.materials import MaterialConfig
from xraylab.physics.postprocess import PostProcessConfig
from xraylab.physics.scatter import ScatterConfig
from xraylab.physics.spectrum import SpectrumConfig
from xraylab.specs import describe_validation_error

_NONE_WORDS = {"none", "off", "no", "false", "null", ""}


class PhysicsConfig(BaseModel):
    """Every physics setting of one simulated acquisition (the geometry is passed separately)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    spectrum: SpectrumConfig = Field(default_factory=SpectrumConfig)
    heel: HeelConfig = Field(default_factory=HeelConfig)
    focal_spot: FocalSpotConfig = Field(default_factory=FocalSpotConfig)
    collimation: CollimationConfig = Field(default_factory=CollimationConfig)
    scatter: ScatterConfig | None = Field(default_factory=ScatterConfig, description="None: no scatter")
    grid: GridConfig | None = Field(default_factory=GridConfig, description="None: no anti-scatter grid")
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    postprocess: PostProcessConfig = Field(default_factory=PostProcessConfig)
    dose: DoseConfig = Field(default_factory=DoseConfig, description="dose reporting (xraylab.physics.dose)")
    materials: MaterialConfig = Field(
        default_factory=MaterialConfig, exclude_if=lambda v: v == MaterialConfig(),
        description="HU → material thresholds, metal alloy, iodinated contrast (xraylab.physics.materials); they "
                    "shape the CT's volumes, so a scene is built for them")

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


def with_overrides(config: PhysicsConfig, overrides: Iterable[Override]) -> PhysicsConfig:
    """``config`` with ``key.sub=value`` overrides applied (the grammar of :mod:`xraylab.overrides`).

    Setting a field of a section that is off (``grid.ratio=10`` with ``grid: none``) switches the section on
    with its defaults first. Unknown keys and invalid values raise ``ConfigError`` naming the key.
    """
    data = override_mapping(config.model_dump(), overrides, model=PhysicsConfig)
    try:
        return PhysicsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid override: {describe_validation_error(exc)}") from None
