"""The training spec: one YAML file describes a whole run (data mix, model, loss, schedule, augmentation).

Loaded with ``yaml.safe_load`` and validated by pydantic v2 models that forbid unknown fields; a bad
spec raises one :class:`~xraylab.errors.ConfigError` naming the file and the field path, before any
data is read. Checks that need the data (columns, files) live in :mod:`xraylab.train.mixing`.

Example (Fok et al. 2024, U-Net(Real + Syn_all))::

    name: fok_real_syn_all
    task: segmentation
    structures: [clavicles]
    data:
      - {name: real, path: null}          # given on the command line: --data real=DIR
      - {name: syn_all, path: null, val: false}
    model: {name: unet, kwargs: {depth: 5}}
    loss: {name: dice}
    optimizer: {name: adam, lr: 0.01}
    early_stopping: {patience: 30}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from xraylab.errors import ConfigError
from xraylab.overrides import Override
from xraylab.overrides import apply_overrides as override_mapping
from xraylab.registry import registered_name
from xraylab.specs import added_field, read_yaml_mapping, validate_spec

TASKS = ("segmentation", "classification", "severity", "type")
SEG_LOSSES = ("dice", "dice_bce", "bce", "focal")
CLS_LOSSES = ("ce", "focal")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    """One dataset of the mix and its role (``real``, ``syn_cen``, ``syn_all``, ...)."""

    name: str = Field(description="role name, also the key of `--data NAME=DIR` on the command line")
    path: str | None = Field(None, description="dataset folder (with manifest.parquet); null = give it with --data")
    ratio: float | None = Field(
        None, gt=0, description="share of each training epoch drawn from this dataset; null = all its rows once"
    )
    where: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="keep rows whose column value is in the list, e.g. {angle_group: [Center]} (Fok Syn_cen)",
    )
    train: bool = Field(True, description="its `train` rows join the training set")
    val: bool = Field(True, description="its `val` rows join the validation set (best-checkpoint selection)")
    val_fraction: float | None = Field(
        None, gt=0, lt=1, description="carve a subject-level validation split from `train` when the manifest has none"
    )
    val_group: Literal["source", "subject"] = added_field(
        "source", description="unit that val_fraction holds out: source = a CT with all its pseudo-, anatomy- and "
        "silhouette-subjects (nothing of that CT trains); subject = each anatomy on its own (every CT keeps "
        "training anatomies; a synthetic validation set for checkpoint choice when the test set is real)",
    )


class ModelSpec(_Strict):
    """A model by factory name (see :func:`xraylab.train.models.build_model`)."""

    name: Annotated[str, registered_name("xraylab.train.models:MODELS", "model")]
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="factory options, e.g. {depth: 4, encoder_name: resnet18}"
    )
    weights: str | None = Field(None, description="local state-dict file to start from (nothing is downloaded)")
    weights_prefix: str = Field("", description="prefix added to the file's keys, e.g. 'encoder.' for a bare ResNet")


class LossSpec(_Strict):
    name: Literal["dice", "dice_bce", "bce", "ce", "focal"] = "dice"
    smooth: float = Field(1.0, ge=0, description="ε of the Dice loss (Fok et al. eq. 1)")
    gamma: float = Field(2.0, ge=0, description="focal-loss focusing parameter")


# Sane optimiser ranges. Adam's step is about lr per parameter whatever the gradient scale (Kingma & Ba 2015,
# sec. 2.1), so lr > 1 moves every weight by more than its typical size each step; published settings for the
# models here are 1e-4 … 1e-2 (Fok et al. 2024: 0.01). A tiny lr is harmless (nothing moves), so only the top is capped.
LR_RANGE = (0.0, 1.0)  # exclusive below, inclusive above
WEIGHT_DECAY_MAX = 1.0


class OptimizerSpec(_Strict):
    """The optimiser of every training run, 2D and 3D (:func:`xraylab.train.optim.build_optimizer`)."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(0.01, gt=LR_RANGE[0], le=LR_RANGE[1],
                      description="learning rate, 0 < lr ≤ 1 (Fok et al.: Adam, 0.01; nnU-Net: SGD, 0.01)")
    weight_decay: float = Field(0.0, ge=0, le=WEIGHT_DECAY_MAX, description="decoupled (adamw) or L2 (adam), 0 … 1")
    momentum: float = Field(0.99, ge=0, lt=1, description="sgd only: momentum, Nesterov when > 0 (nnU-Net: 0.99)")


class SchedulerSpec(_Strict):
    """The learning-rate schedule, stepped once per epoch (:func:`xraylab.train.optim.build_scheduler`)."""

    name: Literal["none", "cosine", "step", "poly"] = "none"
    step_size: int = Field(10, ge=1, description="epochs between decays (step)")
    gamma: float = Field(0.1, gt=0, le=1, description="decay factor per step_size epochs, 0 < gamma ≤ 1 (step)")
    min_lr: float = Field(0.0, ge=0, le=LR_RANGE[1], description="final learning rate (cosine), ≤ optimizer.lr")
    exponent: float = Field(0.9, ge=0, le=10,
                            description="poly: lr = lr0 (1 - epoch / epochs)^exponent (nnU-Net: 0.9)")


class EarlyStoppingSpec(_Strict):
    patience: int | None = Field(
        None, ge=1, description="stop after this many epochs without a better validation metric"
    )


class AugmentationSpec(_Strict):
    strategy: Annotated[str, registered_name("xraylab.degrade.pipelines:AUGMENTATIONS", "augmentation strategy")] = \
        Field("none", description="a registered augmentation strategy (xraylab.degrade.pipelines)")
    p_clean: float | None = Field(
        None, ge=0, le=1, description="probability that a training image stays clean (null = the strategy's default)"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="extra options for make_augmentation")


class AdversarialSpec(_Strict):
    """RTDA-style adversarial training on the task loss."""

    attack: Literal["none", "fgsm", "pgd"] = "none"
    eps: float = Field(2.0 / 255.0, ge=0, le=1, description="perturbation budget in image units ([0, 1] intensity)")
    step: float | None = Field(None, gt=0, le=1, description="PGD step size (default eps / 4)")
    steps: int = Field(5, ge=1, description="PGD iterations")
    norm: Literal["linf", "l2"] = "linf"
    ratio: float = Field(
        0.5, ge=0, le=1, description="probability that a training batch is replaced by its adversarial version"
    )
    consistency_weight: float = Field(
        0.0, ge=0, description="weight of the clean-vs-augmented prediction consistency loss (0 = off)"
    )


class TrainSpec(_Strict):
    """A full training run."""

    name: str = "run"
    seed: int = 0
    task: Literal[TASKS]  # type: ignore[valid-type]
    data: list[DatasetSpec] = Field(min_length=1)
    structures: list[str] | None = Field(
        None, description="segmentation classes (mask:<structure> columns); null = all"
    )
    label_column: str = Field("label", description="manifest column of the class label (classification)")
    classes: list[str] | None = Field(
        None, description="class labels in output order; null = sorted labels of the data"
    )
    image_size: int = Field(128, ge=8, description="square side in pixels after resize with zero padding")
    in_channels: int = Field(1, ge=1, le=4, description="1 = grayscale (colour images are averaged), 3 = RGB")
    model: ModelSpec
    loss: LossSpec = Field(default_factory=LossSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    early_stopping: EarlyStoppingSpec = Field(default_factory=EarlyStoppingSpec)
    augmentation: AugmentationSpec = Field(default_factory=AugmentationSpec)
    adversarial: AdversarialSpec = Field(default_factory=AdversarialSpec)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(8, ge=1)
    steps_per_epoch: int | None = Field(
        None, ge=1,
        description="training batches per epoch (null = the whole set once); "
        "more than the set holds cycles through fresh shuffles",
    )
    balance_classes: bool = added_field(
        False,
        description="classification tasks: draw each epoch's rows with probability 1 / (rows of their class), so "
        "every class is seen equally often (a rare class such as 'no corruption' is otherwise never predicted)",
    )
    num_workers: int = Field(0, ge=0, description="data-loader worker processes")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    amp: bool = Field(True, description="mixed precision (used on CUDA only)")
    cpu_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads during the run (null = torch's default); 1 helps on busy CPUs"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "TrainSpec":
        if self.scheduler.name == "cosine" and self.scheduler.min_lr > self.optimizer.lr:
            raise ValueError(f"scheduler.min_lr {self.scheduler.min_lr:g} exceeds optimizer.lr "
                             f"{self.optimizer.lr:g}; the cosine schedule decays from lr down to min_lr")
        names = [d.name for d in self.data]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset names must be unique, got {names}")
        seg = self.task == "segmentation"
        if seg and self.loss.name not in SEG_LOSSES:
            raise ValueError(f"loss {self.loss.name!r} does not fit task segmentation; use one of {SEG_LOSSES}")
        if not seg and self.loss.name not in CLS_LOSSES:
            raise ValueError(f"loss {self.loss.name!r} does not fit task {self.task}; use one of {CLS_LOSSES}")
        from xraylab.train.models import check_model_task

        check_model_task(self.model.name, self.task, self.image_size, self.model.kwargs)
        given = [d.ratio is not None for d in self.data if d.train]
        if any(given) and not all(given):
            raise ValueError("give a ratio to every training dataset or to none")
        if not any(d.train for d in self.data):
            raise ValueError("no dataset has train: true")
        if not any(d.val for d in self.data):
            raise ValueError("no dataset has val: true; the best checkpoint needs a validation set")
        if self.balance_classes and seg:
            raise ValueError("balance_classes applies to classification tasks (classification, severity, type), "
                             "not segmentation; remove it")
        if self.balance_classes and any(given):
            raise ValueError("balance_classes and dataset ratios both choose how rows are drawn; use one of them")
        return self


def parse_spec(raw: dict[str, Any], source: str = "<spec>") -> TrainSpec:
    """Validate a spec dictionary; raise :class:`ConfigError` naming ``source`` and the field path."""
    return validate_spec(TrainSpec, raw, source, "training")


def load_spec(path: str | os.PathLike, data_paths: dict[str, str] | None = None, sets: Iterable[Override] = (),
              **overrides: Any) -> TrainSpec:
    """Read ``path`` (YAML), apply ``--data NAME=DIR`` paths, ``--set key.path=value`` and keyword overrides.

    Relative dataset and weight paths written in the file are relative to the file's folder;
    ``data_paths`` (the command line) are taken as given, i.e. relative to the working directory.
    ``data_paths`` maps dataset names of the spec to folders; naming a dataset the spec lacks is an
    error. ``sets`` use the grammar of :mod:`xraylab.overrides` (``optimizer.lr=0.01``); ``overrides``
    (e.g. ``epochs=2``) replace top-level fields, ``None`` values are ignored.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "training")
    raw = paths_relative_to(raw, path.parent)
    raw = override_raw(raw, data_paths, str(path), sets, **overrides)
    return parse_spec(raw, str(path))


def paths_relative_to(raw: Any, folder: Path) -> Any:
    """Resolve relative ``data[].path`` and ``model.weights`` of a spec file against its folder."""
    if not isinstance(raw, dict):
        return raw
    raw = dict(raw)

    def fix(value: Any) -> Any:
        return str(folder / value) if isinstance(value, str) and not Path(value).is_absolute() else value

    if isinstance(raw.get("data"), list):
        raw["data"] = [dict(d, path=fix(d.get("path"))) if isinstance(d, dict) else d for d in raw["data"]]
    if isinstance(raw.get("model"), dict) and "weights" in raw["model"]:
        raw["model"] = dict(raw["model"], weights=fix(raw["model"]["weights"]))
    return raw


def override_raw(raw: Any, data_paths: dict[str, str] | None, source: str, sets: Iterable[Override] = (),
                    **overrides: Any) -> Any:
    """A copy of the raw spec with dataset paths, ``key.path=value`` overrides and top-level fields replaced."""
    if not isinstance(raw, dict):
        return raw
    raw = dict(raw)
    if data_paths:
        datasets = [dict(d) if isinstance(d, dict) else d for d in raw.get("data") or []]
        known = {d.get("name") for d in datasets if isinstance(d, dict)}
        for name, folder in data_paths.items():
            if name not in known:
                raise ConfigError(
                    f"{source}: --data {name}=...: the spec has no dataset named {name!r} "
                    f"(has {sorted(known, key=str)})"
                )
            for d in datasets:
                if isinstance(d, dict) and d.get("name") == name:
                    d["path"] = str(folder)
        raw["data"] = datasets
    items = list(sets) + [(k, v) for k, v in overrides.items() if v is not None]
    return override_mapping(raw, items, model=TrainSpec, label=f"{source}: --set")


def spec_to_yaml(spec: TrainSpec) -> str:
    """The resolved spec (every default filled in) as YAML text."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
