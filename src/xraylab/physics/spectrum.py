"""X-ray tube spectra (spekpy) and the photon fluence they deliver to each detector pixel.

Units: energies keV, distances mm (spekpy takes cm: converted here), tube load mAs,
fluence photons / mm² per energy bin, air kerma µGy.

spekpy (REFERENCES.md §2): ``sp.Spek(kvp, th, dk, z, mas, targ)``, ``.multi_filter([(matl, mm)])``,
``.get_spectrum()`` → photons cm⁻² keV⁻¹ at distance z for the set mAs. spekpy models no inherent
filtration, so the clinical 2.5 mm Al + 0.1 mm Cu is added explicitly in the defaults.
Spectra are slow to build (≈ 0.2–0.4 s each), so every spekpy result is cached on its parameters. A tube voltage
that is not a whole number of kV (a continuous random draw in a sweep: each draw would be a new spekpy model) is
interpolated linearly between spekpy spectra at the two neighbouring multiples of 2 × ``bin_keV`` (voltages two bins
apart share their energy bins), :func:`spectrum_at`; whole-number voltages — what X-ray consoles set — are spekpy's
own. Measured against spekpy at 91.3–124.1 kV with 2 keV bins: photon count, mean energy, air kerma and the
transmission through 200 mm of water (and 10 mm of bone) within 0.25 % (tests/physics/test_spectrum.py).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from xraylab.physics.table_cache import disk_memo

# keV → J and Gy → µGy, as spekpy uses them (spekpy.SpekConstants) so that our kerma matches spekpy's.
_KEV_TO_J = 1.6022e-16
_GY_TO_UGY = 1.0e6

# Friendly aliases for spekpy material names (spekpy/data/matl_def/*.comp).
FILTER_ALIASES: dict[str, str] = {
    "water": "Water, Liquid",
    "air": "Air Dry (Near Sea Level)",
    "pmma": "Polymethyl Methacrylate (Lucite Perspex or Plexiglas)",
    "soft_tissue": "Tissue, Soft (ICRP)",
}


@functools.lru_cache(maxsize=1)
def spekpy_materials() -> frozenset[str]:
    """Names of every material spekpy can filter with (its ``matl_def`` and ``matl_usr`` tables).

    Read from spekpy's data folder without importing spekpy (its import takes ~2 s)."""
    import importlib.util

    spec = importlib.util.find_spec("spekpy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("spekpy is not installed: pip install spekpy (xraylab's install does)")
    base = os.path.join(list(spec.submodule_search_locations)[0], "data")
    names: set[str] = set()
    for sub in ("matl_def", "matl_usr"):
        d = os.path.join(base, sub)
        if os.path.isdir(d):
            names.update(f[: -len(".comp")] for f in os.listdir(d) if f.endswith(".comp"))
    return frozenset(names)


def spekpy_material_name(name: str) -> str:
    """spekpy's name of filter material ``name`` (alias or spekpy name); ``ValueError`` if unknown."""
    resolved = FILTER_ALIASES.get(name.lower(), name)
    if resolved not in spekpy_materials():
        raise ValueError(
            f"unknown filter material {name!r}: use an element symbol (Al, Cu, Sn, ...), one of "
            f"{', '.join(FILTER_ALIASES)} or a spekpy material name"
        )
    return resolved


class FilterLayer(BaseModel):
    """One layer of added filtration."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    material: str = Field(description="element symbol, alias (water, air, pmma) or spekpy material name")
    thickness_mm: float = Field(ge=0, le=100, description="thickness, mm")

    @field_validator("material")
    @classmethod
    def _known(cls, v: str) -> str:
        spekpy_material_name(v)
        return v


class SpectrumConfig(BaseModel):
    """Tube settings. Defaults: W anode, 12°, 2.5 mm Al + 0.1 mm Cu (REFERENCES.md §1–2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kvp: float = Field(120.0, ge=40, le=150, description="tube voltage, kV (peak)")
    anode: Literal["W", "Mo", "Rh"] = Field("W", description="anode (target) material")
    anode_angle_deg: float = Field(12.0, ge=5, le=30, description="anode angle, degrees")
    filtration: tuple[FilterLayer, ...] = Field(
        (FilterLayer(material="Al", thickness_mm=2.5), FilterLayer(material="Cu", thickness_mm=0.1)),
        description="added filtration, list of (material, thickness_mm)",
    )
    mas: float = Field(2.5, gt=0, le=1000, description="tube load, mAs")
    bin_keV: float = Field(2.0, ge=0.25, le=10, description="energy bin width, keV")
    monoenergetic_keV: float | None = Field(
        None, ge=10, le=150,
        description="if set, a single energy (keV) carrying the same number of photons as the spekpy spectrum",
    )


@dataclass(frozen=True)
class Spectrum:
    """A tube spectrum at a given distance from the focal spot.

    energies_keV: bin centres ``[E]``; fluence_per_mm2: photons / mm² per bin ``[E]`` (already times bin width,
    for the configured mAs) at ``distance_mm``; mean_keV, hvl1_mm_al, air_kerma_ugy as spekpy reports them
    (air kerma for the configured mAs at ``distance_mm``).
    """

    energies_keV: np.ndarray
    fluence_per_mm2: np.ndarray
    distance_mm: float
    mean_keV: float
    hvl1_mm_al: float
    air_kerma_ugy: float

    def tensor(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(energies_keV ``[E]``, fluence_per_mm2 ``[E]``) as float32 tensors on ``device``."""
        return (
            torch.as_tensor(self.energies_keV, dtype=torch.float32, device=device),
            torch.as_tensor(self.fluence_per_mm2, dtype=torch.float32, device=device),
        )


def filters_key(filtration) -> tuple[tuple[str, float], ...]:
    return tuple((spekpy_material_name(f.material), float(f.thickness_mm)) for f in filtration)


@functools.lru_cache(maxsize=32)
def make_spek(kvp: float, anode: str, angle: float, filters: tuple[tuple[str, float], ...], bin_keV: float,
              z_cm: float):
    """A spekpy ``Spek`` object at 1 mAs (cached: construction is the slow part)."""
    import spekpy

    s = spekpy.Spek(kvp=kvp, th=angle, dk=bin_keV, z=z_cm, mas=1.0, targ=anode)
    if filters:
        s.multi_filter([(m, t) for m, t in filters if t > 0])
    return s


@disk_memo("spectrum")
def spectrum_cached(kvp, anode, angle, filters, bin_keV, z_cm, x_cm):
    s = make_spek(kvp, anode, angle, filters, bin_keV, z_cm)
    # Off-axis position through ``set`` (spekpy state); reset to the axis afterwards because the object is shared.
    # REFERENCES.md §5 heel numbers were computed this way.
    s.set(x=x_cm, y=0.0)
    try:
        k, phi = s.get_spectrum()  # photons cm⁻² keV⁻¹ at z for 1 mAs
        kerma = float(s.get_kerma())
        mean = float(s.get_emean())
        hvl = float(s.get_hvl1()) if x_cm == 0.0 else float("nan")
    finally:
        s.set(x=0.0, y=0.0)
    k = np.asarray(k, dtype=np.float64)
    per_mm2_per_bin = np.nan_to_num(np.asarray(phi, dtype=np.float64)) * bin_keV / 100.0  # cm⁻² → mm⁻²
    return k, per_mm2_per_bin, mean, hvl, kerma


#: spekpy's tube-voltage range (kV): an interpolation grid voltage outside it falls back to spekpy at the voltage
SPEKPY_KVP_RANGE = (30.0, 150.0)


def kvp_grid_step(bin_keV: float) -> float:
    """kV between two tube voltages whose spekpy spectra share their energy bins: two bins (spekpy's bins end at
    kVp − bin/2)."""
    return 2.0 * float(bin_keV)


def pad_to_bins(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Per-bin values of the lower grid voltage on the upper one's bins (zero above its own top bin)."""
    out = np.zeros_like(upper)
    out[: len(lower)] = lower
    return out


def kvp_neighbours(kvp: float, bin_keV: float) -> tuple[float, float, float] | None:
    """Grid voltages ``(k0, k1)`` around a kVp that is not a whole number, and the weight ``t`` of ``k1`` in [0, 1):
    the neighbouring multiples of ``2 · bin_keV`` (spekpy's bins end at kVp − bin/2, so voltages two bins apart share
    their bins). None for a whole-number kVp, or when a neighbour lies outside :data:`SPEKPY_KVP_RANGE`."""
    kvp = float(kvp)
    if kvp.is_integer():
        return None
    step = kvp_grid_step(bin_keV)
    k0 = step * math.floor(kvp / step)
    k1 = k0 + step
    if k0 < SPEKPY_KVP_RANGE[0] or k1 > SPEKPY_KVP_RANGE[1]:
        return None
    return k0, k1, (kvp - k0) / step


def spectrum_at(table, kvp: float, anode: str, angle: float, filters: tuple[tuple[str, float], ...], bin_keV: float,
                *rest: float) -> tuple:
    """``table(kvp, anode, angle, filters, bin_keV, *rest)`` — a cached spekpy result whose first item is the bin
    energies ``[E]`` and whose other items are per-bin arrays or floats — at any kVp: for a whole-number kVp the
    table itself; otherwise every item after the energies interpolated linearly between the two grid voltages of
    :func:`kvp_neighbours` (arrays on the upper voltage's bins, the lower one's zero-padded at the top), with the
    upper voltage's energies."""
    grid = kvp_neighbours(kvp, bin_keV)
    if grid is None:
        return table(kvp, anode, angle, filters, bin_keV, *rest)
    k0, k1, t = grid
    lo = table(k0, anode, angle, filters, bin_keV, *rest)
    hi = table(k1, anode, angle, filters, bin_keV, *rest)
    out: list = [hi[0]]
    for a, b in zip(lo[1:], hi[1:]):
        if isinstance(b, np.ndarray):
            out.append((1.0 - t) * pad_to_bins(a, b) + t * b)
        else:
            out.append((1.0 - t) * float(a) + t * float(b))
    return tuple(out)


def make_spectrum(cfg: SpectrumConfig, distance_mm: float, off_axis_mm: float = 0.0) -> Spectrum:
    """The spectrum of ``cfg`` at ``distance_mm`` from the focal spot (on the central ray unless ``off_axis_mm``).

    ``off_axis_mm`` is a displacement along the anode–cathode axis in the plane at ``distance_mm``
    (spekpy's x: negative towards the anode). With ``cfg.monoenergetic_keV`` the spectrum is one bin at that
    energy holding the polychromatic spectrum's photon count; its mean energy is that energy and HVL/kerma
    are computed for it.
    """
    key = (float(cfg.kvp), cfg.anode, float(cfg.anode_angle_deg), filters_key(cfg.filtration), float(cfg.bin_keV),
           float(distance_mm) / 10.0, float(off_axis_mm) / 10.0)
    k, n, mean, hvl, kerma = spectrum_at(spectrum_cached, *key)
    n = n * cfg.mas
    kerma = kerma * cfg.mas
    if cfg.monoenergetic_keV is not None:
        e = float(cfg.monoenergetic_keV)
        total = float(n.sum())
        k = np.array([e])
        n = np.array([total])
        kerma = float(air_kerma_ugy(k, n))
        mean = e
        hvl = _mono_hvl_mm_al(e)
    return Spectrum(energies_keV=k, fluence_per_mm2=n, distance_mm=float(distance_mm), mean_keV=mean,
                    hvl1_mm_al=hvl, air_kerma_ugy=kerma)


def _mono_hvl_mm_al(energy_keV: float) -> float:
    from xraylab.physics.attenuation import linear_attenuation

    mu = float(linear_attenuation("Al", np.array([energy_keV]))[0])  # cm⁻¹ at the nominal density
    return 10.0 * math.log(2.0) / mu


def muen_air(energies_keV: np.ndarray) -> np.ndarray:
    """Mass energy-absorption coefficient of dry air (cm²/g) at ``energies_keV`` — spekpy's NIST table."""
    e = np.asarray(energies_keV, dtype=np.float64)
    return _muen_air_cached(tuple(float(x) for x in e.ravel())).reshape(e.shape)


@disk_memo("muen_air")
def _muen_air_cached(energies_keV: tuple[float, ...]) -> np.ndarray:
    s = make_spek(80.0, "W", 12.0, (), 1.0, 100.0)
    return np.asarray(s.muen_air_data.get_muen_over_rho_air(np.asarray(energies_keV, dtype=np.float64)))


def air_kerma_ugy(energies_keV, fluence_per_mm2) -> np.ndarray | torch.Tensor | float:
    """Air kerma (µGy) of a photon fluence: K = Σ_E Φ(E)·E·(μen/ρ)_air(E).

    ``fluence_per_mm2``: photons / mm² per bin, energy along the last axis (numpy or torch, any leading shape).
    Same constants as spekpy's ``get_kerma`` so the two agree to rounding.
    """
    e = np.asarray(energies_keV, dtype=np.float64)
    coef = e * muen_air(e) * 1e3 * 100.0 * _KEV_TO_J * _GY_TO_UGY  # per (photon/mm²): cm²/kg · mm²→cm² factor
    if isinstance(fluence_per_mm2, torch.Tensor):
        c = torch.as_tensor(coef, dtype=fluence_per_mm2.dtype, device=fluence_per_mm2.device)
        return (fluence_per_mm2 * c).sum(-1)
    return (np.asarray(fluence_per_mm2, dtype=np.float64) * coef).sum(-1)


def pixel_obliquity(geometry, device: torch.device | str = "cpu") -> torch.Tensor:
    """Relative photon count per pixel from inverse square and obliquity, ``[1, 1, H, W]`` float32.

    A flat detector pixel at angle θ from the central ray is at distance SID/cos θ (inverse square: cos² θ)
    and is tilted by θ to the ray (projected area: cos θ): factor cos³ θ, 1 on the central ray.
    The source offset (focal-spot sampling) is ignored: it changes θ negligibly.
    """
    h, w = geometry.rows, geometry.cols
    u0, v0 = geometry.principal_point_mm
    p = geometry.pitch_mm
    cu = (torch.arange(w, dtype=torch.float64, device=device) - (w - 1) / 2) * p + u0
    cv = (torch.arange(h, dtype=torch.float64, device=device) - (h - 1) / 2) * p + v0
    r2 = cv[:, None] ** 2 + cu[None, :] ** 2
    cos = geometry.sid_mm / torch.sqrt(geometry.sid_mm**2 + r2)
    return (cos**3).to(torch.float32)[None, None]


def detector_air_kerma_ugy(cfg: SpectrumConfig, geometry) -> float:
    """Air kerma free in air at the detector centre (SID), µGy, for the configured mAs."""
    return make_spectrum(cfg, geometry.sid_mm).air_kerma_ugy
