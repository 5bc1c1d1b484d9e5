"""Checkpoints: atomic ``torch.save`` of plain dicts, loaded back with ``weights_only=True``.

A checkpoint holds only tensors and primitive containers:

================  ==============================================================
``model_state``   the model's state dict
``model``         ``{"name": str, "kwargs": dict}`` for :func:`~xraylab.train.models.build_model`
``task``          ``segmentation`` | ``classification`` | ``severity`` | ``type``
``classes``       structure names or class labels, in output-channel order
``image_size``    square input side in pixels
``in_channels``   input channels C
``epoch``         epochs completed (1-based)
``best_metric``   best validation metric so far (mean Dice or balanced accuracy)
``monitor``       name of that metric (``mean_dice`` | ``balanced_accuracy``)
``run_name``      the spec's ``name``
``label_column``  manifest column of the class label (classification)
================  ==============================================================

``last.pt`` adds ``training``: optimizer, scheduler, scaler and RNG states and the early-stopping
counters, so that a resumed run continues exactly where the killed one stopped.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xraylab.errors import InputFileError
from xraylab.io.atomic import write_bytes

BEST = "best.pt"
LAST = "last.pt"
CHECKPOINT_DIR = "checkpoints"


def checkpoint_bytes(payload: dict[str, Any]) -> bytes:
    """The bytes ``torch.save`` writes for ``payload``, with the fixed archive name ``archive/``.

    ``torch.save`` to a file path names the zip's top folder after the file, so saving through a temporary
    name (``.last.pt.<pid>.tmp``) put the process id inside the archive and identical runs gave different bytes;
    saving to a buffer always uses ``archive``. The zip entries carry no time stamps, so identical payloads give
    identical bytes.
    """
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """``torch.save`` ``payload`` to ``path`` atomically (temp name, then rename); byte-identical for equal payloads."""
    return write_bytes(path, checkpoint_bytes(payload))


def resolve_checkpoint(path: str | os.PathLike, which: str = BEST) -> Path:
    """A ``.pt`` file as given, or ``<run dir>/checkpoints/<which>`` for a run directory."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_DIR / which
    if not path.is_file():
        raise InputFileError(
            f"{path}: checkpoint not found; pass a run directory made by `xraylab train` or a .pt file"
        )
    return path


def read_checkpoint(path: str | os.PathLike, which: str = BEST, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict with ``weights_only=True`` (tensors mapped to ``device``)."""
    path = resolve_checkpoint(path, which)
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(f"{path}: cannot load checkpoint ({first}); it is not a complete .pt file written by "
                             "`xraylab train` (truncated, or saved by another program)") from exc
    if not isinstance(ckpt, dict):
        raise InputFileError(f"{path}: not an xraylab checkpoint (it holds a {type(ckpt).__name__}, not the dict "
                             "`xraylab train` writes); pass a run directory or its checkpoints/best.pt")
    missing = [k for k in ("model_state", "model", "task", "classes", "image_size", "in_channels") if k not in ckpt]
    if missing:
        raise InputFileError(f"{path}: not an xraylab checkpoint (lacks {', '.join(missing)})")
    return ckpt


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a run directory (``checkpoints/best.pt``) or ``.pt`` file, in eval mode.

    Returns ``(model, info)``; ``info`` is the checkpoint without ``model_state`` and training state
    (``model``, ``task``, ``classes``, ``image_size``, ``in_channels``, ``epoch``, ``best_metric``, ...).
    """
    from xraylab.train.models import build_model

    ckpt = read_checkpoint(path, BEST, device="cpu")
    spec = ckpt["model"]
    model = build_model(spec["name"], ckpt["task"], int(ckpt["in_channels"]), len(ckpt["classes"]), **spec["kwargs"])
    model.load_state_dict(ckpt["model_state"])
    model.to(device).eval()
    info = {k: v for k, v in ckpt.items() if k not in ("model_state", "training")}
    return model, info
