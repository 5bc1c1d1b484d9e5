"""Polychromatic primary fluence from material line integrals.

N_prim(E, pixel) = N₀(E, pixel) · exp(−Σₘ (μ/ρ)ₘ(E) · ∫ρₘ dl)

with ∫ρₘ dl the density line integral of material m (g/cm²) from the projector and (μ/ρ)ₘ in cm²/g
(:mod:`xraylab.physics.attenuation`). One ray trace per material, no per-energy ray tracing: beam hardening
follows because low-energy bins are removed faster than high ones.
"""

from __future__ import annotations

import torch

from xraylab.physics.attenuation import mu_table
from xraylab.physics.heel import HeelConfig, heel_map
from xraylab.physics.spectrum import SpectrumConfig, make_spectrum, pixel_obliquity


def stack_materials(materials: dict[str, torch.Tensor]) -> tuple[list[str], torch.Tensor]:
    """Names and stacked line integrals ``[B, M, H, W]`` (g/cm²) of a ``{name: [B, 1, H, W]}`` dict."""
    if not materials:
        raise ValueError("no material line integrals given")
    names = list(materials)
    maps = [materials[n] for n in names]
    shape = maps[0].shape
    for n, m in zip(names, maps):
        if m.dim() != 4 or m.shape[1] != 1 or m.shape != shape:
            raise ValueError(
                f"line integral of {n!r} has shape {tuple(m.shape)}; expected [B, 1, H, W] = {tuple(shape)}"
            )
    return names, torch.cat([m.to(torch.float32) for m in maps], dim=1)


def incident_fluence(spec: SpectrumConfig, heel: HeelConfig, geometry, device: torch.device | str = "cpu"):
    """Unattenuated photons per pixel and energy bin at the detector.

    Returns ``(energies_keV [E], n0 [1, E, H, W])``: spekpy fluence at SID (photons/mm² per bin, configured mAs)
    × pixel area × cos³θ (:func:`pixel_obliquity`) × heel factor (:func:`heel_map`).
    """
    s = make_spectrum(spec, geometry.sid_mm)
    energies, phi = s.tensor(device)
    n0 = phi.view(1, -1, 1, 1) * (geometry.pitch_mm**2) * pixel_obliquity(geometry, device)
    n0 = n0 * heel_map(spec, heel, geometry, device)
    return energies, n0


def attenuation_exponent(line_integrals: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Σₘ (μ/ρ)ₘ(E) ∫ρₘ dl: ``line_integrals [B, M, H, W]`` (g/cm²), ``mu [M, E]`` (cm²/g) → ``[B, E, H, W]``."""
    return torch.einsum("bmhw,me->behw", line_integrals, mu)


def primary_fluence(n0: torch.Tensor, materials: dict[str, torch.Tensor], energies_keV: torch.Tensor) -> torch.Tensor:
    """Primary photons per pixel and bin behind the patient, ``[B, E, H, W]``.

    ``n0``: incident photons broadcastable to ``[B, E, H, W]``; ``materials``: ``{name: [B, 1, H, W]}`` density
    line integrals in g/cm² (names known to :mod:`xraylab.physics.attenuation`); ``energies_keV``: ``[E]``.
    """
    names, li = stack_materials(materials)
    mu = mu_table(names, energies_keV, device=li.device)
    a = attenuation_exponent(li.to(n0.device), mu.to(n0.device))
    if a.requires_grad or n0.requires_grad:
        return torch.exp(-a) * n0  # autograd needs exp's output intact
    return a.neg_().exp_().mul_(n0)  # in place: one [B, E, H, W] buffer
