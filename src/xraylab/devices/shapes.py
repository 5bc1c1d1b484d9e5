"""Device primitives and their exact ray path lengths: tubes (chains of hollow cylinders) and ellipsoid shells.

Every primitive lives in CT physical coordinates (LPS, mm) and carries one material (a name of
:mod:`xraylab.physics.attenuation`) and a density (g/cm³). :func:`path_lengths` intersects rays analytically:

* a cylinder segment (axis ``a → b``, radius r): the ray's interval inside the infinite cylinder (a quadratic in
  the ray parameter) clipped to the slab between the end planes; a hollow tube subtracts its lumen's interval;
* an ellipsoid (centre, axes, semi-axes): the ray mapped to the unit sphere, same quadratic; a shell subtracts
  the inner ellipsoid.

So a device's mass thickness on a ray is exactly ρ × (chord length) — no voxelisation. Rays are given as a source
point and target points; lengths are in mm along the segment source → target (clipped to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class Tube:
    """A polyline of cylinder segments through ``points`` ``[P, 3]`` (mm), outer radius ``radius_mm``, lumen radius
    ``lumen_mm`` (0 = solid), of ``material`` at ``density`` g/cm³."""

    points: tuple[tuple[float, float, float], ...]
    radius_mm: float
    material: str
    density: float
    lumen_mm: float = 0.0

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """``(starts [S, 3], ends [S, 3])`` of the polyline's segments (zero-length ones dropped)."""
        p = np.asarray(self.points, dtype=np.float64)
        a, b = p[:-1], p[1:]
        keep = np.linalg.norm(b - a, axis=1) > 1e-9
        return a[keep], b[keep]

    @property
    def length_mm(self) -> float:
        a, b = self.segments()
        return float(np.linalg.norm(b - a, axis=1).sum())


@dataclass(frozen=True)
class Ellipsoid:
    """An ellipsoid (``centre`` mm, orthonormal ``axes`` rows ``[3, 3]``, ``semi_axes_mm``), solid or a shell of
    ``shell_mm`` wall, of ``material`` at ``density`` g/cm³."""

    centre: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    material: str
    density: float
    axes: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    shell_mm: float = 0.0


Primitive = Tube | Ellipsoid


@dataclass
class Device:
    """One placed device: ``kind`` (library name), ``parts`` (primitives), ``params`` (JSON-able: status, tip…)."""

    kind: str
    parts: list[Primitive] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def _interval(a2: torch.Tensor, b1: torch.Tensor, c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Roots ``(t0, t1)`` of ``a2 t² + b1 t + c0 = 0`` (t0 ≤ t1); empty (t0 > t1) where there is none. ``a2 ≈ 0``
    (ray parallel to a cylinder's axis): the whole line where ``c0 < 0``, else empty."""
    disc = b1 * b1 - 4 * a2 * c0
    ok = (disc > 0) & (a2 > 1e-12)
    sq = torch.sqrt(disc.clamp_min(0))
    den = (2 * a2).clamp_min(1e-12)
    t0 = torch.where(ok, (-b1 - sq) / den, torch.full_like(a2, torch.inf))
    t1 = torch.where(ok, (-b1 + sq) / den, torch.full_like(a2, -torch.inf))
    par = a2 <= 1e-12
    inside = par & (c0 < 0)
    t0 = torch.where(inside, torch.full_like(a2, -torch.inf), t0)
    t1 = torch.where(inside, torch.full_like(a2, torch.inf), t1)
    return t0, t1


def cylinder_chords(src: torch.Tensor, u: torch.Tensor, length: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                    r: float) -> torch.Tensor:
    """Chord lengths (mm) of rays ``src + t u`` (``t`` in [0, ``length``], ``u`` unit) in finite cylinders of
    radius ``r`` with axes ``a → b``. ``u`` ``[..., 3]``, ``length`` ``[...]`` and ``a``, ``b`` ``[..., 3]``
    broadcast against each other (e.g. rays ``[N, 1, 3]`` × segments ``[1, S, 3]`` → ``[N, S]``)."""
    shape = torch.broadcast_shapes(u.shape[:-1], a.shape[:-1], length.shape)
    if r <= 0:
        return torch.zeros(shape, dtype=u.dtype, device=u.device)
    v = b - a
    h = torch.linalg.norm(v, dim=-1)
    w = v / h[..., None]
    m = src - a
    dw = (u * w).sum(-1)
    mw = (m * w).sum(-1)
    a2 = (1.0 - dw * dw).expand(shape)  # |d⊥|² for a unit direction
    b1 = 2.0 * ((u * m).sum(-1) - dw * mw)  # 2 d⊥·m⊥
    c0 = ((m * m).sum(-1) - mw * mw - r * r).expand(shape)
    t0, t1 = _interval(a2, b1.expand(shape), c0)
    # the slab between the end planes: 0 ≤ m·w + t (u·w) ≤ h
    safe = torch.where(dw.abs() < 1e-12, torch.full_like(dw, 1e-12), dw)
    z0, z1 = -mw / safe, (h - mw) / safe
    s0, s1 = torch.minimum(z0, z1), torch.maximum(z0, z1)
    par = dw.abs() < 1e-12
    inside = ((mw >= 0) & (mw <= h)).expand(shape)
    s0 = torch.where(par, torch.where(inside, -torch.inf, torch.inf), s0)
    s1 = torch.where(par, torch.where(inside, torch.inf, -torch.inf), s1)
    lo = torch.maximum(torch.maximum(t0, s0), torch.zeros_like(t0))
    hi = torch.minimum(torch.minimum(t1, s1), length.expand(shape))
    return (hi - lo).clamp_min(0)


def ellipsoid_chords(src: torch.Tensor, u: torch.Tensor, length: torch.Tensor, centre: torch.Tensor,
                     axes: torch.Tensor, semi: torch.Tensor) -> torch.Tensor:
    """Chord lengths ``[N]`` (mm) of the rays in one solid ellipsoid."""
    if bool((semi <= 0).any()):
        return torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
    m = ((src - centre) @ axes.T) / semi  # [3]
    d = (u @ axes.T) / semi[None, :]  # [N, 3]
    a2 = (d * d).sum(1)
    b1 = 2.0 * (d @ m)
    c0 = ((m * m).sum() - 1.0).expand_as(a2)
    t0, t1 = _interval(a2, b1, c0)
    lo = t0.clamp_min(0)
    hi = torch.minimum(t1, length)
    return (hi - lo).clamp_min(0)


def path_lengths(parts: Sequence[Primitive], src: torch.Tensor, targets: torch.Tensor,
                 chunk: int = 2_000_000) -> dict[str, torch.Tensor]:
    """Material → path length ``[N]`` (mm) of the rays ``src [3] → targets [N, 3]`` through ``parts`` (summed over
    the parts of one material; :func:`mass_thickness` weights each part by its density)."""
    out: dict[str, torch.Tensor] = {}
    d = targets - src[None, :]
    length = torch.linalg.norm(d, dim=1)
    u = d / length[:, None]
    for p in parts:
        acc = out.setdefault(p.material, torch.zeros(len(targets), dtype=targets.dtype, device=targets.device))
        if isinstance(p, Tube):
            a_np, b_np = p.segments()
            a = torch.as_tensor(a_np, dtype=targets.dtype, device=targets.device)
            b = torch.as_tensor(b_np, dtype=targets.dtype, device=targets.device)
            step = max(1, chunk // max(len(targets), 1))
            for i in range(0, len(a), step):
                ai, bi = a[None, i:i + step], b[None, i:i + step]
                ch = cylinder_chords(src, u[:, None], length[:, None], ai, bi, p.radius_mm)
                if p.lumen_mm > 0:
                    ch = ch - cylinder_chords(src, u[:, None], length[:, None], ai, bi, p.lumen_mm)
                acc += ch.sum(1)
        else:
            c = torch.as_tensor(p.centre, dtype=targets.dtype, device=targets.device)
            ax = torch.as_tensor(p.axes, dtype=targets.dtype, device=targets.device)
            semi = torch.as_tensor(p.semi_axes_mm, dtype=targets.dtype, device=targets.device)
            ch = ellipsoid_chords(src, u, length, c, ax, semi)
            if p.shell_mm > 0:
                ch = ch - ellipsoid_chords(src, u, length, c, ax, semi - p.shell_mm)
            acc += ch
    return out


def mass_thickness(parts: Sequence[Primitive], src: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Material → ∫ρ dl ``[N]`` in g/cm² (density × path length in cm) of the rays through ``parts``."""
    out: dict[str, torch.Tensor] = {}
    for p in parts:
        ln = path_lengths([p], src, targets)[p.material]
        out[p.material] = out.get(p.material, 0) + ln * (p.density / 10.0)  # mm → cm
    return out
