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

C-arm angles
------------
``lao_deg`` / ``cranial_deg`` turn the whole source–detector assembly about the isocenter, in the
angiography convention (the detector anterior at 0°/0°, i.e. the PA view): ``lao_deg`` > 0 (LAO) moves
the detector towards the patient's left about the S–I axis (LAO 90 is a lateral view, beam from the
patient's right to left), < 0 is RAO; ``cranial_deg`` > 0 then tilts the detector towards the head (CRA),
< 0 towards the feet (CAU). The assembly rotation is C = R_z(lao) · R_x(−cranial), applied to the source,
the detector centre and both detector axes of the view. With ``view="AP"`` the same rotation turns the AP
assembly. The patient pose (above) and the C-arm angles compose: the patient moves in the world frame, the
C-arm around it.

Explicit frame
--------------
``source_mm`` and ``detector_center_mm`` (world frame, mm) place the source and the detector centre
directly; the detector axes then default to the view's axes made orthogonal to the central ray
(Gram–Schmidt), or are given as ``detector_u`` (columns) and ``detector_v`` (rows). ``sid_mm``/``sod_mm`` stay
the nominal distances the physics chain uses (air gap, focal-spot blur): keep them consistent.

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

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

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
    lao_deg: float = Field(0.0, ge=-180, le=180, description="C-arm primary angle: > 0 LAO, < 0 RAO, degrees")
    cranial_deg: float = Field(0.0, ge=-90, le=90, description="C-arm secondary angle: > 0 cranial, < 0 caudal")
    source_mm: tuple[float, float, float] | None = Field(
        None, description="explicit source position in the world frame, mm (with detector_center_mm)")
    detector_center_mm: tuple[float, float, float] | None = Field(
        None, description="explicit detector centre in the world frame, mm (with source_mm)")
    detector_u: tuple[float, float, float] | None = Field(
        None, description="explicit detector column axis (world frame, normalised); default: the view's")
    detector_v: tuple[float, float, float] | None = Field(
        None, description="explicit detector row axis (world frame, normalised); default: the view's")

    @model_validator(mode="after")
    def _check_distances(self) -> "Geometry":
        if self.sod_mm >= self.sid_mm:
            raise ValueError(
                f"sod_mm ({self.sod_mm}) must be smaller than sid_mm ({self.sid_mm}): "
                "the patient lies between source and detector"
            )
        if (self.source_mm is None) != (self.detector_center_mm is None):
            raise ValueError("source_mm and detector_center_mm must be given together")
        if self.source_mm is not None and math.dist(self.source_mm, self.detector_center_mm) <= 0:  # type: ignore
            raise ValueError("source_mm and detector_center_mm must differ")
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
        """Unit vector of the central ray (source → detector centre) in the world frame, ``[3]`` float64."""
        return self.frame()[1]

    def detector_axes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit vectors (û along columns, v̂ along rows) in the world frame, each ``[3]`` float64.

        Without C-arm angles or an explicit frame: û → patient left, v̂ → feet (the display convention).
        """
        _, _, u, v = self.frame()
        return u, v

    def carm_rotation(self) -> torch.Tensor:
        """C-arm assembly rotation C = R_z(lao) · R_x(−cranial), ``[3, 3]`` float64."""
        return _rot_z(torch.tensor(math.radians(self.lao_deg), dtype=torch.float64)) @ _rot_x(
            torch.tensor(-math.radians(self.cranial_deg), dtype=torch.float64))

    def frame(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(source point before ``source_offset_mm``, central-ray direction d̂, û, v̂) in the world frame, float64.

        The detector centre is at ``source + sid_mm · d̂`` (standard frame) or ``detector_center_mm`` (explicit).
        """
        f64 = torch.float64
        if self.source_mm is not None:
            s = torch.tensor(self.source_mm, dtype=f64)
            c = torch.tensor(self.detector_center_mm, dtype=f64)
            d = (c - s) / (c - s).norm()
            u0 = torch.tensor(self.detector_u or (1.0, 0.0, 0.0), dtype=f64)
            v0 = torch.tensor(self.detector_v or (0.0, 0.0, -1.0), dtype=f64)
            u = u0 - (u0 @ d) * d
            if u.norm() < 1e-9:  # the default û lies along the beam: take the world's y axis instead
                u = torch.tensor([0.0, 1.0, 0.0], dtype=f64) - d[1] * d
            u = u / u.norm()
            v = v0 - (v0 @ d) * d - (v0 @ u) * u
            if v.norm() < 1e-9:
                v = torch.linalg.cross(d, u)
            return s, d, u, v / v.norm()
        c = self.carm_rotation()
        d = torch.tensor([0.0, -1.0, 0.0] if self.view == "PA" else [0.0, 1.0, 0.0], dtype=f64)
        u = torch.tensor([1.0, 0.0, 0.0], dtype=f64)
        v = torch.tensor([0.0, 0.0, -1.0], dtype=f64)
        d, u, v = c @ d, c @ u, c @ v
        return -self.sod_mm * d, d, u, v

    def detector_center(self) -> torch.Tensor:
        """World position of the detector centre (the central ray's foot, before ``principal_point_mm``), ``[3]``."""
        if self.detector_center_mm is not None:
            return torch.tensor(self.detector_center_mm, dtype=torch.float64)
        s, d, _, _ = self.frame()
        return s + self.sid_mm * d

    def patient_rotation(self) -> torch.Tensor:
        """Rotation matrix R = R_x(tilt) · R_z(α) from CT axes to world axes, ``[3, 3]`` float64."""
        return patient_rotation(torch.tensor(self.rotation_deg, dtype=torch.float64),
                                torch.tensor(self.tilt_deg, dtype=torch.float64))

    def source_position(self) -> torch.Tensor:
        """World position of the (possibly offset) source point, ``[3]`` float64, mm."""
        s, _, u, v = self.frame()
        du, dv = self.source_offset_mm
        return s + du * u + dv * v

    def pixel_positions(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """World positions of all pixel centres, ``[rows * cols, 3]`` float64 (row-major), mm."""
        _, _, u, v = self.frame()
        centre = self.detector_center()
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

    def rays_ct(
        self,
        isocenter_ct: torch.Tensor,
        pose: dict[str, torch.Tensor] | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Source ``[3]`` and pixel centres ``[rows * cols, 3]`` in CT physical coordinates (mm).

        ``pose`` optionally replaces pose fields by tensors (gradients flow to them): ``rotation_deg``,
        ``tilt_deg`` (0-d, degrees), ``translation_mm`` (``[3]``), and adds world-frame shifts
        ``source_shift_mm`` / ``detector_shift_mm`` (``[3]``, mm) to the source / every pixel.
        """
        pose = dict(pose or {})
        unknown = set(pose) - set(POSE_KEYS)
        if unknown:
            raise ValueError(f"unknown pose keys {sorted(unknown)}; use {', '.join(POSE_KEYS)}")

        def val(key: str, default) -> torch.Tensor:
            v = pose.get(key)
            return (v if v is not None else torch.tensor(default, dtype=torch.float64)).to(device=device, dtype=dtype)

        src = self.source_position().to(device=device, dtype=dtype) + val("source_shift_mm", (0.0, 0.0, 0.0))
        pix = self.pixel_positions(device).to(dtype) + val("detector_shift_mm", (0.0, 0.0, 0.0))
        r = patient_rotation(val("rotation_deg", self.rotation_deg), val("tilt_deg", self.tilt_deg))
        t = val("translation_mm", self.translation_mm)
        iso = isocenter_ct.to(device=device, dtype=dtype)
        return (src - t) @ r + iso, (pix - t) @ r + iso

    def project_world(self, points: torch.Tensor) -> torch.Tensor:
        """Pinhole projection of world points ``[N, 3]`` to fractional pixel (row, col), ``[N, 2]``.

        Pixel (0, 0) is the centre of the top-left pixel. Points behind the source give NaN.
        """
        pts = points.to(torch.float64)
        s = self.source_position().to(pts)
        _, d, u, v = (a.to(pts) for a in self.frame())
        centre = self.detector_center().to(pts)
        rel = pts - s
        depth = rel @ d
        # Intersection with the detector plane through ``centre`` perpendicular to d.
        plane = (centre - s) @ d
        scale = torch.where(depth > 0, plane / depth, torch.nan)
        hit = s + rel * scale.unsqueeze(-1) - centre
        u0, v0 = self.principal_point_mm
        col = (hit @ u - u0) / self.pitch_mm + (self.cols - 1) / 2
        row = (hit @ v - v0) / self.pitch_mm + (self.rows - 1) / 2
        return torch.stack([row, col], dim=-1)


# Pose fields that :meth:`Geometry.rays_ct` accepts as tensors (differentiable rendering).
POSE_KEYS = ("rotation_deg", "tilt_deg", "translation_mm", "source_shift_mm", "detector_shift_mm")


def _rot_z(a: torch.Tensor) -> torch.Tensor:
    """Right-handed rotation about +z by ``a`` radians (0-d tensor, differentiable), ``[3, 3]``."""
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([torch.stack([c, -s, z]), torch.stack([s, c, z]), torch.stack([z, z, o])])


def _rot_x(a: torch.Tensor) -> torch.Tensor:
    """Right-handed rotation about +x by ``a`` radians (0-d tensor, differentiable), ``[3, 3]``."""
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([torch.stack([o, z, z]), torch.stack([z, c, -s]), torch.stack([z, s, c])])


def patient_rotation(rotation_deg: torch.Tensor, tilt_deg: torch.Tensor) -> torch.Tensor:
    """R = R_x(tilt) · R_z(α) for 0-d tensors in degrees (differentiable), ``[3, 3]`` in their dtype."""
    return _rot_x(torch.deg2rad(tilt_deg)) @ _rot_z(torch.deg2rad(rotation_deg))


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
    for k in ("rows", "cols"):
        v = overrides.get(k)
        whole = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v == int(v)
        if v is not None and not whole:
            raise ConfigError(f"geometry.{k} {v!r}: give a whole number of detector pixels, e.g. 256")
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
