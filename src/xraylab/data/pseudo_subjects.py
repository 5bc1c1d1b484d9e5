"""Pseudo-subjects: smooth random deformations of a CT and its labels, to multiply the subjects of a dataset.

:func:`deform_ct` resamples a CT and its label map together through one smooth random transform:

* a global anisotropic scaling about the body's centre, one factor per patient axis (LPS x = left–right,
  y = anterior–posterior, z = superior–inferior), drawn uniformly within ``1 ± scale_range`` (default
  ±8 % in x and y, ±5 % in z: thorax width, depth and height differ by about that much between adults);
* plus an elastic displacement field: Gaussian control-point displacements (standard deviation
  ``elastic_mm`` per axis, default 2 mm) on a coarse grid of ``control_spacing_mm`` (default 100 mm)
  spacing, upsampled trilinearly to every voxel. The field is smooth at organ scale and the transform
  stays invertible: neighbouring control points differ by ≈ 3 mm over 80–100 mm, a local strain of ≈ 3 % per
  axis, so an organ's volume changes by a few per cent on top of the global scaling.

The output is on the source CT's own grid (same shape, spacing, origin, orientation). CT numbers are
interpolated trilinearly, labels by nearest neighbour (ids never blend); points that map outside the
source volume become air (−1000 HU, label 0). Everything is fixed by the seed (a
:class:`numpy.random.Generator` built from it; no global random state).

A pseudo-subject is not an independent patient: it shares its source's anatomy. Its name is
``<source name>~p<seed>`` (a generate spec names its pseudo-subjects ``<source>~p<k>``, k = 1…n, and derives
each seed from the spec; see :mod:`xraylab.data.sources`) and ``meta["pseudo_subject_of"]`` names the source
subject, so that a subject-level split can keep every pseudo-subject in the split of its source CT
(:func:`source_subject`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xraylab.io.ct import CTVolume

AIR_HU = -1000.0
PSEUDO_SEP = "~p"


def pseudo_subject_name(source_name: str, seed: int) -> str:
    """``<source>~p<n>``: the subject id of a pseudo-subject (``n``: its seed, or its index k in a generate spec)."""
    return f"{source_name}{PSEUDO_SEP}{int(seed)}"


def source_subject(name_or_ct: str | CTVolume) -> str:
    """The real subject a (pseudo-)subject derives from: ``"case1~p3"`` → ``"case1"``; a real subject → itself."""
    if isinstance(name_or_ct, CTVolume):
        return str(name_or_ct.meta.get("pseudo_subject_of") or source_subject(name_or_ct.name))
    name = str(name_or_ct)
    return name.split(PSEUDO_SEP, 1)[0] if PSEUDO_SEP in name else name


def _body_centre_mm(ct: CTVolume, body_hu: float = -500.0) -> np.ndarray:
    """Physical (LPS, mm) centroid of the voxels above ``body_hu``; the volume centre when there are none."""
    idx = torch.nonzero(ct.hu > body_hu)
    if idx.numel() == 0:
        return ct.center_mm.numpy()
    mean = idx.to(torch.float64).mean(0).numpy()
    a = ct.affine.numpy()
    return a[:3, :3] @ mean + a[:3, 3]


def sample_deformation(
    rng: np.random.Generator,
    scale_range: tuple[float, float, float],
    elastic_mm: float,
    n_ctrl: tuple[int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Draw (scales ``[3]`` for LPS x, y, z; control-point displacements ``[3, nx, ny, nz]`` in mm)."""
    lo = 1.0 - np.asarray(scale_range, dtype=np.float64)
    hi = 1.0 + np.asarray(scale_range, dtype=np.float64)
    scales = rng.uniform(lo, hi)
    ctrl = rng.normal(0.0, float(elastic_mm), size=(3, *n_ctrl)) if elastic_mm > 0 else np.zeros((3, *n_ctrl))
    return scales, ctrl


def pseudo_deformation(ct: CTVolume, seed: int, scale_range: tuple[float, float, float] = (0.08, 0.08, 0.05),
                       elastic_mm: float = 2.0, control_spacing_mm: float = 100.0) -> dict[str, np.ndarray]:
    """The transform :func:`deform_ct` applies for ``seed``, as three small arrays (what a volume cache entry keeps
    instead of the deformed volumes): ``scales`` float64 ``[3]`` (LPS x, y, z factors), ``ctrl`` float64
    ``[3, nx, ny, nz]`` (control-point displacements, LPS mm, on a coarse copy of the index grid) and ``centre``
    ``[3]`` (the body centroid the scaling is about, LPS mm). Arguments as for :func:`deform_ct`."""
    if any(r < 0 or r >= 0.5 for r in scale_range):
        raise ValueError(f"scale_range {scale_range}: each value must be in [0, 0.5)")
    if elastic_mm < 0 or control_spacing_mm <= 0:
        raise ValueError("elastic_mm must be ≥ 0 and control_spacing_mm > 0")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9E3779B1]))
    extent_mm = (np.array(ct.shape) - 1) * np.abs(np.asarray(ct.spacing))  # along index axes
    # The elastic control grid lives on the index axes (coarse copy of the CT grid); its displacements are LPS mm.
    n_ctrl = tuple(int(max(2, np.ceil(e / control_spacing_mm) + 1)) for e in extent_mm)
    scales, ctrl = sample_deformation(rng, scale_range, elastic_mm, n_ctrl)  # type: ignore[arg-type]
    return {"scales": scales, "ctrl": ctrl, "centre": _body_centre_mm(ct)}


def deform_ct(
    ct: CTVolume,
    seed: int,
    scale_range: tuple[float, float, float] = (0.08, 0.08, 0.05),
    elastic_mm: float = 2.0,
    control_spacing_mm: float = 100.0,
    slab: int = 8,
    deformation: dict[str, np.ndarray] | None = None,
) -> CTVolume:
    """A pseudo-subject of ``ct``: CT and labels deformed by one smooth random transform drawn from ``seed``.

    Args:
        ct: source CT (HU) with optional labels.
        seed: integer seed; the same seed gives a byte-identical result.
        scale_range: maximum relative scaling along LPS x (left–right), y (antero-posterior), z (cranio-caudal);
            each factor is uniform in ``[1 − r, 1 + r]``. Scaling is about the body's centroid.
        elastic_mm: standard deviation of the elastic control-point displacements, mm (0: scaling only).
        control_spacing_mm: spacing of the elastic control grid, mm (larger: smoother, more global).
        slab: output slices (last index axis) resampled per step, to bound memory.
        deformation: the transform as :func:`pseudo_deformation` gives it for the same arguments (None: drawn here);
            given, the result is the same bytes without measuring the body again.

    Returns:
        A :class:`CTVolume` on the same grid, named ``<ct.name>~p<seed>``, with ``meta`` recording
        ``pseudo_subject_of`` (the root source subject), ``pseudo_seed``, ``scales`` (x, y, z) and ``elastic_mm``.
    """
    d = deformation if deformation is not None else pseudo_deformation(ct, seed, scale_range, elastic_mm,
                                                                       control_spacing_mm)
    scales, ctrl, centre = d["scales"], d["ctrl"], d["centre"]
    shape = np.array(ct.shape)
    affine = ct.affine.numpy()
    inv_aff = np.linalg.inv(affine)
    # Backward map: output point p ← source point q = c + (p − c) / s + u(p); then q → source voxel index.
    m = inv_aff[:3, :3] @ np.diag(1.0 / scales) @ affine[:3, :3]  # index → index (linear part)
    t = inv_aff[:3, :3] @ (centre + (affine[:3, 3] - centre) / scales) + inv_aff[:3, 3]
    u_idx = np.einsum("ab,b...->a...", inv_aff[:3, :3], ctrl)  # displacement in source index units

    m_t = torch.from_numpy(m).to(torch.float32)
    t_t = torch.from_numpy(t).to(torch.float32)
    ctrl_t = torch.from_numpy(u_idx).to(torch.float32)[None].permute(0, 1, 4, 3, 2).contiguous()  # [1, 3, nz, ny, nx]
    hu_src = (ct.hu.to(torch.float32) - AIR_HU).permute(2, 1, 0)[None, None].contiguous()  # [1, 1, K, J, I]
    lab_src = None
    if ct.labels is not None:
        lab_src = ct.labels.to(torch.float32).permute(2, 1, 0)[None, None].contiguous()
    ni, nj, nk = (int(v) for v in shape)
    hu_out = torch.empty((ni, nj, nk), dtype=torch.float32)
    lab_out = torch.empty((ni, nj, nk), dtype=ct.labels.dtype) if ct.labels is not None else None
    # grid_sample's normalised coordinates (align_corners=True): index 0 → −1, n − 1 → +1;
    # the grid's last dim is (W, H, D) = (i, j, k).
    norm = torch.tensor([2.0 / max(n - 1, 1) for n in (ni, nj, nk)], dtype=torch.float32)
    ii = torch.arange(ni, dtype=torch.float32)[:, None, None, None]
    jj = torch.arange(nj, dtype=torch.float32)[None, :, None, None]
    base_ij = ii * m_t[:, 0] + jj * m_t[:, 1] + t_t  # [ni, nj, 1, 3] source index of the linear part
    out_ij = ii * torch.tensor([1.0, 0.0, 0.0]) + jj * torch.tensor([0.0, 1.0, 0.0])  # [ni, nj, 1, 3]
    step = max(1, int(slab))
    for k0 in range(0, nk, step):
        k1 = min(nk, k0 + step)
        kk = torch.arange(k0, k1, dtype=torch.float32)[None, None, :, None]
        src = base_ij + kk * m_t[:, 2]  # [ni, nj, s, 3]
        if elastic_mm > 0:
            g = (out_ij + kk * torch.tensor([0.0, 0.0, 1.0])) * norm - 1.0  # output position on the control grid
            disp = F.grid_sample(ctrl_t, g[None], mode="bilinear", align_corners=True)[0]  # [3, ni, nj, s]
            src = src + disp.permute(1, 2, 3, 0)
        grid = (src * norm - 1.0)[None]  # [1, ni, nj, s, 3]; grid_sample's output is [1, 1, ni, nj, s]
        hu_out[:, :, k0:k1] = F.grid_sample(hu_src, grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=True)[0, 0] + AIR_HU
        if lab_src is not None and lab_out is not None:
            lv = F.grid_sample(lab_src, grid, mode="nearest", padding_mode="zeros", align_corners=True)[0, 0]
            lab_out[:, :, k0:k1] = torch.round(lv).to(lab_out.dtype)
    root = source_subject(ct)
    meta: dict[str, Any] = {
        **ct.meta,
        "pseudo_subject_of": root,
        "pseudo_parent": ct.name,
        "pseudo_seed": int(seed),
        "scales": [float(s) for s in scales],
        "scale_range": [float(r) for r in scale_range],
        "elastic_mm": float(elastic_mm),
        "control_spacing_mm": float(control_spacing_mm),
    }
    return replace(ct, hu=hu_out.clamp_(min=-1024.0), labels=lab_out, name=pseudo_subject_name(ct.name, seed),
                   source=f"pseudo-subject {int(seed)} of {ct.source or ct.name}", meta=meta)
