"""Heel effect: fluence and spectrum varying along the anode–cathode axis (REFERENCES.md §5).

Model: spekpy's own off-axis spectra. For sample positions a along the anode–cathode axis in the detector
plane (distance SID) we take the spekpy spectrum at x = a (spekpy's anode–cathode coordinate, negative towards
the anode) and divide it by the spectrum at the same distance off-axis *across* the axis (spekpy y = a).
The ratio keeps only the anode self-filtration and the anode-angle geometry (the heel effect); inverse square
and obliquity are applied separately for every pixel (:func:`xraylab.physics.spectrum.pixel_obliquity`).
The per-energy ratio is interpolated linearly between the sample positions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from xraylab.physics.spectrum import SpectrumConfig, filters_key, make_spek, spectrum_at, spectrum_cached
from xraylab.physics.table_cache import disk_memo

# Which image side the anode points to → (image axis, sign mapping detector coordinate to spekpy x).
# Detector coordinates (geometry.py): u grows to the image right (columns), v grows down (rows).
_ANODE_SIDES = {"top": ("v", 1.0), "bottom": ("v", -1.0), "left": ("u", 1.0), "right": ("u", -1.0)}


class HeelConfig(BaseModel):
    """Heel-effect switch and orientation of the anode–cathode axis on the image."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = True
    anode_side: Literal["top", "bottom", "left", "right"] = Field(
        "top", description="image side towards the anode (the side with less, harder fluence)"
    )
    n_samples: int = Field(9, ge=3, le=65, description="spekpy sample positions across the detector")

    @property
    def axis(self) -> Literal["vertical", "horizontal"]:
        """Image axis of the anode–cathode direction (vertical = along rows)."""
        return "vertical" if self.anode_side in ("top", "bottom") else "horizontal"


def heel_ratio_table(spec: SpectrumConfig, sid_mm: float, positions_mm) -> np.ndarray:
    """Heel factor per energy bin, ``[E, K]``, at spekpy positions ``positions_mm`` (x, mm at distance SID).

    1 on the central ray; the factor of the off-axis spectrum along the anode–cathode axis relative to the one
    at the same distance across it (so inverse square cancels).
    """
    key = (float(spec.kvp), spec.anode, float(spec.anode_angle_deg), filters_key(spec.filtration),
           float(spec.bin_keV), float(sid_mm) / 10.0)
    cols = []
    for a in positions_mm:
        _, along, *_ = spectrum_at(spectrum_cached, *key, round(float(a), 3) / 10.0)
        _, across, *_ = spectrum_at(_spectrum_cached_y, *key, abs(round(float(a), 3)) / 10.0)
        cols.append(np.where(across > 0, along / np.maximum(across, 1e-300), 1.0))
    return np.stack(cols, axis=1)


@disk_memo("spectrum_y")
def _spectrum_cached_y(kvp, anode, angle, filters, bin_keV, z_cm, y_cm):
    """Spectrum displaced across the anode–cathode axis (spekpy y): the symmetric reference for the heel ratio."""
    s = make_spek(kvp, anode, angle, filters, bin_keV, z_cm)
    s.set(x=0.0, y=y_cm)
    try:
        k, phi = s.get_spectrum()
    finally:
        s.set(x=0.0, y=0.0)
    return np.asarray(k), np.nan_to_num(np.asarray(phi, dtype=np.float64)) * bin_keV / 100.0


def heel_map(spec: SpectrumConfig, cfg: HeelConfig, geometry, device: torch.device | str = "cpu") -> torch.Tensor:
    """Per-pixel, per-energy heel factor, float32, broadcastable to ``[1, E, H, W]``.

    Shape ``[1, E, H, 1]`` for a vertical anode–cathode axis, ``[1, E, 1, W]`` for a horizontal one.
    With ``cfg.enabled`` false or a monoenergetic spectrum, a scalar-like ``[1, 1, 1, 1]`` of ones.
    """
    if not cfg.enabled or spec.monoenergetic_keV is not None:
        return torch.ones(1, 1, 1, 1, device=device)
    axis, sign = _ANODE_SIDES[cfg.anode_side]
    n = geometry.rows if axis == "v" else geometry.cols
    off = geometry.principal_point_mm[1 if axis == "v" else 0]
    coord = (np.arange(n) - (n - 1) / 2) * geometry.pitch_mm + off  # detector coordinate, mm
    x = sign * coord  # spekpy x (negative → anode)
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        samples = np.array([lo])
    else:
        samples = np.linspace(lo, hi, cfg.n_samples)
    table = heel_ratio_table(spec, geometry.sid_mm, samples)  # [E, K]
    if len(samples) == 1:
        per_pixel = np.repeat(table, n, axis=1)
    else:
        per_pixel = np.stack([np.interp(x, samples, row) for row in table])  # [E, n]
    t = torch.as_tensor(per_pixel, dtype=torch.float32, device=device)
    return t[None, :, :, None] if axis == "v" else t[None, :, None, :]
