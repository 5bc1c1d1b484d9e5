"""Acquisition geometry: point source, flat detector, patient pose.

World frame
-----------
The world frame is the patient's own LPS frame at α = 0 (x → patient left,
y → posterior, z → superior), in mm, with the isocenter at the origin. The
CT is placed in the world by

    x_world = R · (x_ct − c) + t,      R = R_x(tilt) · R_z(α)

where ``x_ct`` is a physical CT coordinate (LPS mm, as SimpleITK reports it),
``c`` the isocenter in CT coordinates (default: the centre of the volume),
``t`` the patient translation and R the patient rotation.

Patient rotation α (``rotation_deg``) turns the patient about their own
superior–inferior axis through the isocenter, right-handed about +z (superior):
α > 0 moves the patient's left side backwards (towards posterior) and the right
side forwards. Tilt (``tilt_deg``) is right-handed about +x (patient left):
tilt > 0 moves the head towards anterior (−y) and the feet towards posterior.

Source and detector
-------------------
PA: the source is posterior (+y), the beam travels towards anterior, the
detector is in front of the chest. AP: the reverse. The source sits at
distance ``sod_mm`` (source–isocenter) from the isocenter, the detector plane at
``sid_mm`` (source–image) from the source, perpendicular to the central ray.

Display convention (ARCHITECTURE.md): images are shown as the viewer facing the
patient — head at the top, the patient's right on the image's left — for PA and
AP alike. Hence detector column index increases towards patient left (+x) and
row index increases towards the feet (−z), whatever the view.

Pixel (r, c) of a ``rows × cols`` detector with square pitch p has its centre at
``u = (c − (cols − 1)/2)·p + u0``, ``v = (r − (rows − 1)/2)·p + v0`` mm on the
detector axes, where (u0, v0) is the principal-point offset.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Geometry(BaseModel):
    """An explicit X-ray acquisition geometry (all lengths in mm, angles in degrees)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sid_mm: float = Field(1800.0, gt=0, description="source–image (detector) distance, mm")
    sod_mm: float = Field(1650.0, gt=0, description="source–object (isocenter) distance, mm")
    rows: int = Field(256, ge=1, le=8192, description="detector rows (pixels)")
    cols: int = Field(256, ge=1, le=8192, description="detector columns (pixels)")
    pitch_mm: float = Field(430.0 / 256, gt=0, description="detector pixel pitch, mm")
    principal_point_mm: tuple[float, float] = Field(
        (0.0, 0.0), description="offset (u0, v0) of the detector centre from the central ray, mm"
    )
    view: Literal["PA", "AP"] = Field("PA", description="PA: source behind the patient; AP: in front")
    rotation_deg: float = Field(0.0, ge=-180, le=180, description="patient rotation α about the S–I axis, degrees")
    tilt_deg: float = Field(0.0, ge=-90, le=90, description="patient tilt about the L–R axis, degrees")
    translation_mm: tuple[float, float, float] = Field(
        (0.0, 0.0, 0.0), description="patient translation in the world LPS frame, mm"
    )
    isocenter_mm: tuple[float, float, float] | None = Field(
        None, description="isocenter in CT physical (LPS) coordinates, mm; None = volume centre"
    )
    source_offset_mm: tuple[float, float] = Field(
        (0.0, 0.0), description="shift of the source point in the focal-spot plane along (u, v), mm"
    )

    @model_validator(mode="after")
    def _check_distances(self) -> "Geometry":
        if self.sod_mm >= self.sid_mm:
            raise ValueError(
                f"sod_mm ({self.sod_mm}) must be smaller than sid_mm ({self.sid_mm}): "
                "the patient lies between source and detector"
            )
        return self

    # ------------------------------------------------------------------ derived quantities
    @property
    def oid_mm(self) -> float:
        """Object (isocenter)–image distance, mm."""
        return self.sid_mm - self.sod_mm

    @property
    def magnification(self) -> float:
        """Magnification of the isocenter plane, SID / SOD (REFERENCES.md §5)."""
        return self.sid_mm / self.sod_mm

    # ------------------------------------------------------------------ frames
    def beam_direction(self) -> torch.Tensor:
        """Unit vector of the central ray (source → detector) in the world frame, ``[3]``."""
        return torch.tensor([0.0, -1.0, 0.0] if self.view == "PA" else [0.0, 1.0, 0.0], dtype=torch.float64)

    @staticmethod
    def detector_axes() -> tuple[torch.Tensor, torch.Tensor]:
        """Unit vectors (û along columns → patient left, v̂ along rows → feet), each ``[3]``."""
        return (
            torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
            torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64),
        )

    def patient_rotation(self) -> torch.Tensor:
        """Rotation matrix R = R_x(tilt) · R_z(α) from CT axes to world axes, ``[3, 3]`` float64."""
        a, t = math.radians(self.rotation_deg), math.radians(self.tilt_deg)
        rz = torch.tensor(
            [[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64
        )
        rx = torch.tensor(
            [[1.0, 0.0, 0.0], [0.0, math.cos(t), -math.sin(t)], [0.0, math.sin(t), math.cos(t)]], dtype=torch.float64
        )
        return rx @ rz

    def source_position(self) -> torch.Tensor:
        """World position of the (possibly offset) source point, ``[3]`` float64, mm."""
        u, v = self.detector_axes()
        d = self.beam_direction()
        du, dv = self.source_offset_mm
        return -self.sod_mm * d + du * u + dv * v

    def pixel_positions(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """World positions of all pixel centres, ``[rows * cols, 3]`` float64 (row-major), mm."""
        u, v = self.detector_axes()
        d = self.beam_direction()
        centre = (self.sid_mm - self.sod_mm) * d
        u0, v0 = self.principal_point_mm
        cu = (torch.arange(self.cols, dtype=torch.float64) - (self.cols - 1) / 2) * self.pitch_mm + u0
        cv = (torch.arange(self.rows, dtype=torch.float64) - (self.rows - 1) / 2) * self.pitch_mm + v0
        vv, uu = torch.meshgrid(cv, cu, indexing="ij")
        pts = centre + uu.reshape(-1, 1) * u + vv.reshape(-1, 1) * v
        return pts.to(device)

    def world_to_ct(self, points: torch.Tensor, isocenter_ct: torch.Tensor) -> torch.Tensor:
        """Map world points ``[..., 3]`` (mm) to CT physical coordinates (mm): R^T (x − t) + c."""
        r = self.patient_rotation().to(points)
        t = torch.tensor(self.translation_mm, dtype=points.dtype, device=points.device)
        return (points - t) @ r + isocenter_ct.to(points)

    def project_world(self, points: torch.Tensor) -> torch.Tensor:
        """Pinhole projection of world points ``[N, 3]`` to fractional pixel (row, col), ``[N, 2]``.

        Pixel (0, 0) is the centre of the top-left pixel. Points behind the source give NaN.
        """
        pts = points.to(torch.float64)
        s = self.source_position().to(pts)
        d = self.beam_direction().to(pts)
        u, v = (a.to(pts) for a in self.detector_axes())
        rel = pts - s
        depth = rel @ d
        # The detector plane is at distance sid from the source along d (source offsets are perpendicular to d).
        scale = torch.where(depth > 0, self.sid_mm / depth, torch.nan)
        hit = s + rel * scale.unsqueeze(-1)
        u0, v0 = self.principal_point_mm
        col = (hit @ u - u0) / self.pitch_mm + (self.cols - 1) / 2
        row = (hit @ v - v0) / self.pitch_mm + (self.rows - 1) / 2
        return torch.stack([row, col], dim=-1)


# Detector pitch of the 43 cm chest presets when rendered at the CPU-friendly default of 256 px.
_CHEST_FIELD_MM = 430.0

PRESET_GEOMETRIES: dict[str, dict] = {
    # Chest PA: SID 180 cm, 43 × 43 cm detector (REFERENCES.md §1); isocenter ≈ mid-chest, 15 cm from the detector.
    "chest_pa": dict(sid_mm=1800.0, sod_mm=1650.0, rows=256, cols=256, pitch_mm=_CHEST_FIELD_MM / 256, view="PA"),
    # Bedside AP: SID ≈ 100 cm (REFERENCES.md §1), 35 × 43 cm cassette approximated square 35 cm; isocenter 12 cm
    # above the detector lying behind the patient.
    "bedside_ap": dict(sid_mm=1000.0, sod_mm=880.0, rows=256, cols=256, pitch_mm=350.0 / 256, view="AP"),
    # Fok et al. 2024 (seed 003): source–patient 150 cm, patient–detector 30 cm, 1800 × 1800 detector matrix.
    # The paper gives no pixel pitch; 43 cm / 1800 = 0.239 mm is assumed.
    "fok2024": dict(sid_mm=1800.0, sod_mm=1500.0, rows=1800, cols=1800, pitch_mm=_CHEST_FIELD_MM / 1800, view="PA"),
}


def preset_geometry(name: str, **overrides) -> Geometry:
    """Build the named preset geometry (``chest_pa``, ``bedside_ap``, ``fok2024``) with overrides.

    ``rows``/``cols`` overrides without ``pitch_mm`` keep the preset's field of view along the longer detector side
    (the pitch becomes field / max(rows, cols)).
    """
    from xraylab.errors import ConfigError

    if name not in PRESET_GEOMETRIES:
        raise ConfigError(f"unknown geometry preset {name!r}; choose one of {', '.join(PRESET_GEOMETRIES)}")
    base = dict(PRESET_GEOMETRIES[name])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if ("rows" in overrides or "cols" in overrides) and "pitch_mm" not in overrides:
        fov = base["rows"] * base["pitch_mm"]
        merged = {**base, **overrides}
        n = max(merged["rows"], merged["cols"])
        base["pitch_mm"] = fov / n
    base.update(overrides)
    return make_geometry(**base)


def make_geometry(**fields) -> Geometry:
    """Construct a :class:`Geometry`, turning validation errors into a ``ConfigError`` naming the field."""
    from pydantic import ValidationError

    from xraylab.errors import ConfigError
    from xraylab.specs import describe_validation_error

    try:
        return Geometry(**fields)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix="geometry.")) from None
