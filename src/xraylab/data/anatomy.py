"""Anatomy that varies the way patients do: breathing and posture, heart size and position, habitus.

:func:`vary_anatomy` deforms a CT and its labels (same grid; CT numbers trilinear, labels nearest, points from
outside the volume become air) by a smooth transform built from four parameters (:class:`AnatomyParams`), placed
with landmarks read from the label map (:func:`landmarks`):

``diaphragm_mm``
    descent of the diaphragm, mm (> 0: deeper inspiration, or the upright posture of a PA film against a supine CT,
    where the abdominal organs drop; < 0: expiration). Points above the lung apices stay; between the apices and
    the top of the highest sub-diaphragmatic organ (the dome) the thorax is stretched linearly along the body axis;
    everything below the dome moves down by the full amount. A simplification: the whole thorax, ribs included,
    is stretched (real inspiration also lifts and widens the ribs).
``heart_scale``
    size factor of the heart about its centroid (cardiothoracic ratio), faded out smoothly beyond about two heart
    radii (weight exp(−(r / 2R)⁴)) so that the chest wall barely moves; the fade makes the effective factor smaller
    (1.25 gives the heart label 1.66× its volume on the embedded CT, against 1.95 for a pure scaling).
``heart_drop_mm``
    extra descent of the heart, mm, with the same fade (upright: the heart hangs lower and more vertical).
``width_scale``
    left–right scale of the whole body about the body's centroid (habitus).

The transform is applied in that order (diaphragm, heart, width); its inverse is evaluated per output voxel:
exactly for the piecewise-linear diaphragm and the width, to first order for the heart fade. Generate specs draw
the parameters per anatomy subject (``cts: [{..., anatomy: {subjects: N, diaphragm_mm: [lo, hi], ...}}]``,
:mod:`xraylab.data.sources`) and write them to the manifest (``anatomy:<name>`` columns).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume

AIR_HU = -1000.0
ANATOMY_SEP = "~a"


@dataclass(frozen=True)
class AnatomyParams:
    """The four parameters of the module docstring (identity: 0, 1, 0, 1)."""

    diaphragm_mm: float = 0.0
    heart_scale: float = 1.0
    heart_drop_mm: float = 0.0
    width_scale: float = 1.0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


RANGES = {"diaphragm_mm": (-40.0, 80.0), "heart_scale": (0.7, 1.5), "heart_drop_mm": (-30.0, 40.0),
          "width_scale": (0.8, 1.25)}  # the values vary_anatomy accepts


def anatomy_subject_name(source: str, k: int) -> str:
    """``<source>~a<k>``: the k-th anatomy subject of a CT."""
    return f"{source}{ANATOMY_SEP}{int(k)}"


def draw_params(rng: np.random.Generator, ranges: dict[str, tuple[float, float]]) -> AnatomyParams:
    """Parameters drawn uniformly within ``ranges`` (name → (low, high)); unnamed ones stay at the identity."""
    unknown = sorted(set(ranges) - set(RANGES))
    if unknown:
        raise ConfigError(f"anatomy: unknown parameter(s) {', '.join(unknown)}; choose from {', '.join(RANGES)}")
    values = {k: float(rng.uniform(*ranges[k])) for k in RANGES if k in ranges}  # fixed order: same draws
    return AnatomyParams(**values)


def landmarks(ct: CTVolume) -> dict[str, Any]:
    """LPS mm landmarks from the label map: ``apex_z`` (top of the lungs), ``dome_z`` (top of the highest
    sub-diaphragmatic organ), ``heart_c`` (heart centroid ``[3]``), ``heart_r`` (radius of a sphere of the heart's
    volume), ``body_c`` (body centroid ``[3]``). Raises :class:`ConfigError` when lungs or heart are missing."""
    from xraylab.io.lung_labels import LUNG_LABEL_NAMES
    from xraylab.io.structures import SUBDIAPHRAGMATIC

    if ct.labels is None:
        raise ConfigError(f"{ct.source or ct.name}: anatomy variation needs a label map (lungs, heart, abdomen)")
    lab = ct.labels.numpy()
    aff = ct.affine.numpy()

    def points(names) -> np.ndarray:
        ids = [k for k, v in ct.structures.items() if v in names]
        idx = np.argwhere(np.isin(lab, ids)) if ids else np.zeros((0, 3))
        return idx @ aff[:3, :3].T + aff[:3, 3]

    lungs, heart = points(LUNG_LABEL_NAMES), points(("heart",))
    if len(lungs) == 0 or len(heart) == 0:
        raise ConfigError(f"{ct.source or ct.name}: anatomy variation needs lung and heart labels")
    abdomen = points(SUBDIAPHRAGMATIC)
    apex = float(lungs[:, 2].max())
    low = float(lungs[:, 2].min())
    dome = float(abdomen[:, 2].max()) if len(abdomen) else low + 0.25 * (apex - low)
    voxel_ml = float(np.prod(ct.spacing))
    body_idx = torch.nonzero(ct.hu > -500.0).double().mean(0).numpy()
    return {"apex_z": apex, "dome_z": min(dome, apex - 20.0), "heart_c": heart.mean(0),
            "heart_r": float((3 * len(heart) * voxel_ml / (4 * np.pi)) ** (1 / 3)),
            "body_c": aff[:3, :3] @ body_idx + aff[:3, 3]}


def _backward(points: torch.Tensor, p: AnatomyParams, lm: dict[str, Any]) -> torch.Tensor:
    """Source LPS mm of output points ``[N, 3]`` (float64): the inverse of diaphragm → heart → width."""
    q = points.clone()
    # width: undo the left–right scale about the body centre
    cx = float(lm["body_c"][0])
    q[:, 0] = cx + (q[:, 0] - cx) / p.width_scale
    # heart: undo scale and drop about the heart's (diaphragm-moved) centroid, faded with distance
    apex, dome, d = lm["apex_z"], lm["dome_z"], p.diaphragm_mm
    c = torch.tensor(lm["heart_c"], dtype=q.dtype)
    c[2] = _forward_z(c[2:3], apex, dome, d)[0] - p.heart_drop_mm
    r = torch.linalg.norm(q - c, dim=1, keepdim=True)
    w = torch.exp(-((r / (2.0 * lm["heart_r"])) ** 4))
    q = q - (1.0 - 1.0 / p.heart_scale) * (q - c) * w
    q[:, 2:3] = q[:, 2:3] + p.heart_drop_mm * w
    # diaphragm: exact inverse of the piecewise-linear descent
    q[:, 2] = _backward_z(q[:, 2], apex, dome, d)
    return q


def _forward_z(z: torch.Tensor, apex: float, dome: float, d: float) -> torch.Tensor:
    h = apex - dome
    t = ((apex - z) / h).clamp(0.0, 1.0)
    return z - d * t


def _backward_z(z: torch.Tensor, apex: float, dome: float, d: float) -> torch.Tensor:
    h = apex - dome
    mid = (z + d * apex / h) / (1.0 + d / h)
    return torch.where(z >= apex, z, torch.where(z >= dome - d, mid, z + d))


def vary_anatomy(ct: CTVolume, params: AnatomyParams, name: str | None = None, slab: int = 8,
                 marks: dict[str, Any] | None = None) -> CTVolume:
    """``ct`` and its labels deformed by ``params`` (module docstring), on the same grid; ``meta["anatomy"]``
    holds the parameters and ``meta["anatomy_of"]`` the source subject. ``name``: the new subject id;
    ``marks``: :func:`landmarks` of ``ct`` when already known (the same bytes, without reading the labels again)."""
    for k, v in params.as_dict().items():
        lo, hi = RANGES[k]
        if not lo <= v <= hi:
            raise ConfigError(f"anatomy: {k} {v:g} outside {lo:g}…{hi:g}")
    lm = marks if marks is not None else landmarks(ct)
    if lm["apex_z"] - lm["dome_z"] + params.diaphragm_mm <= 10.0:
        raise ConfigError(f"anatomy: diaphragm_mm {params.diaphragm_mm:g} would lift the dome above the apices")
    out = warp_ct(ct, lambda mm: _backward(mm, params, lm), slab)
    meta = {**ct.meta, "anatomy": params.as_dict(), "anatomy_of": ct.meta.get("pseudo_subject_of") or ct.name}
    return replace(out, name=name or f"{ct.name}{ANATOMY_SEP}0", source=f"anatomy variant of {ct.source or ct.name}",
                   meta=meta)


def warp_ct(ct: CTVolume, backward: Callable[[torch.Tensor], torch.Tensor], slab: int = 8) -> CTVolume:
    """``ct`` resampled through ``backward`` (output LPS mm ``[N, 3]`` float64 → source LPS mm), on the same grid:
    CT numbers trilinear, labels nearest, points outside the source volume air (−1000 HU, label 0)."""
    ni, nj, nk = ct.shape
    aff = torch.from_numpy(ct.affine.numpy()).double()
    inv = torch.linalg.inv(aff)
    hu_src = (ct.hu.to(torch.float32) - AIR_HU).permute(2, 1, 0)[None, None].contiguous()  # [1, 1, K, J, I]
    lab_src = ct.labels.to(torch.float32).permute(2, 1, 0)[None, None].contiguous() if ct.labels is not None else None
    hu_out = torch.empty((ni, nj, nk), dtype=torch.float32)
    lab_out = torch.empty((ni, nj, nk), dtype=ct.labels.dtype) if ct.labels is not None else None
    norm = torch.tensor([2.0 / max(n - 1, 1) for n in (ni, nj, nk)], dtype=torch.float64)
    ii, jj = torch.meshgrid(torch.arange(ni, dtype=torch.float64), torch.arange(nj, dtype=torch.float64),
                            indexing="ij")
    step = max(1, int(slab))
    for k0 in range(0, nk, step):
        k1 = min(nk, k0 + step)
        kk = torch.arange(k0, k1, dtype=torch.float64)
        idx = torch.stack([ii[..., None].expand(ni, nj, k1 - k0), jj[..., None].expand(ni, nj, k1 - k0),
                           kk.expand(ni, nj, k1 - k0)], dim=-1).reshape(-1, 3)
        mm = idx @ aff[:3, :3].T + aff[:3, 3]
        src = backward(mm) @ inv[:3, :3].T + inv[:3, 3]  # source voxel indices (i, j, k)
        grid = (src * norm - 1.0).reshape(1, ni, nj, k1 - k0, 3).float()
        hu_out[:, :, k0:k1] = F.grid_sample(hu_src, grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=True)[0, 0] + AIR_HU
        if lab_src is not None and lab_out is not None:
            lv = F.grid_sample(lab_src, grid, mode="nearest", padding_mode="zeros", align_corners=True)[0, 0]
            lab_out[:, :, k0:k1] = torch.round(lv).to(lab_out.dtype)
    return replace(ct, hu=hu_out.clamp_(min=-1024.0), labels=lab_out)
