"""Helpers shared by CLI commands: the ``--device`` option (CT arguments: :func:`xraylab.render.load_scene`)."""

from __future__ import annotations

from xraylab.errors import ConfigError
from xraylab.io.ct import check_downsample

__all__ = ["check_downsample", "resolve_device"]


def resolve_device(name: str | None, option: str = "--device") -> str | None:
    """Check a torch device name given on the command line; return it normalised (None stays None).

    ``auto`` becomes ``cuda`` when CUDA is available, else ``cpu``. A device this machine lacks (``cuda`` without
    CUDA, ``cuda:3`` with two GPUs, ``mps`` off macOS) is a one-line :class:`ConfigError` saying what to use.
    """
    if name is None:
        return None
    import torch

    text = str(name).strip().lower()
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{option} {name!r}: not a torch device; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{option} {name!r}: CUDA is not available on this machine (torch "
                              f"{torch.__version__}, {torch.cuda.device_count()} GPU(s)); use {option} cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"{option} {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                              f"(cuda:0 … cuda:{torch.cuda.device_count() - 1}); choose one of them")
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError(f"{option} {name!r}: Apple MPS is not available on this machine; use {option} cpu")
    elif device.type != "cpu":
        raise ConfigError(f"{option} {name!r}: unsupported device type {device.type!r}; use cpu, cuda, cuda:N or auto")
    return str(device)
