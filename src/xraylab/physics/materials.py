"""HU → mass density and material assignment for CT voxels.

Density follows the piecewise-linear HU → ρ calibration of Schneider et al. 2000
(as tabulated for GATE; REFERENCES.md §4) by default, or DeepDRR's two-segment
fit. Each voxel is assigned one material by HU thresholds; the material's mass
attenuation coefficients (:mod:`xraylab.physics.attenuation`) then turn density
line integrals into attenuation.

Material ids are fixed: 0 air, 1 lung, 2 adipose, 3 soft_tissue, 4 bone, 5 metal, 6 contrast. Metal (voxels at or
above ``metal_min_hu`` when it is set, e.g. 3000 where CT numbers saturate; off by default because undiluted contrast
saturates too — the embedded CT's 6,201 voxels at 3071 HU lie in its SVC bolus and its streaks) takes the configured
alloy at its nominal density; contrast (enhanced blood in the labelled vessels and heart, at or above
``contrast_min_hu``) is, as ``contrast`` says, left to the HU rule (``never``, the default: renders as before),
iodinated blood whose iodine follows the voxel's HU (``auto`` for a contrast CT, ``always``;
:func:`iodine_hu_per_mg_ml`) or unenhanced blood (``remove``: virtual non-contrast). The attenuation name of each
id for a given config is :func:`material_names`; a CT without metal or contrast renders exactly as with five
materials.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

MATERIALS: tuple[str, ...] = ("air", "lung", "adipose", "soft_tissue", "bone", "metal", "contrast")
METAL, CONTRAST = 5, 6
#: attenuation material and nominal density (g/cm³) of each metal choice (xraylab.physics.attenuation)
METALS: dict[str, float] = {"titanium": 4.506, "stainless_steel": 8.0, "cocr": 8.3}
BLOOD_HU = 40.0  # unenhanced blood (typical 30–45 HU)
BLOOD_DENSITY = 1.06  # g/cm³, ICRU-44 blood (REFERENCES.md §3 tissues, NIST tab2)
IODINE_EFFECTIVE_KEV = 70.0  # effective energy of a 120 kVp CT beam, for the HU per mg/mL of iodine
# TotalSegmentator names (substrings) of the blood pool: where iodinated contrast is
BLOOD_POOL_KEYS = ("aorta", "heart", "pulmonary_artery", "pulmonary_vein", "vena_cava", "brachiocephalic",
                   "subclavian_artery", "carotid", "atrial_appendage", "portal_vein", "iliac_artery", "iliac_vena")

# Schneider et al. 2000, HU → ρ (g/cm³) breakpoints as listed in REFERENCES.md §4 [V].
SCHNEIDER_HU = (-1000.0, -98.0, -97.0, 14.0, 23.0, 100.0, 101.0, 1600.0, 3000.0)
SCHNEIDER_RHO = (0.00121, 0.93, 0.9305, 1.03, 1.031, 1.1199, 1.0762, 1.9642, 2.8)

# Names of TotalSegmentator v2 labels that are bone (used with ``force_bone_from_labels``).
BONE_LABEL_PREFIXES = (
    "rib_", "vertebrae_", "clavicula_", "scapula_", "humerus_", "femur_", "hip_", "sacrum", "sternum", "skull",
)


class MaterialConfig(BaseModel):
    """How CT numbers become densities and materials.

    Thresholds are upper bounds in HU: a voxel with HU < ``air_max_hu`` is air, < ``lung_max_hu`` lung,
    < ``adipose_max_hu`` adipose, < ``bone_min_hu`` soft tissue, otherwise bone. Defaults: air and lung
    bins of Schneider 2000 (REFERENCES.md §4); adipose up to −30 HU (the usual fat range −150…−30 HU, rather
    than Schneider's 19 HU, so that water at 0 HU and muscle count as soft tissue); the bone threshold of
    DeepDRR (350 HU) so that iodinated blood and marrow-like soft tissue stay soft tissue.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    density_model: Literal["schneider", "deepdrr"] = "schneider"
    air_max_hu: float = -950.0
    lung_max_hu: float = -120.0
    adipose_max_hu: float = -30.0
    bone_min_hu: float = 350.0
    metal_min_hu: float | None = Field(
        None, description="voxels at or above are metal (e.g. 3000: 12-bit CT saturates at 3071 HU); None: no metal "
                          "(default: a contrast bolus saturates the same way)")
    metal: Literal["titanium", "stainless_steel", "cocr"] = Field(
        "titanium", description="the alloy of metal voxels (implants, wires), at its nominal density")
    contrast: Literal["never", "auto", "always", "remove"] = Field(
        "never", description="enhanced blood in the labelled vessels and heart (voxels >= contrast_min_hu): never = as "
        "the HU thresholds say (soft tissue, or bone without skeleton labels); auto = iodinated blood when the blood "
        "pool's median HU exceeds contrast_min_hu (a contrast CT); always = iodinated blood; remove = unenhanced "
        "blood (1.06 g/cm³) in a contrast CT, as the same patient's radiograph without contrast would show")
    contrast_min_hu: float = Field(150.0, description="blood-pool voxels at or above are iodinated blood")
    force_bone_from_labels: bool = Field(
        True,
        description=(
            "with a label map: voxels labelled as bone by TotalSegmentator are bone; when the map labels the "
            "skeleton (ribs and vertebrae), unlabelled voxels above the bone threshold (iodinated contrast, "
            "calcifications) become soft tissue"
        ),
    )

    @model_validator(mode="after")
    def _ordered(self) -> "MaterialConfig":
        t = (self.air_max_hu, self.lung_max_hu, self.adipose_max_hu, self.bone_min_hu, self.metal_hu)
        if any(b <= a for a, b in zip(t, t[1:])):
            raise ValueError(f"material thresholds must increase: air < lung < adipose < bone < metal, got {t}")
        if not self.adipose_max_hu < self.contrast_min_hu < self.metal_hu:
            raise ValueError(f"contrast_min_hu {self.contrast_min_hu:g} must lie between adipose_max_hu "
                             f"{self.adipose_max_hu:g} and metal_min_hu {self.metal_hu:g}")
        return self

    @property
    def metal_hu(self) -> float:
        """The metal threshold in HU (infinite when metal is off)."""
        return float("inf") if self.metal_min_hu is None else float(self.metal_min_hu)


def iodine_hu_per_mg_ml(energy_keV: float = IODINE_EFFECTIVE_KEV) -> float:
    """CT-number rise of 1 mg/mL of iodine in water at ``energy_keV``: 1000 · (μ/ρ)_I · 0.001 g/cm³ / μ_water
    (xraydb; ≈ 26 HU at 70 keV, the effective energy of a 120 kVp CT beam; 25–30 HU is the usual rule)."""
    from xraylab.physics.attenuation import linear_attenuation, mass_attenuation

    mu_i = float(mass_attenuation("I", [energy_keV])[0]) * 1e-3
    return 1000.0 * mu_i / float(linear_attenuation("water", [energy_keV])[0])


def iodine_mg_ml(hu: torch.Tensor | np.ndarray | float, per_mg_ml: float):
    """Iodine concentration (mg/mL, ≥ 0) of enhanced blood at ``hu``: (HU − 40) / (HU per mg/mL)."""
    return np.maximum(np.asarray(hu, dtype=np.float64) - BLOOD_HU, 0.0) / per_mg_ml


def contrast_density(c_mg_ml):
    """Mass density (g/cm³) of blood holding ``c_mg_ml`` of iodine."""
    return BLOOD_DENSITY + np.asarray(c_mg_ml, dtype=np.float64) / 1000.0


def blood_pool_ids(structures: dict[int, str]) -> list[int]:
    """Label ids of the blood pool (vessels, heart): where a contrast CT's iodine is."""
    return sorted(i for i, n in structures.items() if any(k in n for k in BLOOD_POOL_KEYS))


def material_names(cfg: "MaterialConfig", iodine_ref_mg_ml: float = 10.0) -> list[str]:
    """The attenuation material (:mod:`xraylab.physics.attenuation`) of each id of :data:`MATERIALS`: the tissues,
    the configured metal and iodinated blood at the CT's reference concentration (mg/mL, one decimal)."""
    return [*MATERIALS[:5], cfg.metal, f"iodinated_blood_{iodine_ref_mg_ml:.1f}"]


def hu_to_density(hu: torch.Tensor, model: str = "schneider") -> torch.Tensor:
    """Mass density in g/cm³ (≥ 0) of CT numbers ``hu`` (any shape, HU).

    ``schneider``: linear interpolation of the Schneider 2000 table, clamped at its ends
    (HU < −1000 → air density, HU > 3000 → extrapolated slope of the last segment).
    ``deepdrr``: ρ = max(0, min(0.001029·HU + 1.030, 0.0005886·HU + 1.03)).
    """
    x = hu.to(torch.float32)
    if model == "deepdrr":
        return torch.clamp(torch.minimum(0.001029 * x + 1.030, 0.0005886 * x + 1.03), min=0.0)
    if model != "schneider":
        raise ValueError(f"unknown density model {model!r}")
    xp = torch.tensor(SCHNEIDER_HU, dtype=torch.float32, device=x.device)
    fp = torch.tensor(SCHNEIDER_RHO, dtype=torch.float32, device=x.device)
    xc = torch.clamp(x, min=xp[0].item())
    idx = torch.clamp(torch.searchsorted(xp, xc.contiguous(), right=True) - 1, 0, len(xp) - 2)
    x0, x1, f0, f1 = xp[idx], xp[idx + 1], fp[idx], fp[idx + 1]
    return torch.clamp(f0 + (xc - x0) * (f1 - f0) / (x1 - x0), min=0.0)


def assign_materials(
    hu: torch.Tensor,
    config: MaterialConfig | None = None,
    labels: torch.Tensor | None = None,
    bone_label_ids: Sequence[int] = (),
    contrast_ids: Sequence[int] | None = None,
    remove_contrast: bool = False,
) -> torch.Tensor:
    """Material id per voxel (uint8, same shape as ``hu``; ids index :data:`MATERIALS`).

    ``contrast_ids``: blood-pool label ids whose voxels at or above ``contrast_min_hu`` are iodinated blood (None:
    no contrast), or unenhanced blood (soft tissue) with ``remove_contrast``; voxels at or above ``metal_min_hu``
    (when set) are metal whatever their label.

    When ``config.force_bone_from_labels`` is set, voxels whose label id is in ``bone_label_ids``
    become bone regardless of HU; if those ids cover the skeleton (at least ten bone labels), bone is
    restricted to them and other voxels above the threshold become soft tissue.
    """
    cfg = config or MaterialConfig()
    x = hu.to(torch.float32)
    mat = torch.full(x.shape, 3, dtype=torch.uint8, device=x.device)
    mat[x < cfg.adipose_max_hu] = 2
    mat[x < cfg.lung_max_hu] = 1
    mat[x < cfg.air_max_hu] = 0
    mat[x >= cfg.bone_min_hu] = 4
    if cfg.force_bone_from_labels and labels is not None and len(bone_label_ids):
        ids = torch.tensor(list(bone_label_ids), device=labels.device, dtype=labels.dtype)
        is_bone = torch.isin(labels, ids)
        if len(bone_label_ids) >= 10:
            mat[(mat == 4) & ~is_bone] = 3
        mat[is_bone] = 4
    if contrast_ids is not None and labels is not None and len(contrast_ids):
        pool = torch.isin(labels, torch.tensor(list(contrast_ids), device=labels.device, dtype=labels.dtype))
        mat[pool & (x >= cfg.contrast_min_hu) & (x < cfg.metal_hu)] = 3 if remove_contrast else CONTRAST
    mat[x >= cfg.metal_hu] = METAL
    return mat


def bone_label_ids(structures: dict[int, str]) -> list[int]:
    """Label ids whose TotalSegmentator name denotes a bone."""
    return sorted(i for i, n in structures.items() if n.startswith(BONE_LABEL_PREFIXES))

