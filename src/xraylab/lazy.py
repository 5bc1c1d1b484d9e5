"""Lazily imported package exports: a package names what it offers without importing the heavy modules behind it.

``__getattr__, __dir__ = lazy_exports(__name__, {"fit": "xraylab.train.trainer", ...})`` in a package's
``__init__`` makes ``package.fit`` import ``xraylab.train.trainer`` on first use (then cached in the package), so
``import xraylab`` or ``xraylab --help`` stays cheap.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names ``exports`` maps to the module defining each."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(import_module(exports[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
