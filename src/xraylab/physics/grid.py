"""Linear focused anti-scatter grid (REFERENCES.md §6).

Geometry of one grid period P = 10 / lines_per_cm mm: a strip (lamella) of
thickness d and an interspace of width w = P − d; strip height h = ratio · w.
The grid sits on the detector, strips run along ``orientation`` ('vertical':
strips parallel to the image columns' direction, i.e. along v / rows, so the
pattern and the cut-off vary along u).

Transmission of a ray with slopes (tₓ across the strips, t_y along them)
entering at position x₀ within a period: it travels horizontally h·|tₓ| across
the strip pattern; the length of strip material crossed is
ΔL = L(x₀ + h|tₓ|) − L(x₀) with the periodic cumulative strip length
L(x) = ⌊x/P⌋·d + min(x mod P, d); its path in the strip material is
ΔL·√(1+tₓ²+t_y²)/|tₓ| and in the interspace the rest of h·√(1+tₓ²+t_y²).
Averaging exp(−μ_s·ℓ_s − μ_i·ℓ_i) over x₀ (and multiplying by the cover
transmission) gives the grid transmission at that angle, energy by energy:

* Tp(E): the primary, aligned with the (focused) strips, tₓ = t_y = 0;
* Ts(E): the scatter, averaged over an isotropic radiance field on the
  forward hemisphere (fluence weight cos θ · sin θ dθ dφ, Kalender 1981-type
  assumption), the usual definition behind published Ts values.

Cut-off (REFERENCES.md §6): angular mismatch δ(c) = c(1/f1 − 1/f0) − b/f1
and relative primary transmission max(0, 1 − r|δ|) — this is exactly the
geometric open fraction (w − h|δ|)/w of the model above.

Grid lines: the strip shadow (interspace 1, strip the strip/interspace
transmission ratio) is integrated exactly over 8 sub-samples per pixel,
box-averaged over the pixel aperture and decimated, so that a strip
frequency above the Nyquist frequency aliases to |N − k·fs| as on real
detectors (70 lines/cm on 139 µm → 0.19 cycles/mm). A moving (Bucky) grid
averages over the phase, which leaves a uniform image.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xraylab.physics.attenuation import DENSITIES, linear_attenuation
from xraylab.physics.table_cache import disk_memo


class GridConfig(BaseModel):
    """Linear focused anti-scatter grid. Lengths in mm; densities from :mod:`xraylab.physics.attenuation`.

    Defaults: the ``chest_pa`` grid, 12:1 at 40 lines/cm focused at 1800 mm, lead strips 36 µm,
    aluminium interspace, 2 × 0.5 mm carbon-fibre covers (typical of commercial Al-interspaced grids).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    ratio: float = Field(12.0, ge=2.0, le=25.0, description="grid ratio h / w (strip height over interspace width)")
    lines_per_cm: float = Field(40.0, gt=5.0, le=120.0, description="strip density, lines/cm")
    strip_material: str = Field("Pb", description="lamella material (attenuation.py name)")
    strip_thickness_mm: float = Field(0.036, gt=0.0, le=0.5, description="lamella thickness d, mm")
    interspace_material: str = Field("Al", description="interspace material: Al, paper (fibre), C, ...")
    cover_material: str = Field("C", description="cover material (front + back)")
    cover_thickness_mm: float = Field(1.0, ge=0.0, le=5.0, description="total cover thickness, mm")
    focus_mm: float | None = Field(1800.0, gt=0, description="focusing distance f0, mm; None = parallel grid")
    orientation: Literal["vertical", "horizontal"] = Field(
        "vertical", description="strip direction in the image; 'vertical' strips make a pattern along columns"
    )
    moving: bool = Field(False, description="reciprocating (Bucky) grid: strip shadows average out")
    lateral_decenter_mm: float = Field(0.0, ge=-500, le=500, description="focal-spot offset b across strips, mm")
    phase_mm: float = Field(0.0, description="position of a strip edge relative to the detector centre, mm")

    @model_validator(mode="after")
    def _check(self) -> "GridConfig":
        if self.strip_thickness_mm >= self.period_mm:
            raise ValueError(
                f"strip_thickness_mm ({self.strip_thickness_mm}) must be smaller than the period "
                f"10/lines_per_cm = {self.period_mm:.4f} mm"
            )
        for name in ("strip_material", "interspace_material", "cover_material"):
            if getattr(self, name) not in DENSITIES:
                raise ValueError(f"{name}: unknown material {getattr(self, name)!r}; known: {', '.join(DENSITIES)}")
        return self

    @property
    def period_mm(self) -> float:
        """Strip period P = 10 / lines_per_cm, mm."""
        return 10.0 / self.lines_per_cm

    @property
    def interspace_mm(self) -> float:
        """Interspace width w = P − d, mm."""
        return self.period_mm - self.strip_thickness_mm

    @property
    def height_mm(self) -> float:
        """Strip height h = ratio · w, mm."""
        return self.ratio * self.interspace_mm


def _mu_mm(material: str, energies_keV) -> np.ndarray:
    """Linear attenuation in 1/mm at ``energies_keV`` ``[E]``."""
    return linear_attenuation(material, np.asarray(energies_keV, dtype=np.float64)) / 10.0


def _as_numpy(energies_keV) -> np.ndarray:
    if isinstance(energies_keV, torch.Tensor):
        energies_keV = energies_keV.detach().cpu().numpy()
    return np.atleast_1d(np.asarray(energies_keV, dtype=np.float64))


def _strip_cumulative(x: np.ndarray, period: float, d: float) -> np.ndarray:
    """Cumulative strip length L(x) of the periodic strip pattern (strips on [kP, kP + d)), mm."""
    k = np.floor(x / period)
    return k * d + np.minimum(x - k * period, d)


def angular_transmission(
    cfg: GridConfig, energies_keV, tan_x, tan_y=0.0, n_positions: int = 256
) -> np.ndarray:
    """Grid transmission for rays of slope ``tan_x`` across and ``tan_y`` along the strips.

    ``tan_x``/``tan_y`` broadcast to an angle shape ``[A]``; returns float64 ``[E, A]`` (covers included),
    averaged over ``n_positions`` entry positions in one period (midpoint rule).
    """
    e = _as_numpy(energies_keV)
    tx = np.abs(np.atleast_1d(np.asarray(tan_x, dtype=np.float64)))
    ty = np.atleast_1d(np.asarray(tan_y, dtype=np.float64))
    tx, ty = np.broadcast_arrays(tx, ty)
    p, d, h = cfg.period_mm, cfg.strip_thickness_mm, cfg.height_mm
    x0 = (np.arange(n_positions) + 0.5) / n_positions * p  # [U]
    txe = np.maximum(tx, 1e-9)[:, None]  # [A, 1]
    sec = np.sqrt(1.0 + tx**2 + ty**2)[:, None]
    dl = _strip_cumulative(x0[None, :] + h * txe, p, d) - _strip_cumulative(x0[None, :], p, d)
    l_strip = dl / txe * sec  # [A, U]
    l_strip = np.where(tx[:, None] < 1e-9, np.where(x0[None, :] < d, h * sec, 0.0), l_strip)
    l_inter = h * sec - l_strip
    mu_s, mu_i, mu_c = _mu_mm(cfg.strip_material, e), _mu_mm(cfg.interspace_material, e), _mu_mm(cfg.cover_material, e)
    out = np.empty((e.size, tx.size))
    for i in range(e.size):
        t = np.exp(-mu_s[i] * l_strip - mu_i[i] * l_inter).mean(axis=1)
        out[i] = t * np.exp(-mu_c[i] * cfg.cover_thickness_mm * sec[:, 0])
    return out


def _hemisphere_quadrature(n_theta: int = 48, n_phi: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slopes (tan_x, tan_y) and weights for ∫ f cos θ sin θ dθ dφ / π over the forward hemisphere."""
    # Substitute s = sin²θ: cos θ sin θ dθ = ds/2 → uniform in s on [0, 1) (midpoints).
    s = (np.arange(n_theta) + 0.5) / n_theta
    theta = np.arcsin(np.sqrt(s))
    phi = (np.arange(n_phi) + 0.5) / n_phi * (math.pi / 2)  # one quadrant, by symmetry
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    tan_t = np.tan(th)
    w = np.full(th.size, 1.0 / th.size)
    return (tan_t * np.cos(ph)).ravel(), (tan_t * np.sin(ph)).ravel(), w


def grid_transmission(cfg: GridConfig | None, energies_keV) -> tuple[torch.Tensor, torch.Tensor]:
    """Primary and scatter transmission ``(Tp [E], Ts [E])``, float32, at ``energies_keV`` ``[E]`` (keV).

    Tp: rays along the strips (open fraction × interspace and cover attenuation + strip penetration).
    Ts: average over an isotropic scatter radiance on the forward hemisphere (see module docstring).
    ``None`` or a disabled grid gives ones.
    """
    e = _as_numpy(energies_keV)
    if cfg is None or not cfg.enabled:
        one = torch.ones(e.size, dtype=torch.float32)
        return one, one.clone()
    tp, ts = _transmission_cached(cfg.model_dump_json(), tuple(float(x) for x in e))
    return torch.tensor(tp, dtype=torch.float32), torch.tensor(ts, dtype=torch.float32)


@disk_memo("grid_transmission")
def _transmission_cached(cfg_json: str, energies: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    cfg = GridConfig.model_validate_json(cfg_json)
    e = np.asarray(energies)
    tp = angular_transmission(cfg, e, 0.0)[:, 0]
    tx, ty, w = _hemisphere_quadrature()
    ts = angular_transmission(cfg, e, tx, ty, n_positions=128) @ w
    tp.setflags(write=False)
    ts.setflags(write=False)
    return tp, ts


def _across_coordinates_mm(cfg: GridConfig, geometry, n_sub: int = 1) -> tuple[np.ndarray, int, float]:
    """Positions across the strips relative to the detector (grid) centre for n_sub samples per pixel."""
    n = geometry.cols if cfg.orientation == "vertical" else geometry.rows
    p = geometry.pitch_mm
    edges = (np.arange(n * n_sub + 1) / n_sub - n / 2) * p
    return edges, n, p


def grid_cutoff(cfg: GridConfig | None, geometry, device=None) -> torch.Tensor:
    """Primary transmission relative to Tp from focus mismatch and decentering, ``[1, 1, H, W]`` in [0, 1].

    REFERENCES.md §6: δ(c) = c(1/f1 − 1/f0) − b/f1, factor max(0, 1 − r|δ|), with c the pixel position across
    the strips from the grid (detector) centre, f1 = SID, f0 = ``focus_mm`` (∞ for a parallel grid) and b the
    focal-spot offset across the strips from the grid centre: ``lateral_decenter_mm`` plus the geometry's source
    offset minus its principal-point offset. Averaged over the pixel aperture (8 sub-samples).
    """
    h, w = geometry.rows, geometry.cols
    if cfg is None or not cfg.enabled:
        return torch.ones(1, 1, h, w, device=device)
    axis = 0 if cfg.orientation == "vertical" else 1
    b = cfg.lateral_decenter_mm + geometry.source_offset_mm[axis] - geometry.principal_point_mm[axis]
    edges, n, _ = _across_coordinates_mm(cfg, geometry, 8)
    c = 0.5 * (edges[1:] + edges[:-1])
    inv_f0 = 0.0 if cfg.focus_mm is None else 1.0 / cfg.focus_mm
    f1 = geometry.sid_mm
    delta = c * (1.0 / f1 - inv_f0) - b / f1
    prof = np.clip(1.0 - cfg.ratio * np.abs(delta), 0.0, 1.0).reshape(n, 8).mean(axis=1)
    prof_t = torch.as_tensor(prof, dtype=torch.float32, device=device)
    out = prof_t.view(1, 1, 1, w).expand(1, 1, h, w) if axis == 0 else prof_t.view(1, 1, h, 1).expand(1, 1, h, w)
    return out.contiguous()


def grid_line_pattern(
    cfg: GridConfig | None, geometry, device=None, energy_keV: float = 60.0, n_sub: int = 8
) -> torch.Tensor:
    """Strip-shadow pattern of the primary, ``[1, 1, H, W]`` float32 with mean ≈ 1 (multiply after Tp).

    The shadow is 1 over the interspace and exp(−(μ_s − μ_i)·h) over a strip (strip penetration relative to
    the interspace at ``energy_keV``), normalised by its period mean so that Tp carries the average loss. Each of
    ``n_sub`` (≥ 8) sub-samples per pixel is integrated exactly over its interval, the sub-samples are
    box-averaged over the pixel aperture (decimation), so frequencies above Nyquist alias as on a real
    detector. A moving grid (or ``None``/disabled) gives ones.
    """
    h, w = geometry.rows, geometry.cols
    if cfg is None or not cfg.enabled or cfg.moving:
        return torch.ones(1, 1, h, w, device=device)
    n_sub = max(8, int(n_sub))
    edges, n, _ = _across_coordinates_mm(cfg, geometry, n_sub)
    p, d = cfg.period_mm, cfg.strip_thickness_mm
    x = edges - cfg.phase_mm
    strip_frac = np.diff(_strip_cumulative(x, p, d)) / np.diff(x)  # exact fraction of strip in each sub-sample
    ratio = float(np.exp(-(_mu_mm(cfg.strip_material, [energy_keV])[0] - _mu_mm(cfg.interspace_material,
                                                                              [energy_keV])[0]) * cfg.height_mm))
    t = 1.0 - strip_frac * (1.0 - ratio)
    t = t / (1.0 - (d / p) * (1.0 - ratio))  # period mean → 1
    prof = t.reshape(n, n_sub).mean(axis=1)
    prof_t = torch.as_tensor(prof, dtype=torch.float32, device=device)
    if cfg.orientation == "vertical":
        return prof_t.view(1, 1, 1, w).expand(1, 1, h, w).contiguous()
    return prof_t.view(1, 1, h, 1).expand(1, 1, h, w).contiguous()
