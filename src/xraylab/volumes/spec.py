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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xraylab.specs import read_yaml_mapping, validate_spec

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


class VolumeOptimizerSpec(_Strict):
    name: Literal["sgd", "adam", "adamw"] = Field("sgd", description="nnU-Net: SGD, Nesterov momentum 0.99")
    lr: float = Field(0.01, gt=0, description="initial learning rate (nnU-Net: 0.01)")
    momentum: float = Field(0.99, ge=0, lt=1)
    weight_decay: float = Field(3e-5, ge=0, description="nnU-Net: 3e-5")
    poly_exponent: float = Field(0.9, ge=0, description="lr = lr0 (1 - epoch / epochs)^exp (nnU-Net poly; 0 = fixed)")


class VolumeAugSpec(_Strict):
    strategy: str = Field("none", description="none, single, all_corruption, intensity, geometric, artifact, ramp")
    options: dict[str, Any] = Field(default_factory=dict, description="RampConfig fields, e.g. {exclude: [ct_stripe]}")

    @field_validator("strategy")
    @classmethod
    def _known(cls, v: str) -> str:
        from xraylab.volumes.augment import STRATEGIES

        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; choose one of {', '.join(STRATEGIES)}")
        return v


class VolumeTrainSpec(_Strict):
    """A 3D segmentation training run on a volume dataset."""

    name: str = "volume_run"
    task: Literal["segmentation_3d"] = TASK
    seed: int = 42
    data: str | None = Field(None, description="volume dataset folder (relative to the spec file); or --data ct=DIR")
    classes: list[str] | None = Field(None, description="output classes (null = the dataset's classes)")
    model: VolumeModelSpec = Field(default_factory=VolumeModelSpec)
    optimizer: VolumeOptimizerSpec = Field(default_factory=VolumeOptimizerSpec)
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


def parse_volume_spec(raw: dict[str, Any], source: str = "<spec>") -> VolumeTrainSpec:
    """Validate a spec mapping; one-line ``ConfigError`` naming ``source`` and the field otherwise."""
    return validate_spec(VolumeTrainSpec, raw, source, "3D training")


def load_volume_spec(path: str | os.PathLike, data: str | None = None, **overrides: Any) -> VolumeTrainSpec:
    """Read a spec file; relative ``data`` resolves against its folder; ``data``/``overrides`` replace fields."""
    path = Path(path)
    raw = dict(read_yaml_mapping(path, "3D training"))
    if isinstance(raw.get("data"), str) and not Path(raw["data"]).is_absolute():
        raw["data"] = str(path.parent / raw["data"])
    if data is not None:
        raw["data"] = str(data)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return parse_volume_spec(raw, str(path))


def is_volume_spec(raw: Any) -> bool:
    """True when a parsed YAML mapping is a 3D training spec (``task: segmentation_3d``)."""
    return isinstance(raw, dict) and raw.get("task") == TASK
