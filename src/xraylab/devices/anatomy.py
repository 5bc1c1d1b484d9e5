"""Landmarks for placing devices, read off a labelled CT: centrelines, extreme points, the skin surface.

Coordinates are CT physical (LPS) millimetres: +x patient left, +y posterior, +z superior. Structures are looked up
by their TotalSegmentator names (``trachea``, ``esophagus``, ``stomach``, ``superior_vena_cava``, ``heart``,
``sternum``, ``clavicula_left`` …); a missing structure raises a ConfigError naming it, so a spec can leave that
device out for CTs without the label.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import torch

from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume
from xraylab.physics.dose import SKIN_HU


class Anatomy:
    """Landmark queries on one labelled CT (computed lazily, cached)."""

    def __init__(self, ct: CTVolume) -> None:
        if ct.labels is None:
            raise ConfigError(f"{ct.name}: devices are placed by anatomy and need a label map (atlas: default or "
                              "a TotalSegmentator labels file)")
        self.ct = ct
        self._ids = {name: i for i, name in ct.structures.items()}
        self._cache: dict[str, np.ndarray] = {}

    @cached_property
    def _affine(self) -> np.ndarray:
        return self.ct.affine.numpy().astype(np.float64)

    @cached_property
    def body_axis(self) -> int:
        """Index axis that runs most nearly superior–inferior."""
        return int(np.argmax(np.abs(self._affine[2, :3])))

    def _labels(self) -> torch.Tensor:
        assert self.ct.labels is not None  # checked in __init__
        return self.ct.labels

    def has(self, name: str) -> bool:
        return name in self._ids and bool((self._labels() == self._ids[name]).any())

    def points(self, name: str) -> np.ndarray:
        """Physical positions ``[N, 3]`` (mm) of the voxels labelled ``name``."""
        if name not in self._cache:
            if name not in self._ids:
                raise ConfigError(f"{self.ct.name}: no structure {name!r} in the label map; devices that need it "
                                  "cannot be placed on this CT")
            idx = torch.nonzero(self._labels() == self._ids[name]).numpy().astype(np.float64)
            if not len(idx):
                raise ConfigError(f"{self.ct.name}: structure {name!r} is empty in the label map")
            self._cache[name] = idx @ self._affine[:3, :3].T + self._affine[:3, 3]
        return self._cache[name]

    def centroid(self, name: str) -> np.ndarray:
        return self.points(name).mean(0)

    def centreline(self, name: str) -> np.ndarray:
        """Per axial slice the centroid of ``name`` ``[K, 3]``, ordered superior → inferior."""
        p = self.points(name)
        z = np.round(p[:, 2], 3)
        levels = np.unique(z)[::-1]
        return np.array([p[z == lv].mean(0) for lv in levels])

    def extreme(self, name: str, direction: tuple[float, float, float]) -> np.ndarray:
        """The voxel of ``name`` farthest along ``direction`` (mm; e.g. (0, 0, -1) = most inferior)."""
        p = self.points(name)
        return p[int(np.argmax(p @ np.asarray(direction, dtype=np.float64)))]

    def contains(self, name: str, point: np.ndarray, tol_mm: float = 0.0) -> bool:
        """True when ``point`` lies within ``tol_mm`` of a voxel centre of ``name`` (half a voxel diagonal added)."""
        p = self.points(name)
        half = 0.5 * float(np.linalg.norm(self.ct.spacing))
        return bool((np.linalg.norm(p - np.asarray(point)[None], axis=1) <= half + tol_mm).any())

    @cached_property
    def _inverse(self) -> np.ndarray:
        return np.linalg.inv(self._affine)

    def _hu_of(self, points: np.ndarray) -> np.ndarray:
        """HU of the voxels nearest ``points`` ``[N, 3]`` (−1000 outside the CT)."""
        inv = self._inverse
        idx = np.round(np.asarray(points, dtype=np.float64) @ inv[:3, :3].T + inv[:3, 3]).astype(int)
        inside = ((idx >= 0) & (idx < np.asarray(self.ct.shape))).all(axis=1)
        out = np.full(len(idx), -1000.0)
        ii = idx[inside]
        out[inside] = self.ct.hu[ii[:, 0], ii[:, 1], ii[:, 2]].double().numpy()
        return out

    def hu_at(self, point: np.ndarray) -> float:
        """HU of the voxel nearest ``point`` (−1000 outside the CT)."""
        return float(self._hu_of(np.asarray(point, dtype=np.float64)[None])[0])

    def skin(self, x: float, z: float, anterior: bool = True, step_mm: float = 1.0) -> np.ndarray | None:
        """The skin point at left–right ``x`` and height ``z`` (mm): marching from the anterior (or posterior) edge
        of the CT along y to the first voxel above :data:`SKIN_HU`; None when the line meets no body."""
        corners = np.array([[i, j, k] for i in (0, self.ct.shape[0] - 1) for j in (0, self.ct.shape[1] - 1)
                            for k in (0, self.ct.shape[2] - 1)], dtype=np.float64)
        ys = corners @ self._affine[:3, :3].T + self._affine[:3, 3]
        y0, y1 = ys[:, 1].min(), ys[:, 1].max()
        line = np.arange(y0, y1, step_mm) if anterior else np.arange(y1, y0, -step_mm)
        pts = np.stack([np.full_like(line, x), line, np.full_like(line, z)], axis=1)
        hit = np.nonzero(self._hu_of(pts) > SKIN_HU)[0]
        return pts[hit[0]] if len(hit) else None
