"""Measurements of the physics chain against REFERENCES.md §6–§8.

Every number here is *measured on the simulator's output* (``XRaySimulator.simulate``), not read from a
model parameter, so that it checks what an image actually contains:

* :func:`chest_scatter_fractions` — scatter fraction SF = S / (S + P) (detector signal, ROI sums) behind the
  lungs and the mediastinum of the default CT under a physics config (e.g. ``chest_pa`` with and without grid).
  ROIs (:func:`chest_rois`), from the projected path lengths of the CT's label map:
  *lungs* = rays with a lung path ≥ 50 % of the 95th percentile of the lung path and no cardiomediastinal
  path (the aerated lung fields, without their thin rims, the heart and the retro-diaphragmatic recesses);
  *mediastinum* = rays through the cardiomediastinal silhouette (heart + great vessels + trachea +
  oesophagus) whose lung path is < 30 % of that percentile (where the mediastinum is not overlapped by lung).
* :func:`grid_effective_ts` — the scatter transmission the simulator applies: scatter signal with the grid over
  scatter signal without it (absolute units, central ROI of a 20 cm water slab), beside the grid model's
  Ts(E) (:func:`~xraylab.physics.grid.grid_transmission`) weighted by the scatter's detector-signal spectrum.
* :func:`contrast_improvement` — contrast improvement factor of the grid, K = C_grid / C_open, of a thin
  water detail (1 g/cm², 2 cm wide) on a 20 cm water slab, beside Tp / Tt of the same grid model
  (IEC 60627: Tt = (Tp + SPR·Ts) / (1 + SPR), REFERENCES.md §6).
* :func:`noise_equivalent_kerma` — electronic-noise-equivalent air kerma measured in an open-field image:
  K · var_electronic / var_quantum (each variance measured with only that noise source on).
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from xraylab.physics.config import PhysicsConfig, with_overrides
from xraylab.physics.geometry import Geometry


# ------------------------------------------------------------------------------------------- default CT
@functools.lru_cache(maxsize=4)
def chest_ct_layers(n: int = 128, downsample: int = 2) -> tuple[Geometry, dict[str, torch.Tensor], dict]:
    """Material line integrals (g/cm², ``[1, 1, n, n]``) and ROI masks of the default CT, ``chest_pa`` geometry.

    ``downsample``: CT coarsening factor (2 → 256 × 256 × 66 voxels); ``n``: detector pixels per side.
    Returns ``(geometry, materials, rois)`` with ``rois = {"lungs": [n, n] bool, "mediastinum": [n, n] bool,
    "valid": [n, n] bool}`` (``valid``: rays crossing the CT's whole S–I extent, :func:`xraylab.physics.fov.valid_rays`,
    against which ``collimation.field: auto`` closes the blades as in ``xraylab render``).
    """
    from xraylab.io.ct import load_default_ct
    from xraylab.physics.fov import valid_rays
    from xraylab.physics.geometry import preset_geometry
    from xraylab.physics.projector import Projector

    ct = load_default_ct(downsample=downsample)
    g = preset_geometry("chest_pa", rows=n, cols=n)
    proj = Projector(ct, structures=["lungs", "cardiomediastinum"]).project(g)
    mats = {k: v.detach().float() for k, v in proj.materials.items()}
    rois = chest_rois(proj.paths["lungs"][0, 0], proj.paths["cardiomediastinum"][0, 0])
    rois["valid"] = valid_rays(ct, g).reshape(n, n).bool()
    return g, mats, rois


def view_collimation(cfg: PhysicsConfig, geometry: Geometry, valid: torch.Tensor):
    """The collimation ``xraylab render`` would use for this view (``field: auto`` resolved against ``valid``)."""
    from xraylab.physics.fov import auto_collimation

    return auto_collimation(cfg.collimation, geometry, valid, cfg.focal_spot)[0]


def chest_rois(lung_path: torch.Tensor, cm_path: torch.Tensor) -> dict[str, torch.Tensor]:
    """Lung and mediastinum ROIs ``[H, W]`` bool from path lengths (mm) of lungs and cardiomediastinum (module doc)."""
    ref = torch.quantile(lung_path[lung_path > 0].float(), 0.95)
    return {"lungs": (lung_path >= 0.5 * ref) & (cm_path <= 0), "mediastinum": (cm_path > 0) & (lung_path < 0.3 * ref)}


def _signal_layers(cfg: PhysicsConfig, geometry: Geometry, materials: dict, collimation=None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Primary and scatter detector signal ``[H, W]`` in absolute units (layer × flood)."""
    from xraylab.physics.simulator import XRaySimulator

    sim = XRaySimulator(cfg)
    with torch.no_grad():
        out = sim.simulate(materials, geometry, collimation=collimation)
    flood = sim._fixed_layers(geometry)["flood"][0, 0]
    return out["primary"][0, 0] * flood, out["scatter"][0, 0] * flood


def chest_scatter_fractions(cfg: PhysicsConfig, n: int = 128, downsample: int = 2) -> dict[str, dict[str, float]]:
    """``{"lungs"|"mediastinum": {"sf": S/(S+P), "spr": S/P}}`` on the default CT (ROI sums of detector signal)."""
    g, mats, rois = chest_ct_layers(n, downsample)
    p, s = _signal_layers(cfg, g, mats, view_collimation(cfg, g, rois["valid"]))
    out = {}
    for name in ("lungs", "mediastinum"):
        m = rois[name]
        ss, pp = float(s[m].sum()), float(p[m].sum())
        out[name] = {"sf": ss / (ss + pp), "spr": ss / pp}
    return out


# ------------------------------------------------------------------------------------------- slabs
def _slab(geometry: Geometry, tau_cm: float, detail_g_cm2: float = 0.0, detail_mm: float = 20.0) -> dict:
    h, w = geometry.rows, geometry.cols
    water = torch.full((1, 1, h, w), float(tau_cm))
    if detail_g_cm2:
        p = geometry.pitch_mm
        yy, xx = torch.meshgrid((torch.arange(h) - (h - 1) / 2) * p, (torch.arange(w) - (w - 1) / 2) * p,
                                indexing="ij")
        water = water + detail_g_cm2 * ((yy.abs() <= detail_mm / 2) & (xx.abs() <= detail_mm / 2)).float()
    return {"water": water}


def _centre(x: torch.Tensor, half: int = 2) -> float:
    c0, c1 = x.shape[-2] // 2, x.shape[-1] // 2
    return float(x[..., c0 - half:c0 + half, c1 - half:c1 + half].mean())


def _slab_config(cfg: PhysicsConfig, grid: bool) -> PhysicsConfig:
    """``cfg`` without heel, focal spot and grid lines/cut-off effects that do not bear on Ts and K."""
    upd: dict[str, Any] = {"heel": cfg.heel.model_copy(update={"enabled": False}),
                           "focal_spot": cfg.focal_spot.model_copy(update={"enabled": False})}
    if grid and cfg.grid is not None:
        upd["grid"] = cfg.grid.model_copy(update={"moving": True})
    return cfg.model_copy(update=upd) if grid else with_overrides(cfg.model_copy(update=upd), ["grid=none"])


def _weighted_ts_tp(cfg: PhysicsConfig, geometry: Geometry, materials: dict) -> dict[str, float]:
    """Grid-model Tp and Ts weighted by the no-grid primary / scatter detector-signal spectra (central ROI)."""
    from xraylab.physics import detector as det
    from xraylab.physics.grid import grid_transmission
    from xraylab.physics.primary import primary_fluence
    from xraylab.physics.scatter import scatter_estimate
    from xraylab.physics.simulator import XRaySimulator

    open_cfg = _slab_config(cfg, grid=False)
    sim = XRaySimulator(open_cfg)
    fx = sim._fixed_layers(geometry)
    e = fx["energies"]
    prim = primary_fluence(fx["n0"], materials, e) * fx["field"]
    assert open_cfg.scatter is not None, "grid numbers need a scatter model (scatter: none in the config)"
    scat = scatter_estimate(prim, fx["n0"], e, geometry, open_cfg.scatter, fx["field"])
    w = det.signal_weights(cfg.detector, e)
    c0, c1 = geometry.rows // 2, geometry.cols // 2
    sl = (0, slice(None), slice(c0 - 2, c0 + 2), slice(c1 - 2, c1 + 2))
    wp, ws = prim[sl].sum((-2, -1)) * w, scat[sl].sum((-2, -1)) * w
    tp, ts = grid_transmission(cfg.grid, e)
    return {"tp": float((tp * wp).sum() / wp.sum()), "ts": float((ts * ws).sum() / ws.sum()),
            "spr_open": float(ws.sum() / wp.sum())}


def grid_effective_ts(cfg: PhysicsConfig, tau_cm: float = 20.0, n: int = 64) -> dict[str, float]:
    """Effective Ts the simulator applies vs the grid model's spectrum-weighted Ts on a ``tau_cm`` water slab.

    Uses ``cfg``'s spectrum, scatter, grid and detector on the ``chest_pa`` geometry at ``n`` × ``n`` pixels.
    Returns ``{"ts_effective", "ts_model", "tp_model"}``.
    """
    from xraylab.physics.geometry import preset_geometry

    g = preset_geometry("chest_pa", rows=n, cols=n)
    mats = _slab(g, tau_cm)
    _, s_grid = _signal_layers(_slab_config(cfg, True), g, mats)
    _, s_open = _signal_layers(_slab_config(cfg, False), g, mats)
    model = _weighted_ts_tp(cfg, g, mats)
    return {"ts_effective": _centre(s_grid) / _centre(s_open), "ts_model": model["ts"], "tp_model": model["tp"]}


def contrast_improvement(cfg: PhysicsConfig, tau_cm: float = 20.0, n: int = 257) -> dict[str, float]:
    """Contrast improvement factor of ``cfg.grid`` on a ``tau_cm`` water slab, measured vs Tp/Tt of its model.

    Detail: +1 g/cm² water in the central pixel (odd ``n``; 1.7 mm at n = 257 on the 43 cm detector): small, as
    the contrast object of IEC 60627, so that the scatter it removes itself stays negligible (the scatter kernel's
    narrow core, ≈ 7 mm at the detector, would otherwise carry part of the detail's contrast and lower K: 2.73 for
    a 6.7 mm detail, 3.12 for 3.4 mm); contrast C = 1 − signal(detail) / signal(background) of the noise-free
    total (primary + scatter) detector signal there. Returns ``{"cif", "tp_over_tt", "spr_open"}``.
    """
    from xraylab.physics.geometry import preset_geometry

    n = n if n % 2 else n + 1
    g = preset_geometry("chest_pa", rows=n, cols=n)
    bg, det_ = _slab(g, tau_cm), _slab(g, tau_cm, 1.0, 1.02 * g.pitch_mm)
    c0 = n // 2

    def contrast(grid: bool) -> float:
        c = _slab_config(cfg, grid)
        p0, s0 = _signal_layers(c, g, bg)
        p1, s1 = _signal_layers(c, g, det_)
        return 1.0 - float((p1 + s1)[c0, c0]) / float((p0 + s0)[c0, c0])

    model = _weighted_ts_tp(cfg, g, bg)
    spr = model["spr_open"]
    tt = (model["tp"] + spr * model["ts"]) / (1.0 + spr)
    return {"cif": contrast(True) / contrast(False), "tp_over_tt": model["tp"] / tt, "spr_open": spr}


# ------------------------------------------------------------------------------------------- noise
def noise_equivalent_kerma(cfg: PhysicsConfig, n: int = 96, pitch_mm: float | None = None, seed: int = 0
                           ) -> dict[str, float]:
    """Electronic-noise-equivalent kerma measured in an open-field image vs the configured one (µGy).

    Open field (no object, collimation, heel, scatter, grid or gain non-uniformity, no quantisation), detector
    as in ``cfg``. var_q: pixel variance (half the variance of the difference of two seeds) of the ``signal``
    with quantum noise only; var_e: with electronic noise only; K: free-in-air kerma at the detector.
    NEK = K · var_e / var_q (the kerma at which they are equal).
    ``pitch_mm``: render pitch (default the detector's native pitch, where the scintillator blur matters most).
    """
    from xraylab.physics.geometry import preset_geometry
    from xraylab.physics.simulator import XRaySimulator
    from xraylab.physics.spectrum import detector_air_kerma_ugy

    g = preset_geometry("chest_pa", rows=n, cols=n, pitch_mm=pitch_mm or cfg.detector.pixel_pitch_mm)
    base = cfg.model_copy(update={
        "heel": cfg.heel.model_copy(update={"enabled": False}),
        "collimation": cfg.collimation.model_copy(update={"enabled": False}),
        "scatter": None, "grid": None,
        "detector": cfg.detector.model_copy(update={"bit_depth": 0, "gain_nonuniformity": 0.0,
                                                    "dead_pixel_fraction": 0.0, "dead_lines": 0}),
    })
    mats = {"air": torch.zeros(1, 1, n, n)}

    def var(**det_upd) -> float:
        c = base.model_copy(update={"detector": base.detector.model_copy(update=det_upd)})
        sim = XRaySimulator(c)
        sig = []
        for k in range(2):  # difference of two seeds: removes the deterministic (cos³θ) shading
            gen = torch.Generator().manual_seed(seed + k)
            with torch.no_grad():
                sig.append(sim.simulate(mats, g, generator=gen)["signal"][0, 0].double())
        diff = (sig[0] - sig[1])[8:-8, 8:-8]  # away from the reflect-padded borders of the blur
        return float(diff.var()) / 2.0

    k = detector_air_kerma_ugy(cfg.spectrum, g)
    var_q = var(electronic_noise_ugy=0.0)
    var_e = var(quantum_noise=False)
    return {"nek_measured": k * var_e / var_q, "nek_configured": cfg.detector.electronic_noise_ugy, "kerma_ugy": k}
