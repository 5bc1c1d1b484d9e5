"""Patient dose of one rendered view: entrance surface air kerma, dose–area product, detector air kerma.

Quantities (ICRU Report 74 / IAEA TRS-457 definitions), for the configured tube voltage and load:

* ``incident_air_kerma_ugy`` K_i: air kerma free in air on the central ray at the patient's entrance surface, no
  backscatter: spekpy's kerma at the SID (:func:`xraylab.physics.spectrum.make_spectrum`) scaled by the inverse
  square law (SID / SSD)². SSD, the source–skin distance, is where the central ray first meets the body in the CT
  (HU above :data:`SKIN_HU`); without a body on the central ray, the isocenter plane.
* ``entrance_surface_air_kerma_ugy`` ESAK = K_i × B, with the backscatter factor B (``physics.dose``'s
  ``backscatter_factor``; default 1.35, the value commonly used for chest PA at 100–125 kVp on a large field —
  IAEA TRS-457 (2007) §8 tabulates 1.3–1.5 for water at HVL 3–6 mm Al and fields of 20–30 cm, after
  Petoussi-Henss et al., Phys. Med. Biol. 43 (1998) 2237; lung behind the chest wall scatters less than water).
* ``dose_area_product_gy_cm2`` DAP = K(SID) × A(SID): kerma times the collimated field area, both at the detector
  plane (the product does not depend on the plane, the inverse square law and the area cancel).
* ``detector_air_kerma_ugy``: air kerma reaching the detector behind the patient (primary + scatter, after the
  grid), median over the collimated field: K(SID) × grid primary transmission × the median of the simulator's
  primary + scatter layers (fractions of the open-field signal). The detector's energy response weights it, as a
  detector's own exposure index does (IEC 62494-1): an estimate, not a free-in-air measurement.
* ``free_in_air_detector_kerma_ugy``: K(SID) without patient or grid, the calibration point.

Reference: chest PA entrance surface dose below 0.15 mGy (REFERENCES.md §1, [V]); detector kerma ≈ 2.5 µGy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

SKIN_HU = -300.0  # body outline: above air and lung parenchyma at the skin (fat is ≈ −100 HU)
DEFAULT_BACKSCATTER = 1.35


class DoseConfig(BaseModel):
    """How the dose of a view is reported (``physics.dose``); it changes no image."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    backscatter_factor: float = Field(DEFAULT_BACKSCATTER, ge=1.0, le=2.0,
                                      description="ESAK / incident air kerma at the skin (chest PA, 100–125 kVp: "
                                                  "1.3–1.5, IAEA TRS-457)")


def skin_entrance_mm(ct: Any, geometry: Any, step_mm: float = 1.0, threshold_hu: float = SKIN_HU,
                     density: np.ndarray | None = None) -> float | None:
    """Distance (mm) from the source along the central ray to the first CT voxel above ``threshold_hu``; None when
    the central ray meets no such voxel (nearest-neighbour samples every ``step_mm``). ``density``: the projector's
    ``[I, J, K]`` density volume (g/cm³) on the CT grid, read instead of ``ct.hu`` (a cached scene's CT is a
    header without voxels); the threshold is then the density of ``threshold_hu``."""
    iso = torch.tensor(geometry.isocenter_mm, dtype=torch.float64) if geometry.isocenter_mm else ct.center_mm
    s_w = geometry.source_position().to(torch.float64)
    d_w = geometry.detector_center().to(torch.float64)
    length = float(torch.linalg.norm(d_w - s_w))
    t = torch.arange(0.0, length, step_mm, dtype=torch.float64)
    pts = s_w[None] + (d_w - s_w)[None] * (t / length)[:, None]
    inv = torch.linalg.inv(ct.affine.to(torch.float64))
    vox = geometry.world_to_ct(pts, iso) @ inv[:3, :3].T + inv[:3, 3]
    idx = torch.round(vox).long()
    shape = torch.tensor(ct.shape)
    inside = ((idx >= 0) & (idx < shape)).all(dim=1)
    if not bool(inside.any()):
        return None
    ii = idx[inside]
    if density is not None:
        from xraylab.physics.materials import hu_to_density

        value = torch.zeros(len(t), dtype=torch.float32)
        value[inside] = torch.from_numpy(np.asarray(density)[ii[:, 0].numpy(), ii[:, 1].numpy(), ii[:, 2].numpy()]
                                         .astype(np.float32))
        limit = float(hu_to_density(torch.tensor([threshold_hu]))[0])
    else:
        value = torch.full((len(t),), -1000.0, dtype=torch.float32)
        value[inside] = ct.hu[ii[:, 0], ii[:, 1], ii[:, 2]].float().cpu()
        limit = threshold_hu
    hit = torch.nonzero(value > limit)
    return float(t[int(hit[0])]) if len(hit) else None


def dose_report(ct: Any, geometry: Any, physics: Any, layers: dict[str, torch.Tensor],
                info: dict[str, float], density: np.ndarray | None = None) -> dict[str, float]:
    """The dose quantities of one view (see the module doc), as a flat JSON-able dict.

    ``geometry``: the posed geometry of the view (the skin is sought along its central ray); ``layers``: the
    simulator's output (``primary``, ``scatter``, ``field`` ``[1, 1, H, W]``); ``info``: the simulator's ``info``
    (``detector_air_kerma_ugy`` is the free-in-air kerma at the SID, ``grid_Tp_mean`` the grid's primary
    transmission); ``density``: the projector's density volume, where the skin is looked for
    (see :func:`skin_entrance_mm`).
    """
    k_sid = float(info["detector_air_kerma_ugy"])
    ssd = skin_entrance_mm(ct, geometry, density=density)
    ssd_mm = float(ssd) if ssd is not None else float(geometry.sod_mm)
    k_i = k_sid * (geometry.sid_mm / ssd_mm) ** 2
    bsf = float(physics.dose.backscatter_factor)
    field = layers["field"][0, 0].detach().float().cpu()
    area_cm2 = float(field.sum()) * (geometry.pitch_mm / 10.0) ** 2
    grid_on = getattr(physics, "grid", None) is not None and bool(getattr(physics.grid, "enabled", True))
    tp = float(info.get("grid_Tp_mean", 1.0)) if grid_on else 1.0
    through = (layers["primary"] + layers["scatter"])[0, 0].detach().float().cpu()
    inside = field > 0.5
    behind = float(through[inside].median()) * k_sid * tp if bool(inside.any()) else math.nan
    return {
        "kvp": float(physics.spectrum.kvp),
        "mas": float(physics.spectrum.mas),
        "source_skin_distance_mm": round(ssd_mm, 1),
        "incident_air_kerma_ugy": k_i,
        "backscatter_factor": bsf,
        "entrance_surface_air_kerma_ugy": k_i * bsf,
        "field_area_cm2": area_cm2,
        "dose_area_product_gy_cm2": k_sid * 1e-6 * area_cm2,
        "free_in_air_detector_kerma_ugy": k_sid,
        "detector_air_kerma_ugy": behind,
        "exposure_index": 100.0 * behind if np.isfinite(behind) else math.nan,
    }
