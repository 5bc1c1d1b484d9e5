"""Differentiable physics parameters of :meth:`XRaySimulator.simulate`.

The configs (:class:`~xraylab.physics.config.PhysicsConfig`) hold plain floats; a caller that wants gradients passes
``params``, a mapping of the keys below to tensors (0-d, or ``[L]`` for the filtration), which *replace* the
config's value on the forward path:

============== ============================== =========================================================================
key            unit                            how it enters
============== ============================== =========================================================================
``mas``        mAs                             scales the incident fluence (and the flood with it, as a recalibrated
                                               flat field would): the raw ``signal`` and the noise follow it.
``filtration`` mm, ``[L]``                     thickness of each layer of ``spectrum.filtration``: the spekpy spectrum
                                               at the config's thickness times exp(−μ(E)·(t − t₀)) (Beer–Lambert,
                                               μ from :mod:`~xraylab.physics.attenuation`).
``kvp``        kV                              linear interpolation between spekpy spectra at the two neighbouring
                                               grid voltages ``spectrum.kvp + k·2·bin_keV`` (grids that share bins).
``scatter_amplitude``  —                       factor on the scatter amplitude A.
``focal_spot`` mm                              nominal focal-spot size f (the spot dimensions scale with it).
``blur_mm``    mm                              scintillator blur a of MTF = exp(−a f).
============== ============================== =========================================================================

Noise keeps a reparameterised path (:func:`poisson_reparam`): its value is an exact Poisson sample, its gradient
that of λ + √λ·ε with ε fixed; quantisation is straight-through.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch

from xraylab.errors import ConfigError
from xraylab.physics.spectrum import SpectrumConfig, air_kerma_ugy, kvp_grid_step, make_spectrum, pad_to_bins

PARAM_KEYS = ("mas", "filtration", "kvp", "scatter_amplitude", "focal_spot", "blur_mm")


def check_params(params: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """``params`` as a dict; ``ConfigError`` naming an unknown key."""
    out = dict(params or {})
    for k in out:
        if k not in PARAM_KEYS:
            raise ConfigError(f"simulate(params=...): unknown key {k!r}; use one of {', '.join(PARAM_KEYS)}")
    return out


def kvp_grid(spec: SpectrumConfig, kvp: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """Grid voltages (k0, k1) around ``kvp`` and the interpolation weight t of k1 (a tensor in [0, 1])."""
    step = kvp_grid_step(spec.bin_keV)
    k0 = spec.kvp + step * math.floor((float(kvp.detach()) - spec.kvp) / step)
    return k0, k0 + step, ((kvp - k0) / step).clamp(0.0, 1.0)


def _filter_mu_per_mm(material: str, energies_keV: np.ndarray) -> np.ndarray:
    from xraylab.physics.attenuation import DENSITIES, linear_attenuation

    name = {"water": "water", "pmma": "pmma"}.get(material.lower(), material)
    if name not in DENSITIES:
        raise ConfigError(
            f"spectrum.filtration: material {material!r} has no attenuation table for a differentiable "
            f"thickness; use one of {', '.join(sorted(DENSITIES))}"
        )
    return linear_attenuation(name, energies_keV) / 10.0


def spectrum_tensor(
    spec: SpectrumConfig, distance_mm: float, params: Mapping[str, torch.Tensor], dtype=torch.float64, device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(energies keV ``[E]``, photons/mm² per bin ``[E]``) at ``distance_mm`` with ``params`` applied.

    Without ``kvp`` the bins are those of ``spec``; with it, those of the upper grid voltage k1 (the k0 spectrum
    is zero-padded at the top). Differentiable w.r.t. ``mas``, ``filtration`` and ``kvp``.
    """
    if "kvp" in params and spec.monoenergetic_keV is None:
        k0, k1, t = kvp_grid(spec, params["kvp"])
        s1 = make_spectrum(spec.model_copy(update={"kvp": k1, "mas": 1.0}), distance_mm)
        s0 = make_spectrum(spec.model_copy(update={"kvp": k0, "mas": 1.0}), distance_mm)
        e = s1.energies_keV
        n1 = torch.as_tensor(s1.fluence_per_mm2, dtype=dtype, device=device)
        n0 = torch.as_tensor(pad_to_bins(s0.fluence_per_mm2, s1.fluence_per_mm2), dtype=dtype, device=device)
        t = t.to(device=device, dtype=dtype)
        phi = (1.0 - t) * n0 + t * n1
    else:
        s = make_spectrum(spec.model_copy(update={"mas": 1.0}), distance_mm)
        e = s.energies_keV
        phi = torch.as_tensor(s.fluence_per_mm2, dtype=dtype, device=device)
    if "filtration" in params and spec.monoenergetic_keV is None:
        th = params["filtration"].to(device=device, dtype=dtype).reshape(-1)
        if th.numel() != len(spec.filtration):
            raise ConfigError(f"params['filtration'] has {th.numel()} thicknesses; spectrum.filtration has "
                              f"{len(spec.filtration)} layers")
        for layer, t_mm in zip(spec.filtration, th):
            mu = torch.as_tensor(_filter_mu_per_mm(layer.material, e), dtype=dtype, device=device)
            phi = phi * torch.exp(-mu * (t_mm - layer.thickness_mm))
    mas = params.get("mas")
    phi = phi * (spec.mas if mas is None else mas.to(device=device, dtype=dtype))
    return torch.as_tensor(e, dtype=dtype, device=device), phi


def air_kerma_tensor(energies_keV: torch.Tensor, fluence_per_mm2: torch.Tensor) -> torch.Tensor:
    """Air kerma (µGy) of ``fluence_per_mm2`` ``[E]`` (tensor; differentiable)."""
    out = air_kerma_ugy(energies_keV.detach().cpu().numpy(), fluence_per_mm2)
    assert isinstance(out, torch.Tensor)
    return out


def poisson_reparam(lam: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A Poisson sample of rate ``lam`` whose gradient is that of λ + √λ·ε (ε = the sample's fixed z-score)."""
    lam_d = lam.detach()
    k = torch.poisson(lam_d, generator=generator)
    if not lam.requires_grad:
        return k
    root = lam.clamp_min(1e-12).sqrt()
    eps = (k - lam_d) / root.detach()
    return lam + root * eps - (lam + root * eps).detach() + k


def straight_through_round(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` in the forward pass, identity gradient."""
    return x + (torch.round(x) - x).detach()
