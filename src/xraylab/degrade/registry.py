"""The corruption family: :data:`CORRUPTIONS`, a :class:`~xraylab.registry.Registry` of
:class:`~xraylab.degrade.base.Corruption` instances.

An entry is one ready-to-use corruption object, registered under its ``name`` by the class
decorator :func:`register` when its module is imported. The built-in modules (X-ray physics,
traditional baselines, dermoscopy, CT, burnt-in annotations) are imported on the first look-up, so
:func:`names` always lists all of them. :func:`get` and :func:`names` are the calls the rest of the package uses;
:func:`defaults` is :func:`names` without the ``opt_in`` corruptions, for default pools and sets.
"""

from __future__ import annotations

from xraylab.degrade.base import MODALITIES, Corruption
from xraylab.errors import ConfigError
from xraylab.registry import Registry

CORRUPTIONS: Registry[Corruption] = Registry(
    "corruption",
    builtin_modules=tuple(
        f"xraylab.degrade.{m}" for m in ("xray", "traditional", "dermoscopy", "ct", "annotations")
    ),
)


def register(cls: type[Corruption]) -> type[Corruption]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    bad = [m for m in cls.modalities if m not in MODALITIES]
    if bad:
        raise ValueError(f"{cls.__name__}: unknown modality tag(s) {bad}")
    CORRUPTIONS.register(cls.name, cls())
    return cls


def get(name: str) -> Corruption:
    """The corruption registered as ``name``; ``ConfigError`` listing the valid names otherwise."""
    return CORRUPTIONS.get(name)


def names(modality: str | None = None) -> list[str]:
    """Registered corruption names, optionally only those tagged with ``modality``."""
    if modality is not None and modality not in MODALITIES:
        raise ConfigError(f"unknown modality '{modality}'; choose from: {', '.join(MODALITIES)}")
    return [n for n, c in CORRUPTIONS.items() if modality is None or modality in c.modalities]


def defaults(modality: str | None = None) -> list[str]:
    """:func:`names` without the ``opt_in`` corruptions: the default pools and sets (augmentation strategies,
    ``xraylab degrade`` without ``--corruptions``), which stay as they were when an opt-in corruption is added."""
    return [n for n in names(modality) if not CORRUPTIONS.get(n).opt_in]
