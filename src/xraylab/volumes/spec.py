"""The 3D training spec (``task: segmentation_3d``): one YAML file per volume training run.

Example (nnU-Net-like, CPU-sized)::

    name: ramp_ct_ramp
    task: segmentation_3d
    data: ../outputs/ramp_ct_cpu/volumes     # a volume dataset (or --data ct=DIR)
    model: {name: dynunet, filters: [8, 16, 32, 64]}
    patch: [32, 32, 32]
    augmentation: {strategy: ramp}

Validated by pydantic (unknown fields are errors, the message names the file and field).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xraylab.overrides import Override, apply_overrides
from xraylab.registry import registered_name
from xraylab.specs import read_yaml_mapping, validate_spec
from xraylab.train.spec import OptimizerSpec, SchedulerSpec

TASK: Literal["segmentation_3d"] = "segmentation_3d"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VolumeModelSpec(_Strict):
    """MONAI network: ``dynunet`` (nnU-Net's architecture: conv-IN-LeakyReLU blocks, stride-2 levels) or ``unet``."""

    name: Literal["dynunet", "unet"] = "dynunet"
    filters: list[int] = Field([32, 64, 128, 256, 320], min_length=2,
                               description="feature maps per level (nnU-Net 3d_fullres: 32..320)")
    deep_supervision: bool = Field(False, description="DynUNet deep supervision heads (nnU-Net: on)")
    dropout: float = Field(0.0, ge=0, lt=1)

    @field_validator("filters")
    @classmethod
    def _levels(cls, v: list[int]) -> list[int]:
        if len(v) < 3:
            raise ValueError(f"give at least 3 levels of filters (MONAI DynUNet's minimum), got {v}")
        return v


class VolumeAugSpec(_Strict):
    strategy: Annotated[str, registered_name("xraylab.volumes.augment:STRATEGIES", "strategy")] = Field(
        "none", description="none, single, all_corruption, intensity, geometric, artifact, ramp")
    options: dict[str, Any] = Field(default_factory=dict, description="RampConfig fields, e.g. {exclude: [ct_stripe]}")


class VolumeTrainSpec(_Strict):
    """A 3D segmentation training run on a volume dataset."""

    name: str = "volume_run"
    task: Literal["segmentation_3d"] = TASK
    seed: int = 42
    data: str | None = Field(None, description="volume dataset folder (relative to the spec file); or --data ct=DIR")
    classes: list[str] | None = Field(None, description="output classes (null = the dataset's classes)")
    model: VolumeModelSpec = Field(default_factory=VolumeModelSpec)
    optimizer: OptimizerSpec = Field(
        default_factory=lambda: OptimizerSpec(name="sgd", lr=0.01, momentum=0.99, weight_decay=3e-5),
        description="the 2D trainer's optimizer block (nnU-Net default: SGD, Nesterov 0.99, lr 0.01, wd 3e-5)")
    scheduler: SchedulerSpec = Field(default_factory=lambda: SchedulerSpec(name="poly", exponent=0.9),
                                     description="the 2D trainer's scheduler block (nnU-Net default: poly 0.9)")
    augmentation: VolumeAugSpec = Field(default_factory=VolumeAugSpec)
    patch: list[int] = Field([128, 128, 128], min_length=3, max_length=3, description="training patch, voxels")
    batch_size: int = Field(2, ge=1, description="patches per step (nnU-Net: 2)")
    epochs: int = Field(1000, ge=1, description="nnU-Net: 1000 epochs x 250 steps")
    steps_per_epoch: int = Field(250, ge=1)
    foreground_fraction: float = Field(0.33, ge=0, le=1,
                                       description="share of patches centred on a foreground voxel (nnU-Net: 1/3)")
    sw_overlap: float = Field(0.5, ge=0, lt=1, description="sliding-window overlap at validation / test")
    sw_roi: list[int] | None = Field(None, min_length=3, max_length=3,
                                     description="sliding-window size, voxels (null = the patch; a window as large "
                                                 "as the volume is one fully convolutional pass)")
    sw_batch_size: int = Field(4, ge=1)
    val_every: int = Field(1, ge=1, description="validate every N epochs (best checkpoint = highest val Dice)")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    amp: bool = Field(True, description="mixed precision on CUDA")
    cpu_threads: int | None = Field(None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _poly_in_optimizer(cls, raw: Any) -> Any:
        return legacy_poly(raw)


def legacy_poly(raw: Any) -> Any:
    """Specs written before the 2D and 3D blocks were shared gave ``optimizer.poly_exponent``: read it as the
    ``scheduler: {name: poly, exponent: ...}`` block."""
    if isinstance(raw, dict) and isinstance(raw.get("optimizer"), dict) and "poly_exponent" in raw["optimizer"]:
        opt = dict(raw["optimizer"])
        raw = dict(raw, optimizer=opt, scheduler={"name": "poly", "exponent": opt.pop("poly_exponent")})
    return raw


def parse_volume_spec(raw: dict[str, Any], source: str = "<spec>") -> VolumeTrainSpec:
    """Validate a spec mapping; one-line ``ConfigError`` naming ``source`` and the field otherwise."""
    return validate_spec(VolumeTrainSpec, raw, source, "3D training")


def load_volume_spec(path: str | os.PathLike, data: str | None = None, sets: Sequence[Override] = (),
                     **overrides: Any) -> VolumeTrainSpec:
    """Read a spec file; relative ``data`` resolves against its folder; ``data``, ``--set key.path=value``
    overrides (the grammar of :mod:`xraylab.overrides`, as for 2D specs) and ``overrides`` replace fields."""
    path = Path(path)
    raw = dict(read_yaml_mapping(path, "3D training"))
    if isinstance(raw.get("data"), str) and not Path(raw["data"]).is_absolute():
        raw["data"] = str(path.parent / raw["data"])
    if data is not None:
        raw["data"] = str(data)
    items = list(sets) + [(k, v) for k, v in overrides.items() if v is not None]
    raw = apply_overrides(legacy_poly(raw), items, model=VolumeTrainSpec,
                          label=f"{path}: --set")
    return parse_volume_spec(raw, str(path))


def is_volume_spec(raw: Any) -> bool:
    """True when a parsed YAML mapping is a 3D training spec (``task: segmentation_3d``)."""
    return isinstance(raw, dict) and raw.get("task") == TASK
