"""Mass attenuation coefficients μ/ρ (cm²/g) of tissues and detector, grid and filter materials.

Source: xraydb (Elam tables; total attenuation including coherent scattering). xraydb takes energies in eV.
Tissues are mixtures defined by the ICRU Report 44 elemental *mass* fractions as tabulated by NIST
(physics.nist.gov/PhysRefData/XrayMassCoef/tab2.html), μ/ρ = Σᵢ wᵢ·(μ/ρ)ᵢ (REFERENCES.md §3).
xraydb chemical formulas are molar, so they are used only for stoichiometric compounds (CsI, Gd₂O₂S, PMMA).
"""

from __future__ import annotations

import numpy as np
import torch

from xraylab.physics.table_cache import disk_memo

# ICRU-44 elemental mass fractions (NIST tab2) and nominal densities g/cm³.
MASS_FRACTIONS: dict[str, dict[str, float]] = {
    # Air, dry (near sea level)
    "air": {"C": 0.000124, "N": 0.755268, "O": 0.231781, "Ar": 0.012827},
    # Lung tissue (ICRU-44), ρ 1.05 (tissue; inflated lung density comes from the CT)
    "lung": {"H": 0.103, "C": 0.105, "N": 0.031, "O": 0.749, "Na": 0.002, "P": 0.002, "S": 0.003,
             "Cl": 0.003, "K": 0.002},
    # Adipose tissue (ICRU-44), ρ 0.95
    "adipose": {"H": 0.114, "C": 0.598, "N": 0.007, "O": 0.278, "Na": 0.001, "S": 0.001, "Cl": 0.001},
    # Soft tissue (ICRU-44), ρ 1.06
    "soft_tissue": {"H": 0.102, "C": 0.143, "N": 0.034, "O": 0.708, "Na": 0.002, "P": 0.003, "S": 0.003,
                    "Cl": 0.002, "K": 0.003},
    # Cortical bone (ICRU-44), ρ 1.92
    "bone": {"H": 0.034, "C": 0.155, "N": 0.042, "O": 0.435, "Na": 0.001, "Mg": 0.002, "P": 0.103, "S": 0.003,
             "Ca": 0.225},
    # Liquid water
    "water": {"H": 0.111894, "O": 0.888106},
    # Blood, whole (ICRU-44), ρ 1.06
    "blood": {"H": 0.102, "C": 0.110, "N": 0.033, "O": 0.745, "Na": 0.001, "P": 0.001, "S": 0.002, "Cl": 0.003,
              "K": 0.002, "Fe": 0.001},
    # Cobalt-chromium-molybdenum implant alloy (ASTM F75: Cr 27-30, Mo 5-7, Ni <= 0.5, Fe <= 0.75, Co balance), ρ 8.3
    "cocr": {"Co": 0.645, "Cr": 0.285, "Mo": 0.06, "Ni": 0.005, "Fe": 0.005},
    # --- medical-device materials (xraylab.devices); alloys by their standard nominal compositions
    # Stainless steel AISI 316L (ASTM A240: Cr 16-18, Ni 10-14, Mo 2-3, Mn <= 2, Si <= 0.75, Fe balance), ρ 8.0
    "stainless_steel": {"Fe": 0.655, "Cr": 0.17, "Ni": 0.12, "Mo": 0.025, "Mn": 0.02, "Si": 0.01},
    # MP35N pacing-lead conductor (ASTM F562: Co 35, Ni 35, Cr 20, Mo 10), ρ 8.43
    "mp35n": {"Co": 0.35, "Ni": 0.35, "Cr": 0.20, "Mo": 0.10},
    # Platinum-iridium 90/10 electrode tips, ρ 21.5
    "pt_ir": {"Pt": 0.90, "Ir": 0.10},
    # Radio-opaque stripe: PVC (C2H3Cl: C .3844, H .0484, Cl .5673) loaded with 50 % BaSO4 by mass
    # (Ba .5884, S .1374, O .2742), ρ ≈ 2.1
    "pvc_baso4": {"C": 0.1922, "H": 0.0242, "Cl": 0.2836, "Ba": 0.2942, "S": 0.0687, "O": 0.1371},
    # Catheter silicone (PDMS, C2H6OSi: C .3240, H .0816, O .2157, Si .3787) with 20 % BaSO4 by mass, ρ ≈ 1.35
    "silicone_baso4": {"C": 0.2592, "H": 0.0653, "O": 0.2274, "Si": 0.3030, "Ba": 0.1177, "S": 0.0275},
}

# Stoichiometric compounds / elements: xraydb formula and density g/cm³.
FORMULAS: dict[str, tuple[str, float]] = {
    "CsI": ("CsI", 4.51),
    "Gd2O2S": ("Gd2O2S", 7.32),
    "Al": ("Al", 2.699),
    "Cu": ("Cu", 8.96),
    "Pb": ("Pb", 11.35),
    "W": ("W", 19.3),
    "Sn": ("Sn", 7.31),
    "Fe": ("Fe", 7.874),
    "C": ("C", 2.0),  # carbon fibre
    "pmma": ("C5H8O2", 1.19),
    "paper": ("C6H10O5", 0.75),  # cellulose, grid interspace
    # medical-device materials (xraylab.devices)
    "titanium": ("Ti", 4.506),
    "pvc": ("C2H3Cl", 1.38),
    "silicone": ("C2H6OSi", 0.97),  # PDMS
    "baso4": ("BaSO4", 4.5),
    "lii": ("LiI", 4.06),  # lithium-iodine pacemaker battery cathode/electrolyte
    "I": ("I", 4.93),  # iodine (contrast agents)
}

DENSITIES: dict[str, float] = {
    "air": 0.001205, "lung": 1.05, "adipose": 0.95, "soft_tissue": 1.06, "bone": 1.92, "water": 1.0,
    "blood": 1.06, "cocr": 8.3, "stainless_steel": 8.0, "mp35n": 8.43, "pt_ir": 21.5, "pvc_baso4": 2.11,
    "silicone_baso4": 1.35,
    **{k: v[1] for k, v in FORMULAS.items()},
}


IODINATED_BLOOD = "iodinated_blood_"  # + concentration in mg/mL, e.g. "iodinated_blood_12.5"


def known_materials() -> tuple[str, ...]:
    """Names accepted by :func:`mass_attenuation` (plus ``iodinated_blood_<mg/mL>``: blood with that much iodine)."""
    return tuple(MASS_FRACTIONS) + tuple(FORMULAS)


def iodinated_blood_fraction(name: str) -> float:
    """Iodine mass fraction of ``iodinated_blood_<c>``: c mg/mL in blood of 1.06 g/cm³ → (c/1000) / (1.06 + c/1000)."""
    try:
        c = float(name[len(IODINATED_BLOOD):])
    except ValueError:
        raise ValueError(f"unknown material {name!r}: write iodinated_blood_<mg/mL>, e.g. "
                         "iodinated_blood_12.5") from None
    if not 0.0 <= c <= 500.0:
        raise ValueError(f"{name}: iodine concentration {c:g} mg/mL outside 0-500")
    return (c / 1000.0) / (1.06 + c / 1000.0)


@disk_memo("mu_over_rho")
def _mu_cached(material: str, energies: tuple[float, ...]) -> np.ndarray:
    import xraydb

    ev = np.asarray(energies, dtype=np.float64) * 1e3
    if material.startswith(IODINATED_BLOOD):
        w = iodinated_blood_fraction(material)
        return (1.0 - w) * _mu_cached("blood", energies) + w * _mu_cached("I", energies)
    if material in MASS_FRACTIONS:
        mu = np.zeros_like(ev)
        fr = MASS_FRACTIONS[material]
        total = sum(fr.values())
        for el, w in fr.items():
            mu += (w / total) * np.asarray(xraydb.mu_elam(el, ev), dtype=np.float64)
        return mu
    if material in FORMULAS:
        formula, rho = FORMULAS[material]
        # material_mu returns the linear coefficient (1/cm) for the given density; divide it back out.
        return np.asarray(xraydb.material_mu(formula, ev, density=rho), dtype=np.float64) / rho
    raise ValueError(f"unknown material {material!r}; known: {', '.join(known_materials())}")


def mass_attenuation(material: str, energies_keV) -> np.ndarray:
    """μ/ρ in cm²/g of ``material`` at ``energies_keV`` (array ``[E]``) → float64 array ``[E]``."""
    e = tuple(float(x) for x in np.atleast_1d(np.asarray(energies_keV, dtype=np.float64)))
    return _mu_cached(material, e).copy()


def linear_attenuation(material: str, energies_keV, density: float | None = None) -> np.ndarray:
    """μ in 1/cm at ``energies_keV`` for ``density`` (g/cm³; default the nominal density)."""
    rho = DENSITIES[material] if density is None else density
    return mass_attenuation(material, energies_keV) * rho


def mu_table(materials, energies_keV, device: torch.device | str = "cpu") -> torch.Tensor:
    """Stacked μ/ρ (cm²/g), ``[M, E]`` float32, rows in the order of ``materials``."""
    e = np.asarray(energies_keV.detach().cpu() if isinstance(energies_keV, torch.Tensor) else energies_keV)
    rows = [mass_attenuation(m, e) for m in materials]
    return torch.as_tensor(np.stack(rows), dtype=torch.float32, device=device)
