"""Devices on the detector: mass thickness per material and path length per device, area-averaged over pixels.

Thin wires (0.3–1 mm) are far narrower than a detector pixel at the patient (≈ 1.6 mm at 256² over 43 cm), so one
ray per pixel centre would draw them as dotted lines or miss them. Each pixel a part can touch is sampled with
``s × s`` sub-rays and the chord lengths averaged — the pixel's mean path, as a detector integrates. ``s`` is set per
part from its finest feature (a wire's radius, a tube's wall, a shell's thickness) so that four sub-rays fall
across it at the patient: ``s = ceil(4 × pixel size at the isocenter / feature)``, at least ``supersample`` and
at most :data:`MAX_SUBRAYS`. Only pixels near each segment are traced (its end points projected onto the detector,
widened by its radius), so the cost follows the device's footprint, not the detector.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from xraylab.devices.shapes import Device, Ellipsoid, Tube, cylinder_chords, ellipsoid_chords

MAX_SUBRAYS = 32  # per pixel axis
SAMPLES_PER_FEATURE = 4  # sub-rays across a part's finest feature (radius, wall), at the isocenter
PAIRS_PER_CHUNK = 2_000_000  # sub-ray × segment pairs evaluated at once (memory: ~40 floats each)


def _feature_mm(part: Tube | Ellipsoid) -> float:
    """The finest dimension of a part (mm): what the sub-ray spacing must resolve."""
    if isinstance(part, Tube):
        return part.radius_mm - part.lumen_mm if part.lumen_mm > 0 else part.radius_mm
    return part.shell_mm if part.shell_mm > 0 else min(part.semi_axes_mm)


def _detector_frame(pix: torch.Tensor, rows: int, cols: int):
    """Pixel (0, 0)'s centre and the steps to the next column and the next row, CT mm."""
    p00 = pix[0]
    cu = pix[1] - p00 if cols > 1 else torch.zeros(3, dtype=pix.dtype)
    cv = pix[cols] - p00 if rows > 1 else torch.zeros(3, dtype=pix.dtype)
    return p00, cu, cv


def project_points(points: np.ndarray, src: torch.Tensor, p00: torch.Tensor, cu: torch.Tensor,
                   cv: torch.Tensor) -> np.ndarray:
    """Fractional (row, col) ``[P, 2]`` where the rays source → ``points`` ``[P, 3]`` (CT mm) meet the detector."""
    q = torch.as_tensor(points, dtype=src.dtype)
    n = torch.linalg.cross(cu, cv)
    t = ((p00 - src) @ n) / ((q - src) @ n)
    hit = src + t[:, None] * (q - src)
    rel = hit - p00
    col = rel @ cu / (cu @ cu)
    row = rel @ cv / (cv @ cv)
    return torch.stack([row, col], 1).numpy()


def _boxes(points_a: np.ndarray, points_b: np.ndarray, radius_mm: np.ndarray, src, p00, cu, cv
           ) -> tuple[np.ndarray, np.ndarray]:
    """Pixel boxes ``(lo [S, 2], hi [S, 2])`` (row, col; hi exclusive) that hold the projection of each segment
    ``a → b`` widened by its radius (magnified at the segment) plus one pixel."""
    ra = project_points(points_a, src, p00, cu, cv)
    rb = project_points(points_b, src, p00, cu, cv)
    q = torch.as_tensor(np.vstack([points_a, points_b]), dtype=torch.float64)
    n = torch.linalg.cross(cu, cv)
    n = n / torch.linalg.norm(n)
    mag = float(((p00 - src) @ n).abs()) / ((q - src) @ n).abs().numpy()  # detector distance / point distance
    mag = np.maximum(mag[: len(points_a)], mag[len(points_a):])
    r_px = radius_mm * mag / float(torch.linalg.norm(cu)) + 1.0
    lo = np.floor(np.minimum(ra, rb) - r_px[:, None]).astype(int)
    hi = np.ceil(np.maximum(ra, rb) + r_px[:, None]).astype(int) + 1
    return lo, hi


def _subrays(p00, cu, cv, rows_idx: torch.Tensor, cols_idx: torch.Tensor, offs: torch.Tensor) -> torch.Tensor:
    """Sub-ray targets ``[..., s*s, 3]`` of pixels (``rows_idx``, ``cols_idx`` of one shape)."""
    fr = rows_idx[..., None, None].double() + offs[:, None]
    fc = cols_idx[..., None, None].double() + offs[None, :]
    tg = p00 + fr[..., None] * cv + fc[..., None] * cu
    return tg.reshape(*rows_idx.shape, -1, 3)


def _splat(img: torch.Tensor, rows_idx: torch.Tensor, cols_idx: torch.Tensor, ok: torch.Tensor,
           values: torch.Tensor) -> None:
    """Add ``values`` at (``rows_idx``, ``cols_idx``) where ``ok`` into the ``[rows, cols]`` image."""
    flat = (rows_idx * img.shape[1] + cols_idx)[ok]
    img.view(-1).index_add_(0, flat, values[ok])


def _tube_path(tube: Tube, src, p00, cu, cv, rows: int, cols: int, offs: torch.Tensor) -> torch.Tensor:
    """Pixel-mean chord length ``[rows, cols]`` (mm) of one tube: each segment on its own pixel box."""
    img = torch.zeros(rows, cols, dtype=torch.float64)
    a_np, b_np = tube.segments()
    if not len(a_np):
        return img
    lo, hi = _boxes(a_np, b_np, np.full(len(a_np), tube.radius_mm), src, p00, cu, cv)
    lo = np.clip(lo, 0, [rows, cols])
    hi = np.clip(hi, 0, [rows, cols])
    size = np.maximum(hi - lo, 0)
    if not size.all(axis=1).any():
        return img
    bh, bw = int(size[:, 0].max()), int(size[:, 1].max())
    k = offs.numel() ** 2
    step = max(1, PAIRS_PER_CHUNK // max(bh * bw * k, 1))
    for i in range(0, len(a_np), step):
        sl = slice(i, i + step)
        lo_c, hi_c = torch.as_tensor(lo[sl]), torch.as_tensor(hi[sl])
        ii = torch.arange(bh)[None, :, None] + lo_c[:, 0, None, None]  # [S, bh, 1]
        jj = torch.arange(bw)[None, None, :] + lo_c[:, 1, None, None]  # [S, 1, bw]
        ii, jj = torch.broadcast_tensors(ii, jj)  # [S, bh, bw]
        ok = (ii < hi_c[:, 0, None, None]) & (jj < hi_c[:, 1, None, None])
        tg = _subrays(p00, cu, cv, ii, jj, offs)  # [S, bh, bw, k, 3]
        d = tg - src
        length = torch.linalg.norm(d, dim=-1)
        u = d / length[..., None]
        a = torch.as_tensor(a_np[sl])[:, None, None, None, :]
        b = torch.as_tensor(b_np[sl])[:, None, None, None, :]
        ch = cylinder_chords(src, u, length, a, b, tube.radius_mm)
        if tube.lumen_mm > 0:
            ch = ch - cylinder_chords(src, u, length, a, b, tube.lumen_mm)
        _splat(img, ii.clamp_max(rows - 1), jj.clamp_max(cols - 1), ok, ch.mean(-1))
    return img


def _ellipsoid_path(e: Ellipsoid, src, p00, cu, cv, rows: int, cols: int, offs: torch.Tensor) -> torch.Tensor:
    """Pixel-mean chord length ``[rows, cols]`` (mm) of one ellipsoid (shell or solid) on its pixel box."""
    img = torch.zeros(rows, cols, dtype=torch.float64)
    c = np.asarray(e.centre, dtype=np.float64)[None]
    lo, hi = _boxes(c, c, np.array([max(e.semi_axes_mm)]), src, p00, cu, cv)
    (r0, c0), (r1, c1) = np.clip(lo[0], 0, [rows, cols]), np.clip(hi[0], 0, [rows, cols])
    if r0 >= r1 or c0 >= c1:
        return img
    ii, jj = torch.meshgrid(torch.arange(r0, r1), torch.arange(c0, c1), indexing="ij")
    tg = _subrays(p00, cu, cv, ii, jj, offs)
    d = tg - src
    length = torch.linalg.norm(d, dim=-1)
    u = d / length[..., None]
    centre = torch.as_tensor(e.centre, dtype=torch.float64)
    axes = torch.as_tensor(e.axes, dtype=torch.float64)
    semi = torch.as_tensor(e.semi_axes_mm, dtype=torch.float64)
    ch = ellipsoid_chords(src, u.reshape(-1, 3), length.reshape(-1), centre, axes, semi)
    if e.shell_mm > 0:
        ch = ch - ellipsoid_chords(src, u.reshape(-1, 3), length.reshape(-1), centre, axes, semi - e.shell_mm)
    img[r0:r1, c0:c1] = ch.reshape(*ii.shape, -1).mean(-1)
    return img


def trace_devices(devices: Sequence[Device], geometry, isocenter_ct: torch.Tensor, supersample: int = 4
                  ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(materials, paths)`` of ``devices`` at ``geometry`` (rays from :meth:`Geometry.rays_ct`).

    ``materials``: material name → ``[1, 1, rows, cols]`` float32 ∫ρ dl (g/cm²), pixel means over at least
    ``supersample²`` sub-rays (more for thin parts, see the module doc), ready to add to a projection's material
    channels; ``paths``: device kind → ``[1, 1, rows, cols]`` float32 mean path length (mm) through all its parts
    (the device's mask is ``path > 0``). Several devices of one kind add up.
    """
    rows, cols = int(geometry.rows), int(geometry.cols)
    src, pix = geometry.rays_ct(isocenter_ct.to(torch.float64))
    p00, cu, cv = _detector_frame(pix, rows, cols)
    pixel_iso = geometry.pitch_mm / geometry.magnification  # pixel size at the isocenter, mm
    materials: dict[str, torch.Tensor] = {}
    paths: dict[str, torch.Tensor] = {}
    for dev in devices:
        total = paths.setdefault(dev.kind, torch.zeros(rows, cols, dtype=torch.float64))
        for part in dev.parts:
            need = math.ceil(SAMPLES_PER_FEATURE * pixel_iso / max(_feature_mm(part), 1e-3))
            s = int(min(MAX_SUBRAYS, max(int(supersample), need)))
            offs = (torch.arange(s, dtype=torch.float64) + 0.5) / s - 0.5
            fn = _tube_path if isinstance(part, Tube) else _ellipsoid_path
            ln = fn(part, src, p00, cu, cv, rows, cols, offs)  # type: ignore[arg-type]
            acc = materials.setdefault(part.material, torch.zeros(rows, cols, dtype=torch.float64))
            acc += ln * (part.density / 10.0)  # mm → g/cm²
            total += ln
    as_img = lambda t: t.to(torch.float32).view(1, 1, rows, cols)  # noqa: E731
    return {k: as_img(v) for k, v in materials.items()}, {k: as_img(v) for k, v in paths.items()}


def add_devices(projection, devices: Sequence[Device], geometry, isocenter_ct: torch.Tensor,
                supersample: int = 4) -> None:
    """Add ``devices`` to a one-view :class:`~xraylab.physics.projector.Projection` in place: their mass thickness
    to the material channels (new materials get new channels) and their path lengths as ``paths[kind]``."""
    if not devices:
        return
    mats, paths = trace_devices(devices, geometry, isocenter_ct, supersample)
    ref = next(iter(projection.materials.values()))
    for k, v in mats.items():
        v = v.to(device=ref.device, dtype=ref.dtype)
        projection.materials[k] = projection.materials[k] + v if k in projection.materials else v
    for k, v in paths.items():
        projection.paths[k] = v.to(device=ref.device, dtype=ref.dtype)
