"""Analytic CT phantoms (water sphere, cylinder, slab, left-side marker) for validation and tests.

Every phantom is a :class:`~xraylab.io.ct.CTVolume` in HU on an isotropic grid
centred at the physical origin (LPS, mm), with a label map naming its parts.
Air is −1000 HU, water 0 HU. Edges are voxelised at voxel centres (no partial
volume); choose radii of the form (k + ½)·spacing to make chords through voxel
centres exact.
"""

from __future__ import annotations

import numpy as np
import torch

from xraylab.io.ct import CTVolume

AIR_HU = -1000.0


def _grid(n: int, spacing_mm: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ax = (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) * spacing_mm
    x, y, z = torch.meshgrid(ax, ax, ax, indexing="ij")
    return x, y, z


def _volume(hu: torch.Tensor, labels: torch.Tensor, names: dict[int, str], n: int, sp: float, name: str) -> CTVolume:
    origin = tuple(float(-(n - 1) / 2 * sp) for _ in range(3))
    return CTVolume(hu=hu.float(), spacing=(sp, sp, sp), origin=origin, direction=np.eye(3),  # type: ignore[arg-type]
                    labels=labels.to(torch.int16), structures=names, name=name, source=f"phantom:{name}")


def sphere(radius_mm: float = 50.5, n: int = 121, spacing_mm: float = 1.0, hu: float = 0.0,
           center_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> CTVolume:
    """A sphere of ``hu`` (default water) of ``radius_mm`` at ``center_mm`` in air; label 1 = ``sphere``."""
    x, y, z = _grid(n, spacing_mm)
    cx, cy, cz = center_mm
    inside = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius_mm**2
    return _volume(torch.where(inside, hu, AIR_HU), inside.to(torch.int16), {1: "sphere"}, n, spacing_mm, "sphere")


def cylinder(radius_mm: float = 40.5, n: int = 101, spacing_mm: float = 1.0, hu: float = 0.0) -> CTVolume:
    """A cylinder along the S–I (z) axis, full height, in air; label 1 = ``cylinder``."""
    x, y, _ = _grid(n, spacing_mm)
    inside = x**2 + y**2 <= radius_mm**2
    return _volume(torch.where(inside, hu, AIR_HU), inside.to(torch.int16), {1: "cylinder"}, n, spacing_mm, "cylinder")


def slab(thickness_mm: float = 41.0, n: int = 101, spacing_mm: float = 1.0, hu: float = 0.0) -> CTVolume:
    """A slab perpendicular to the A–P (y) axis, ``thickness_mm`` thick, filling x and z; label 1 = ``slab``."""
    _, y, _ = _grid(n, spacing_mm)
    inside = y.abs() <= thickness_mm / 2
    return _volume(torch.where(inside, hu, AIR_HU), inside.to(torch.int16), {1: "slab"}, n, spacing_mm, "slab")


def left_marker(n: int = 101, spacing_mm: float = 1.0) -> CTVolume:
    """An asymmetric phantom: a water cylinder (label ``body``) with a bone marker on the patient's left
    anterior side (label ``marker``, +x, −y) and a small bone bead near the head end (label ``head``, +z)."""
    x, y, z = _grid(n, spacing_mm)
    body = x**2 + y**2 <= 35.5**2
    marker = (x - 22) ** 2 + (y + 15) ** 2 + z**2 <= 6.5**2
    head = x**2 + y**2 + (z - 35) ** 2 <= 5.5**2
    hu = torch.full_like(x, AIR_HU)
    hu[body] = 0.0
    hu[marker] = 1200.0
    hu[head] = 1200.0
    lab = torch.zeros_like(x, dtype=torch.int16)
    lab[body] = 1
    lab[marker] = 2
    lab[head] = 3
    return _volume(hu, lab, {1: "body", 2: "marker", 3: "head"}, n, spacing_mm, "left_marker")
