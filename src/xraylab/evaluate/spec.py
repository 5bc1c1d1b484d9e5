"""The ``xraylab evaluate`` spec: which models, which suites, which datasets.

Example (``simulations/evaluate_fok_rotation.yaml``)::

    name: fok_rotation
    output: runs/evaluate/fok_rotation      # relative to the spec file's folder
    device: cpu
    batch_size: 16
    models:
      - {name: U-Net(Real), path: ../runs/train/unet_real}
      - {name: U-Net(Real+Syn_all), path: ../runs/train/unet_real_syn_all}
    rotation:
      dataset: ../runs/generate/rotation_test
      reference: U-Net(Real)

Relative paths resolve against the folder holding the spec. Unknown keys are errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xraylab.evaluate.suites import SUITES, suite_list
from xraylab.overrides import Override, apply_overrides
from xraylab.specs import read_yaml_mapping, validate_spec

Attack = Literal["fgsm", "pgd"]


def _all_attacks() -> list[Attack]:
    return ["fgsm", "pgd"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    """One model to evaluate: a trainer run folder or a ``.pt`` checkpoint."""

    name: str = Field(min_length=1, description="label used in tables and figures")
    path: str = Field(description="run folder (uses checkpoints/best.pt) or .pt file")


class DatasetRef(_Strict):
    """Common dataset options of a suite."""

    dataset: str = Field(description="dataset folder holding manifest.parquet")
    split: str | None = Field("test", description="manifest split to evaluate; null = all rows")
    models: list[str] | None = Field(None, description="model names to run (default: all of the suite's task)")
    max_images: int | None = Field(None, gt=0, description="evaluate at most this many rows (quick runs)")


class SegmentationOptions(_Strict):
    """Segmentation metric options shared by the rotation, corruption and adversarial suites."""

    dice_empty: Literal["score", "nan"] = Field("score", description="Dice/IoU policy for empty ground truth")
    hd_empty: Literal["max", "nan", "monai"] = Field("max", description="HD/HD95 policy for empty masks")
    spacing_mm: float | tuple[float, float] | None = Field(
        None, description="native pixel spacing (mm); default: manifest column spacing_mm / pixel_spacing_mm"
    )
    distances: bool = Field(True, description="compute HD and HD95 (slower than Dice/IoU)")


class RotationSuite(DatasetRef, SegmentationOptions):
    """Fok et al. Table 2 / Fig. 2 and 4: metrics per patient-rotation angle group."""

    reference: str | None = Field(None, description="model the percentage change is computed against")
    table_class: str = Field("mean", description="class row used for the tables ('mean' = mean over classes)")


class CorruptionSuite(DatasetRef, SegmentationOptions):
    """RAMP Tables 5-10 / Fig. 3-5: clean vs corrupted Dice over corruption x severity."""

    clean_dataset: str | None = Field(None, description="separate clean dataset (default: rows with corruption 'none')")
    high_severity_min: float = Field(
        3, description="severity at or above which a setting is 'high' (RAMP: 0.15 of 0.05-0.25 = level 3 of 1-5)"
    )
    reference: str | None = Field(None, description="baseline model for gain / gap-reduction table (RAMP Table 6)")
    loco: dict[str, str] = Field(
        default_factory=dict, description="held-out corruption family -> model trained without it"
    )
    families: dict[str, list[str]] = Field(
        default_factory=dict, description="corruption family -> corruption names (default: each name is a family)"
    )
    table_class: str = Field("mean", description="class used for the overall tables ('mean' = mean over classes)")
    distances: bool = Field(False, description="also compute HD and HD95")


class ClassificationSuite(DatasetRef):
    """Ward & Imran Table 1 / Fig. 3 and 5, and MedMNIST-C balanced error."""

    target: Literal["auto", "label", "severity", "corruption"] = Field(
        "auto", description="manifest column holding the true class; auto = by the model's task"
    )
    reference: str | None = Field(None, description="reference model for balanced error / relative balanced error")


class AdversarialSuite(DatasetRef, SegmentationOptions):
    """FGSM and PGD over an epsilon sweep (image intensities in [0, 1])."""

    attacks: list[Attack] = Field(default_factory=_all_attacks)
    epsilons: list[float] = Field(
        default_factory=lambda: [0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255],
        description="L-inf budgets in image-intensity units ([0, 1] scale)",
    )
    pgd_steps: int = Field(10, ge=1, description="PGD iterations")
    pgd_step_ratio: float = Field(2.5, gt=0, description="PGD step = ratio * epsilon / steps")
    distances: bool = Field(False, description="also compute HD and HD95 for segmentation models")

    @field_validator("epsilons")
    @classmethod
    def _non_negative(cls, v: list[float]) -> list[float]:
        if not v or any(e < 0 for e in v):
            raise ValueError("epsilons must be a non-empty list of values >= 0")
        return sorted(set(float(e) for e in v))


class EvaluateSpec(_Strict):
    """Top-level spec of ``xraylab evaluate``: one optional section per registered suite (same name)."""

    name: str = "evaluate"
    output: str = Field(description="run folder for results.parquet, summary.md, tables/ and figures/")
    device: str = Field("cpu", description="torch device, e.g. cpu or cuda:0")
    batch_size: int = Field(16, ge=1, description="images per inference batch")
    seed: int = Field(0, description="seed for the PGD random start")
    models: list[ModelSpec] = Field(min_length=1)
    rotation: RotationSuite | None = None
    corruption: CorruptionSuite | None = None
    classification: ClassificationSuite | None = None
    adversarial: AdversarialSuite | None = None

    @model_validator(mode="after")
    def _check(self) -> "EvaluateSpec":
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got {names}")
        if not any(getattr(self, s) is not None for s in SUITES.names()):
            raise ValueError(f"the spec enables no suite; add {suite_list('or')}")
        for suite_name in SUITES.names():
            suite = getattr(self, suite_name)
            if suite is None:
                continue
            wanted = list(suite.models or [])
            for attr in ("reference",):
                ref = getattr(suite, attr, None)
                if ref is not None:
                    wanted.append(ref)
            wanted += list(getattr(suite, "loco", {}).values())
            unknown = [n for n in wanted if n not in names]
            if unknown:
                raise ValueError(f"{suite_name}: unknown model name(s) {unknown}; models are {names}")
        return self


def _resolve(base: Path, p: str | None) -> str | None:
    if p is None:
        return None
    q = Path(os.path.expanduser(p))
    return str(q if q.is_absolute() else (base / q).resolve())


def resolve_paths(spec: EvaluateSpec, base: Path) -> EvaluateSpec:
    """Return a copy of ``spec`` with every relative path resolved against ``base``."""
    data = spec.model_dump()
    data["output"] = _resolve(base, data["output"])
    for m in data["models"]:
        m["path"] = _resolve(base, m["path"])
    for s in SUITES.names():
        if data.get(s):
            data[s]["dataset"] = _resolve(base, data[s]["dataset"])
            if "clean_dataset" in data[s]:
                data[s]["clean_dataset"] = _resolve(base, data[s]["clean_dataset"])
    return EvaluateSpec.model_validate(data)


def parse_spec(data: dict, where: str = "<spec>", base: Path | None = None) -> EvaluateSpec:
    """Validate a spec dict; raise :class:`ConfigError` naming the field path and ``where``."""
    spec = validate_spec(EvaluateSpec, data, where, "evaluate")
    return resolve_paths(spec, base) if base is not None else spec


def apply_run_options(
    data: Mapping[str, Any],
    *,
    output: str | os.PathLike | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    max_images: int | None = None,
    label: str = "evaluate run option",
) -> dict[str, Any]:
    """A copy of the raw spec mapping ``data`` with the run options set (None = keep the spec's value).

    The one place where ``xraylab evaluate SPEC --output/--device/--batch-size/--max-images`` and the
    same options of a ``xraylab run`` evaluate step land in a spec; ``max_images`` applies to every suite
    the spec enables. The options go through the override grammar (:mod:`xraylab.overrides`), checked
    against :class:`EvaluateSpec`; validation stays the caller's (:func:`parse_spec`).
    """
    items: list[tuple[str, Any]] = []
    if output is not None:
        items.append(("output", str(output)))
    if device is not None:
        items.append(("device", device))
    if batch_size is not None:
        items.append(("batch_size", batch_size))
    if max_images is not None:
        items += [(f"{s}.max_images", max_images) for s in SUITES.names() if isinstance(data.get(s), Mapping)]
    return apply_overrides(data, items, model=EvaluateSpec, label=label)


def load_spec(path: str | os.PathLike, overrides: Iterable[Override] = (), label: str = "--set",
              **run_options: Any) -> EvaluateSpec:
    """Read and validate a YAML spec file; relative paths resolve against its folder.

    ``overrides``: ``key.path=value`` items (``xraylab evaluate SPEC --set``), applied before the
    ``run_options`` of :func:`apply_run_options` (``output``, ``device``, ``batch_size``, ``max_images``).
    """
    path = Path(path)
    data = read_yaml_mapping(path, "evaluate")
    data = apply_overrides(data, overrides, model=EvaluateSpec, label=label)
    data = apply_run_options(data, **run_options)
    return parse_spec(data, where=str(path), base=path.resolve().parent)
