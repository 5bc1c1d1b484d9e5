"""``XRaySimulator``: the physics chain from material line integrals to a radiograph .

Stages (each timed in ``stage_times``, seconds):
``spectrum``   incident photons per pixel and bin N₀(E) = Φ_spekpy(E, SID)·p²·cos³θ·heel(E, pixel)
``primary``    N₀·exp(−Σₘ (μ/ρ)ₘ ∫ρₘ dl) (exact focal-spot mode: averaged over renders from several source points)
``focal_spot`` kernel blur F·(M−1) of the primary (fast mode), applied to the detector's two energy moments
``collimation`` field with penumbra × primary
``scatter``    kernel-superposition scatter estimate from the primary, Compton-shifted spectrum, × the grid's Ts(E)
``grid``       Tp(E)·cut-off·strip shadows on the primary (Ts(E) acts inside ``scatter``)
``detector``   absorption, quantum noise before blur, MTF, electronics, flat field
``postprocess`` −log, window/LUT, enhancement, bit depth

Input: ``{material: [B, 1, H, W]}`` density line integrals in g/cm² and a :class:`Geometry`; output layers are
``[B, 1, H, W]`` float32: ``image`` (display, [0, 1]), ``primary`` and ``scatter`` (expected detector signal of
each, relative to the open-field flood), ``noise_free`` (their sum after the detector blur, flat-fielded),
``normalized`` (noisy flat-fielded image), ``signal`` (raw detector output, ADU), ``field`` (collimation).

Gradients: ``simulate(..., params={...})`` takes tensors for mAs, filtration, kVp, scatter amplitude, focal-spot
size and detector blur (:mod:`xraylab.physics.differentiable`); every layer but ``image`` is differentiable
w.r.t. them and the line integrals (noise reparameterised, quantisation straight-through).
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from xraylab.physics import detector as det
from xraylab.physics.collimation import CollimationConfig, collimation_field
from xraylab.physics.config import PhysicsConfig
from xraylab.physics.differentiable import air_kerma_tensor, check_params, kvp_grid, spectrum_tensor
from xraylab.physics.focal_spot import apply_focal_spot, source_offsets_mm
from xraylab.physics.grid import grid_cutoff, grid_line_pattern, grid_transmission
from xraylab.physics.postprocess import postprocess
from xraylab.physics.primary import incident_fluence, primary_fluence
from xraylab.physics.scatter import scatter_estimate
from xraylab.physics.spectrum import make_spectrum

RenderFn = Callable[[object], dict]


class XRaySimulator:
    """Configured physics chain. ``device``: where every tensor lives (CPU or CUDA, same code)."""

    def __init__(self, config: PhysicsConfig | None = None, device: torch.device | str = "cpu"):
        if config is not None and not isinstance(config, PhysicsConfig):
            raise TypeError("XRaySimulator takes a PhysicsConfig; resolve a preset name with "
                            "xraylab.physics.presets.resolve_preset / preset_config")
        self.config: PhysicsConfig = config if config is not None else PhysicsConfig()
        self.device = torch.device(device)
        self.stage_times: dict[str, float] = {}
        self.info: dict[str, float] = {}
        self._cache_key: tuple | None = None
        self._cache: dict = {}

    # ------------------------------------------------------------------ helpers
    def _tick(self, name: str, t0: float) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        t1 = time.perf_counter()
        self.stage_times[name] = self.stage_times.get(name, 0.0) + (t1 - t0)
        return t1

    def _fixed_layers(self, geometry, config: PhysicsConfig | None = None) -> dict:
        """Everything that depends only on config and geometry (cached): N₀, field, grid factors, flood, gain.

        ``config``: another config than ``self.config`` (the kVp grid point of a differentiable ``kvp``)."""
        cfg, dev = config or self.config, self.device
        key = (cfg.model_dump_json(), geometry.model_dump_json(), str(self.device))
        if self._cache_key == key:
            return self._cache
        energies, n0 = incident_fluence(cfg.spectrum, cfg.heel, geometry, dev)
        field = collimation_field(cfg.collimation, geometry, dev, focal_spot=cfg.focal_spot)
        grid_on = cfg.grid is not None and cfg.grid.enabled
        tp, ts = grid_transmission(cfg.grid, energies.cpu())
        tp = tp.to(dev)
        cut = grid_cutoff(cfg.grid, geometry, dev)
        lines = grid_line_pattern(cfg.grid, geometry, dev)
        # Flat-field calibration: open field (no collimation), grid in place, without its strip shadows so
        # that grid lines and their aliasing stay in the image (REFERENCES.md §6).
        flood = det.signal_moments(n0, energies, cfg.detector, tp.view(-1))[:, :1] * cut
        # Air kerma free in air per unit signal on the central ray without grid: sets gain, saturation, e-noise.
        s0 = make_spectrum(cfg.spectrum, geometry.sid_mm)
        e_w = det.signal_weights(cfg.detector, energies)
        central = float((torch.as_tensor(s0.fluence_per_mm2, dtype=torch.float32, device=dev)
                         * geometry.pitch_mm**2 * e_w).sum())
        self._cache = {
            "energies": energies, "n0": n0, "field": field, "flood": flood,
            "tp": tp, "cut_lines": cut * lines, "cut": cut,
            "ts": ts.to(dev) if grid_on else None,
            "ugy_per_signal": s0.air_kerma_ugy / max(central, 1e-30),
            "info": {"mean_keV": s0.mean_keV, "hvl1_mm_al": s0.hvl1_mm_al,
                     "detector_air_kerma_ugy": s0.air_kerma_ugy,
                     "grid_Tp_mean": float(tp.mean()), "grid_Ts_mean": float(ts.mean())},
        }
        self._cache_key = key
        return self._cache

    def _primary(self, materials, geometry, n0, energies, render: RenderFn | None) -> torch.Tensor:
        fs = self.config.focal_spot
        if fs.enabled and fs.mode == "exact":
            if render is None:
                raise ValueError("focal_spot.mode='exact' needs a render callback: render(geometry) -> materials")
            offsets, weights = source_offsets_mm(fs)
            du0, dv0 = geometry.source_offset_mm
            total = None
            for (du, dv), w in zip(offsets.tolist(), weights.tolist()):
                g = geometry.model_copy(update={"source_offset_mm": (du0 + du, dv0 + dv)})
                p = primary_fluence(n0, _to(render(g), self.device), energies) * w
                total = p if total is None else total + p
            assert total is not None  # source_offsets_mm gives n_sources >= 1 points
            return total
        return primary_fluence(n0, materials, energies)

    def _scatter(self, primary, flood, energies, geometry, field, ts, amplitude_scale=None) -> torch.Tensor | None:
        """Scatter after the grid ``[B, E, H, W]`` (None when scatter is off); ``ts``: grid Ts(E) or None.

        The grid's Ts(E) acts on the (Compton-shifted) scatter spectrum, so the scatter transmission the image
        gets is the grid model's Ts weighted by the scatter spectrum (REFERENCES.md §6).
        """
        cfg = self.config.scatter
        if cfg is None or not cfg.enabled:
            return None
        return scatter_estimate(primary, flood, energies, geometry, cfg, field, grid_Ts=ts,
                                amplitude_scale=amplitude_scale)

    def _with_params(self, fixed: dict, geometry, params: dict, spec_cfg
                     ) -> tuple[torch.Tensor, torch.Tensor, float | torch.Tensor]:
        """(n0, flood, ugy_per_signal) with the spectrum parameters of ``params`` (mas, filtration, kvp) applied."""
        if not any(k in params for k in ("mas", "filtration", "kvp")):
            return fixed["n0"], fixed["flood"], fixed["ugy_per_signal"]
        dev, dcfg = self.device, self.config.detector
        e_ref, phi_ref = spectrum_tensor(spec_cfg, geometry.sid_mm, {}, torch.float32, dev)
        e, phi = spectrum_tensor(self.config.spectrum, geometry.sid_mm, params, torch.float32, dev)
        if phi.numel() != phi_ref.numel():
            raise ValueError("differentiable kvp: spectrum bins do not match the grid voltage's")
        ratio = torch.where(phi_ref > 0, phi / phi_ref.clamp_min(1e-30), torch.zeros_like(phi))
        n0 = fixed["n0"] * ratio.view(1, -1, 1, 1)
        flood = det.signal_moments(n0, e, dcfg, fixed["tp"].view(-1))[:, :1] * fixed["cut"]
        central = (phi * geometry.pitch_mm**2 * det.signal_weights(dcfg, e)).sum()
        return n0, flood, air_kerma_tensor(e, phi) / central.clamp_min(1e-30)

    # ------------------------------------------------------------------ main
    def simulate(
        self,
        materials: dict[str, torch.Tensor],
        geometry,
        generator: torch.Generator | None = None,
        render: RenderFn | None = None,
        collimation: CollimationConfig | None = None,
        params: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Simulate radiographs from density line integrals.

        materials: ``{name: [B, 1, H, W]}`` ∫ρ dl in g/cm² (names of :mod:`xraylab.physics.attenuation`, e.g.
        air, lung, adipose, soft_tissue, bone, water); geometry: the :class:`Geometry` they were rendered with
        (H = rows, W = cols). generator: ``torch.Generator`` on ``device`` for the noise (default: seed 0).
        render: ``render(geometry) -> materials`` callback, needed only for ``focal_spot.mode='exact'``.
        collimation: this view's collimation instead of ``config.collimation`` (``field: auto`` resolved against
        the CT by :func:`xraylab.physics.fov.auto_collimation`); None: the config's.
        params: differentiable replacements of config values, ``{key: tensor}`` with the keys of
        :mod:`xraylab.physics.differentiable` (mas, filtration, kvp, scatter_amplitude, focal_spot, blur_mm);
        gradients flow from every layer but ``image`` to them and to ``materials``.
        Returns the layers listed in the module docstring, each ``[B, 1, H, W]`` float32.
        """
        params = check_params(params)
        cfg = self.config
        self.stage_times = {}
        materials = _to(materials, self.device)
        h, w = geometry.rows, geometry.cols
        for name, m in materials.items():
            if m.shape[-2:] != (h, w):
                raise ValueError(f"line integral {name!r} is {tuple(m.shape[-2:])}, geometry is {(h, w)}")
        if generator is None:
            generator = torch.Generator(device=self.device).manual_seed(0)
        t = time.perf_counter()

        spec_cfg = cfg.spectrum
        if "kvp" in params and spec_cfg.monoenergetic_keV is None:
            spec_cfg = spec_cfg.model_copy(update={"kvp": kvp_grid(spec_cfg, params["kvp"])[1]})
        fixed = self._fixed_layers(geometry, cfg if spec_cfg is cfg.spectrum else
                                   cfg.model_copy(update={"spectrum": spec_cfg}))
        energies, field = fixed["energies"], fixed["field"]
        n0, flood, ugy_per_signal = self._with_params(fixed, geometry, params, spec_cfg)
        if collimation is not None and collimation != cfg.collimation:
            field = collimation_field(collimation, geometry, self.device, focal_spot=cfg.focal_spot)
        t = self._tick("spectrum", t)

        primary = self._primary(materials, geometry, n0, energies, render)  # [B, E, H, W]
        dcfg = cfg.detector
        # The detector needs two energy moments of the fluence (detector.moment_weights); the grid's Tp(E) is
        # folded into the weights. Everything linear and energy-independent after this point (focal-spot blur,
        # collimation, grid cut-off and strip shadows) then acts on 2 channels instead of E.
        m_prim = det.signal_moments(primary, energies, dcfg, fixed["tp"])  # [B, 2, H, W]
        t = self._tick("primary", t)

        m_prim = apply_focal_spot(m_prim, cfg.focal_spot, geometry, params.get("focal_spot"))
        t = self._tick("focal_spot", t)

        m_prim = m_prim * field
        # what leaves the patient inside the field drives the scatter (in place unless autograd needs the input)
        primary = primary * field if primary.requires_grad else primary.mul_(field)
        t = self._tick("collimation", t)

        # scatter_estimate applies the grid's Ts(E) itself (grid_Ts).
        scatter = self._scatter(primary, n0, energies, geometry, field, fixed["ts"], params.get("scatter_amplitude"))
        del primary
        m_scat = None if scatter is None else det.signal_moments(scatter, energies, dcfg)
        del scatter
        t = self._tick("scatter", t)

        m_prim = m_prim * fixed["cut_lines"]
        t = self._tick("grid", t)

        denom = flood.clamp_min(1e-30)
        prim_layer = m_prim[:, :1] / denom
        if m_scat is None:
            scat_layer = torch.zeros_like(prim_layer)
            total = m_prim
        else:
            scat_layer = m_scat[:, :1] / denom
            total = m_prim + m_scat
        out = det.detect_moments(total, flood, dcfg, geometry.pitch_mm, ugy_per_signal, generator,
                                 params.get("blur_mm"))
        t = self._tick("detector", t)

        shown = out["normalized"] if cfg.postprocess.flat_field else out["uncorrected"]
        image = postprocess(shown, cfg.postprocess, geometry.pitch_mm, mask=field)
        self._tick("postprocess", t)

        self.info = dict(fixed["info"])
        b = prim_layer.shape[0]
        return {
            "image": image,
            "primary": prim_layer,
            "scatter": scat_layer,
            "noise_free": out["noise_free"],
            "normalized": out["normalized"],
            "signal": out["signal"],
            "field": field.expand(b, 1, h, w),
        }


def _to(materials: dict, device) -> dict:
    return {k: v.to(device=device, dtype=torch.float32) for k, v in materials.items()}
