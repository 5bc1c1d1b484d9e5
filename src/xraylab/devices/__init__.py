"""Medical devices in synthetic chest radiographs: tubes, lines, electrodes, pacemakers, sternal wires.

A CT shows none of what real (above all bedside) chest films carry. :mod:`~xraylab.devices.library` places six
kinds of device along the anatomy of a labelled CT (:mod:`~xraylab.devices.anatomy`), with real dimensions and
materials; :mod:`~xraylab.devices.shapes` gives their exact chord lengths per ray and
:mod:`~xraylab.devices.trace` turns them into extra material channels and per-device path layers on the detector,
added to the CT's projection before the physics chain (so devices get the same spectrum, scatter, grid, blur and
noise as the anatomy). A view's devices are drawn by :func:`draw_devices` from a :class:`DevicesSpec`.
"""

from __future__ import annotations

import numpy as np

from xraylab.devices.anatomy import Anatomy
from xraylab.devices.library import DEVICE_KINDS, REQUIRED_STRUCTURES
from xraylab.devices.shapes import Device, Ellipsoid, Tube
from xraylab.devices.spec import KINDS, DevicesSpec
from xraylab.devices.trace import trace_devices


def draw_devices(anatomy: Anatomy, spec: DevicesSpec, rng: np.random.Generator) -> list[Device]:
    """The devices of one view: each kind of ``spec.probability`` present with its probability, misplaced with
    ``spec.misplaced``. Draws happen for every kind in a fixed order (so one seed fixes the whole list). A kind
    whose anchoring structures (:data:`REQUIRED_STRUCTURES`) the CT's label map lacks is left out."""
    out = []
    for kind in KINDS:
        p = float(spec.probability.get(kind, 0.0))
        present, mis = rng.random() < p, rng.random() < spec.misplaced
        sub = np.random.default_rng(rng.integers(2**63))
        if present and all(anatomy.has(s) for s in REQUIRED_STRUCTURES[kind]):
            out.append(DEVICE_KINDS[kind](anatomy, sub, mis))
    return out


def place(anatomy: Anatomy, kinds: list[str], seed: int = 0, misplaced: bool = False) -> list[Device]:
    """The devices ``kinds`` (all present, correctly placed unless ``misplaced``), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    unknown = [k for k in kinds if k not in DEVICE_KINDS]
    if unknown:
        from xraylab.errors import ConfigError

        raise ConfigError(f"unknown device kind(s) {', '.join(unknown)}; choose from {', '.join(DEVICE_KINDS)}")
    return [DEVICE_KINDS[k](anatomy, np.random.default_rng(rng.integers(2**63)), misplaced) for k in kinds]


__all__ = ["Anatomy", "DEVICE_KINDS", "KINDS", "REQUIRED_STRUCTURES", "Device", "DevicesSpec", "Ellipsoid", "Tube",
           "draw_devices", "place", "trace_devices"]
