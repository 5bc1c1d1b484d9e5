"""One factory for every model the trainer and evaluator build by name: the :data:`MODELS` registry.

Each entry (:class:`ModelEntry`) carries the task it serves and its builder; :func:`build_model` and the
training spec's validators read names and tasks from it.

Segmentation (segmentation-models-pytorch): ``unet`` (depth 3–5, Fok et al. Table 3), ``unetplusplus``,
``fpn``, ``deeplabv3plus``, ``swin_unet`` (U-Net decoder on a timm Swin-T encoder, the Swin-Unet
stand-in) and ``mit_unet`` (U-Net on a SegFormer MiT-b0 encoder). They take ``[B, C, H, W]`` images in
[0, 1] and return logits ``[B, K, H, W]`` (multi-label: sigmoid per class).

Classification (timm): ``resnet18``, ``convnext_tiny``, ``vit_base_patch16_224`` (ViT-b16) and
``small_cnn`` (a tiny CNN for tests and smoke runs). They return logits ``[B, K]``.

Every model starts from random initialisation (``encoder_weights=None`` / ``pretrained=False``); a
local state dict is loaded with :func:`load_weights`. Nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from xraylab.errors import ConfigError, InputFileError
from xraylab.registry import Registry

SEGMENTATION = "segmentation"
CLASSIFICATION = "classification"  # also serves the classification-like tasks ``severity`` and ``type``
_DECODER_CHANNELS = (256, 128, 64, 32, 16)
SWIN_ENCODER = "tu-swin_tiny_patch4_window7_224"


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: the task it serves and how to build it.

    ``task``: :data:`SEGMENTATION` (logits ``[B, K, H, W]``) or :data:`CLASSIFICATION` (logits ``[B, K]``).
    ``build(in_channels, num_classes, kwargs)``: the module with random weights (nothing is downloaded).
    ``check(image_size, kwargs)``: raises ``ValueError`` when the model cannot take that input size or those
    options (``None``: any size).
    ``sized``: the input size is part of the architecture, so ``kwargs`` should carry ``image_size``
    (the trainer adds it and stores it in the checkpoint).
    """

    task: str
    build: Callable[[int, int, dict[str, Any]], nn.Module]
    check: Callable[[int, dict[str, Any]], None] | None = None
    sized: bool = False


MODELS: Registry[ModelEntry] = Registry("model")


def model_names(task: str | None = None) -> list[str]:
    """Registered model names; with ``task``, only those serving it (``severity``/``type`` = classification)."""
    if task is None:
        return MODELS.names()
    wanted = SEGMENTATION if task == SEGMENTATION else CLASSIFICATION
    return [n for n, e in MODELS.items() if e.task == wanted]


def check_model_task(name: str, task: str, image_size: int, kwargs: dict[str, Any]) -> None:
    """Raise ``ValueError`` when ``name`` cannot serve ``task`` at ``image_size`` (spec validation)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS.names())}")
    entry = MODELS.get(name)
    wanted = SEGMENTATION if task == SEGMENTATION else CLASSIFICATION
    if entry.task != wanted:
        raise ValueError(
            f"model {name!r} is not a {wanted} model (task {task}); choose one of {', '.join(model_names(task))}"
        )
    if entry.check is not None:
        entry.check(image_size, kwargs)


def _check_cnn_depth(name: str, image_size: int, kwargs: dict[str, Any]) -> None:
    depth = int(kwargs.get("depth", 5))
    if not 3 <= depth <= 5:
        raise ValueError(f"model.kwargs.depth must be 3, 4 or 5, got {depth}")
    if image_size % (2**depth):
        raise ValueError(f"image_size {image_size} must be divisible by 2**depth = {2**depth} for {name}")


def _check_multiple_of_32(name: str, image_size: int, kwargs: dict[str, Any]) -> None:
    if image_size % 32:
        raise ValueError(f"image_size {image_size} must be divisible by 32 for {name}")


def _refuse_hub_weights(kw: dict[str, Any], key: str) -> None:
    """Drop a hub-weights request that asks for nothing; refuse one that would download weights."""
    value = kw.pop(key, None)
    if value not in (None, False, "none", "None", ""):
        raise ConfigError(
            f"model.kwargs.{key}={value!r} would download weights, which xraylab never does; give a local "
            "file as model.weights instead (random initialisation otherwise)"
        )


def _smp_cnn(name: str, smp_class: str, in_channels: int, num_classes: int, kwargs: dict[str, Any]) -> nn.Module:
    """An smp decoder (``smp_class``) on a CNN encoder (default resnet18) of ``depth`` 3–5 (Fok et al. Table 3)."""
    import segmentation_models_pytorch as smp

    kw = dict(kwargs)
    _refuse_hub_weights(kw, "encoder_weights")
    depth = int(kw.pop("depth", 5))
    kw.setdefault("encoder_name", "resnet18")
    kw["encoder_depth"] = depth
    if name in ("unet", "unetplusplus"):
        kw.setdefault("decoder_channels", _DECODER_CHANNELS[5 - depth :])
    if name == "fpn":
        kw.setdefault("upsampling", 2 ** (depth - 3))
    cls = getattr(smp, smp_class)
    _refuse_unknown_kwargs(cls, kw, extra=("depth",))
    model = cls(encoder_weights=None, in_channels=in_channels, classes=num_classes, **kw)
    _drop_unused_resnet_stages(model.encoder, depth)
    return model


def _refuse_unknown_kwargs(cls: Any, kw: dict[str, Any], extra: Sequence[str] = ()) -> None:
    """Raise ``TypeError`` naming the keys of ``kw`` that ``cls`` has no named parameter for (smp constructors
    take ``**kwargs`` and would ignore a misspelt option)."""
    import inspect

    params = inspect.signature(cls).parameters.values()
    known = {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    unknown = sorted(set(kw) - known)
    if unknown:
        allowed = sorted((known | set(extra)) - {"self", "in_channels", "classes", "encoder_weights"})
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(allowed)}")


def _smp_transformer_unet(
    encoder: str, size_bound: bool, in_channels: int, num_classes: int, kwargs: dict[str, Any]
) -> nn.Module:
    """An smp U-Net decoder on a transformer ``encoder``; ``size_bound``: the encoder needs ``image_size``."""
    import segmentation_models_pytorch as smp

    kw = dict(kwargs)
    _refuse_hub_weights(kw, "encoder_weights")
    image_size = kw.pop("image_size", None)
    kw.setdefault("encoder_name", encoder)
    if size_bound and image_size is not None:
        kw.setdefault("img_size", int(image_size))
    return smp.Unet(encoder_weights=None, in_channels=in_channels, classes=num_classes, **kw)


def _drop_unused_resnet_stages(encoder: nn.Module, depth: int) -> None:
    """Replace ResNet stages a shallow encoder never runs (``layer{depth}`` and up) by identities.

    smp builds the whole ResNet even at depth 3; the unused stages would only bloat checkpoints
    (resnet18: 11 M of 11.4 M parameters at depth 3).
    """
    for k in range(max(depth, 1), 5):
        if isinstance(getattr(encoder, f"layer{k}", None), nn.Sequential):
            setattr(encoder, f"layer{k}", nn.Identity())


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU blocks with stride-2 pooling and a linear head: ``[B, C, H, W] -> [B, K]``."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for k in range(4):
            w = width * 2 ** min(k, 2)
            layers += [
                nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)
            ]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def _small_cnn(in_channels: int, num_classes: int, kwargs: dict[str, Any]) -> nn.Module:
    return SmallCNN(in_channels, num_classes, **kwargs)


def _timm_classifier(name: str, in_channels: int, num_classes: int, kwargs: dict[str, Any]) -> nn.Module:
    """The timm model ``name`` with random weights; ViTs take ``image_size`` as their input size."""
    import timm

    kw = dict(kwargs)
    _refuse_hub_weights(kw, "pretrained")
    image_size = kw.pop("image_size", None)
    if name.startswith("vit") and image_size is not None:
        kw.setdefault("img_size", int(image_size))
    return timm.create_model(name, pretrained=False, in_chans=in_channels, num_classes=num_classes, **kw)


def _smp_cnn_entry(name: str, smp_class: str) -> ModelEntry:
    return ModelEntry(SEGMENTATION, partial(_smp_cnn, name, smp_class), partial(_check_cnn_depth, name))


def _transformer_unet_entry(name: str, encoder: str, size_bound: bool) -> ModelEntry:
    return ModelEntry(
        SEGMENTATION, partial(_smp_transformer_unet, encoder, size_bound), partial(_check_multiple_of_32, name),
        sized=size_bound,
    )


MODELS.register("unet", _smp_cnn_entry("unet", "Unet"))
MODELS.register("unetplusplus", _smp_cnn_entry("unetplusplus", "UnetPlusPlus"))
MODELS.register("fpn", _smp_cnn_entry("fpn", "FPN"))
MODELS.register("deeplabv3plus", _smp_cnn_entry("deeplabv3plus", "DeepLabV3Plus"))
MODELS.register("swin_unet", _transformer_unet_entry("swin_unet", SWIN_ENCODER, size_bound=True))
MODELS.register("mit_unet", _transformer_unet_entry("mit_unet", "mit_b0", size_bound=False))
MODELS.register("resnet18", ModelEntry(CLASSIFICATION, partial(_timm_classifier, "resnet18")))
MODELS.register("convnext_tiny", ModelEntry(CLASSIFICATION, partial(_timm_classifier, "convnext_tiny")))
MODELS.register(
    "vit_base_patch16_224", ModelEntry(CLASSIFICATION, partial(_timm_classifier, "vit_base_patch16_224"), sized=True)
)
MODELS.register("small_cnn", ModelEntry(CLASSIFICATION, _small_cnn))


def build_model(name: str, task: str, in_channels: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build model ``name`` for ``task`` with random weights.

    ``in_channels``: image channels C; ``num_classes``: K output channels (structures or classes).
    ``kwargs``: factory options — ``depth`` (3–5) and ``encoder_name`` for the smp models,
    ``image_size`` for Swin/ViT, and any keyword of the underlying smp/timm constructor.
    """
    try:
        check_model_task(name, task, int(kwargs.get("image_size", 2**10)), kwargs)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if num_classes < 1:
        raise ConfigError(f"model {name!r} needs at least one output class, got {num_classes}")
    try:
        return MODELS.get(name).build(in_channels, num_classes, kwargs)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: bad model.kwargs {kwargs} ({exc})") from None
    except ImportError as exc:
        raise ConfigError(f"model {name!r} needs {exc.name or 'a training library'}, part of the 'train' extra: "
                          "pip install 'xraylab[train]'") from None


def load_weights(
    model: nn.Module, path: str | os.PathLike, prefix: str = "", strict: bool = False
) -> dict[str, list[str]]:
    """Load a local state dict (a bare state dict or an xraylab checkpoint) into ``model``.

    ``prefix`` is prepended to every key of the file, e.g. ``"encoder."`` to load a plain
    torchvision/timm ResNet state dict into an smp encoder. Keys whose shapes differ (e.g. a
    classifier head with another class count) are skipped; a file that matches no key at all is an
    error. Returns ``{"missing": [...], "unexpected": [...], "skipped": [...]}``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: weights file not found (model.weights); weights are never downloaded")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputFileError(f"{path}: cannot load weights ({exc})") from exc
    if isinstance(state, dict) and "model_state" in state:
        state = state["model_state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputFileError(f"{path}: not a state dict of tensors")
    state = {prefix + k: v for k, v in state.items()}
    own = model.state_dict()
    if not any(k in own and own[k].shape == v.shape for k, v in state.items()):
        raise InputFileError(
            f"{path}: no parameter name and shape matches the model; check the file or set model.weights_prefix"
        )
    skipped = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    state = {k: v for k, v in state.items() if k not in skipped}
    result = model.load_state_dict(state, strict=strict)
    return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys), "skipped": skipped}
