"""Test images for the degradation tests: synthetic radiograph, dermoscopy photo, CT slice/volume,
and the real chest radiograph from ../shared/data when present.

All are float32 torch tensors in [0, 1] with a batch and channel axis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[-1 : 1 : complex(0, n), -1 : 1 : complex(0, n)]
    return yy, xx


def _ellipse(yy, xx, cy, cx, ry, rx) -> np.ndarray:
    return (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= 1.0


def synthetic_radiograph(n: int = 256, seed: int = 0) -> torch.Tensor:
    """A chest-radiograph-like phantom ``[1, 1, n, n]``: body, lungs, mediastinum, ribs, texture."""
    rs = np.random.default_rng(seed)
    yy, xx = _grid(n)
    img = np.full((n, n), 0.08)
    img[_ellipse(yy, xx, 0.05, 0.0, 0.95, 0.85)] = 0.55
    lungs = _ellipse(yy, xx, -0.05, -0.40, 0.65, 0.30) | _ellipse(yy, xx, -0.05, 0.40, 0.65, 0.30)
    img[lungs] = 0.25
    img[np.abs(xx) < 0.12] = np.maximum(img[np.abs(xx) < 0.12], 0.72)
    img[_ellipse(yy, xx, 0.25, 0.12, 0.30, 0.25)] = 0.66
    for k in range(8):  # ribs: bright arcs over the lungs
        arc = np.abs(yy - (-0.6 + 0.16 * k) - 0.18 * xx**2) < 0.025
        img[arc & lungs] += 0.18
    tex = ndimage.gaussian_filter(rs.standard_normal((n, n)), 1.5)
    img = ndimage.gaussian_filter(img, 1.0) + 0.06 * tex / tex.std()
    return torch.from_numpy(np.clip(img, 0, 1).astype(np.float32))[None, None]


def synthetic_dermoscopy(n: int = 256, seed: int = 1) -> torch.Tensor:
    """An RGB skin-lesion-like photo ``[1, 3, n, n]``: skin, irregular pigmented lesion, dots, hairs."""
    rs = np.random.default_rng(seed)
    yy, xx = _grid(n)
    r = np.sqrt(yy**2 + xx**2)
    ang = np.arctan2(yy, xx)
    border = 0.45 + 0.06 * np.sin(3 * ang + 0.5) + 0.04 * np.cos(5 * ang)
    lesion = ndimage.gaussian_filter((r < border).astype(float), 2.0)
    skin = np.array([0.86, 0.66, 0.56])
    brown = np.array([0.42, 0.26, 0.18])
    img = skin[None, None] * (1 - lesion[..., None]) + brown[None, None] * lesion[..., None]
    tex = ndimage.gaussian_filter(rs.standard_normal((n, n)), 2.0)
    img = img * (1 + 0.08 * (tex / tex.std())[..., None] * (0.3 + lesion[..., None]))
    for _ in range(30):  # dark globules
        cy, cx = rs.uniform(-0.35, 0.35, 2)
        img[_ellipse(yy, xx, cy, cx, 0.025, 0.025)] *= 0.55
    for _ in range(5):  # hairs
        a, b, c = rs.uniform(-1, 1, 3)
        hair = np.abs(yy - (a * xx + b + 0.3 * c * xx**2)) < 0.006
        img[hair] = [0.15, 0.1, 0.08]
    vignette = 1 - 0.25 * r**2
    img = img * vignette[..., None]
    return torch.from_numpy(np.clip(img, 0, 1).astype(np.float32)).permute(2, 0, 1)[None]


def synthetic_ct(shape: tuple[int, ...] = (256, 256), seed: int = 2) -> torch.Tensor:
    """Normalised CT phantom, ``[1, 1, H, W]`` (2 dims) or ``[1, 1, D, H, W]`` (3 dims).

    Body of soft tissue in a fat rim, bony ring, lungs at the top, a liver and kidneys.
    """
    rs = np.random.default_rng(seed)
    axes = [np.linspace(-1, 1, s) for s in shape]
    grids = np.meshgrid(*axes, indexing="ij")
    yy, xx = grids[-2], grids[-1]
    zz = grids[0] if len(shape) == 3 else 0.0
    vol = np.full(shape, 0.02)
    body = ((yy / 0.8) ** 2 + (xx / 0.95) ** 2) <= 1
    vol[body] = 0.45
    vol[((yy / 0.72) ** 2 + (xx / 0.87) ** 2) <= 1] = 0.55
    ring = (((yy / 0.68) ** 2 + (xx / 0.83) ** 2) <= 1) & (((yy / 0.62) ** 2 + (xx / 0.77) ** 2) > 1)
    vol[ring & (yy < 0)] = 0.9
    vol[(((yy + 0.25) / 0.3) ** 2 + ((xx - 0.3 - 0.05 * zz) / 0.3) ** 2) <= 1] = 0.12
    vol[(((yy - 0.2) / 0.3) ** 2 + ((xx + 0.3) / 0.35) ** 2) <= 1] = 0.63
    for cx in (-0.2, 0.45):
        vol[(((yy - 0.45) / 0.12) ** 2 + ((xx - cx) / 0.1) ** 2) <= 1] = 0.68
    vol[((yy - 0.5) ** 2 + xx**2) <= 0.012] = 0.95  # vertebra
    tex = ndimage.gaussian_filter(rs.standard_normal(shape), 1.2)
    vol = ndimage.gaussian_filter(vol, 0.8) + 0.03 * tex / tex.std()
    return torch.from_numpy(np.clip(vol, 0, 1).astype(np.float32))[None, None]


def real_radiograph(path: Path, n: int = 256) -> torch.Tensor:
    """The shared real chest radiograph (MONOCHROME1, inverted) as ``[1, 1, n, n]`` in [0, 1]."""
    import pydicom

    ds = pydicom.dcmread(str(path))
    arr = ds.pixel_array.astype(np.float32)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        arr = arr.max() - arr
    lo, hi = np.percentile(arr, [0.5, 99.5])
    arr = np.clip((arr - lo) / (hi - lo), 0, 1)
    t = torch.from_numpy(arr)[None, None]
    return F.interpolate(t, size=(n, n), mode="area").clamp(0, 1)
