"""Name -> corruption registry.

Corruption classes register themselves with :func:`register` when their module is
imported; :func:`get` and :func:`names` import every built-in module first, so
``registry.names()`` always lists all of them, in a stable order (X-ray physics,
traditional baselines, dermoscopy, CT).
"""

from __future__ import annotations

import importlib

from xraylab.degrade.base import MODALITIES, Corruption
from xraylab.errors import ConfigError

_REGISTRY: dict[str, Corruption] = {}
_BUILTIN_MODULES = ("xray", "traditional", "dermoscopy", "ct")
_loaded = False


def register(cls: type[Corruption]) -> type[Corruption]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and type(_REGISTRY[cls.name]) is not cls:
        raise ValueError(f"corruption name '{cls.name}' registered twice")
    bad = [m for m in cls.modalities if m not in MODALITIES]
    if bad:
        raise ValueError(f"{cls.__name__}: unknown modality tag(s) {bad}")
    _REGISTRY[cls.name] = cls()
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        for mod in _BUILTIN_MODULES:
            importlib.import_module(f"xraylab.degrade.{mod}")
        _loaded = True


def get(name: str) -> Corruption:
    """The corruption registered as ``name``; ``ConfigError`` listing the valid names otherwise."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown corruption '{name}'; choose from: {', '.join(_REGISTRY)}") from None


def names(modality: str | None = None) -> list[str]:
    """Registered corruption names, optionally only those tagged with ``modality``."""
    _load()
    if modality is not None and modality not in MODALITIES:
        raise ConfigError(f"unknown modality '{modality}'; choose from: {', '.join(MODALITIES)}")
    return [n for n, c in _REGISTRY.items() if modality is None or modality in c.modalities]
