"""Versions of xraylab and the libraries that shape its outputs (written next to every output)."""

from __future__ import annotations

import platform
from importlib import metadata

_PACKAGES = (
    "torch", "diffdrr", "SimpleITK", "numpy", "spekpy", "xraydb", "segmentation-models-pytorch", "timm", "monai",
)


def package_versions() -> dict[str, str]:
    """Return ``{package: version}`` for xraylab, Python and the key dependencies."""
    out = {"python": platform.python_version()}
    for name in ("xraylab",) + _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
