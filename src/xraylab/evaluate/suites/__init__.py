"""The evaluation-suite family: :data:`SUITES`, a :class:`~xraylab.registry.Registry` of :class:`Suite` entries.

A suite is a module with ``NAME``, ``run(ctx, cfg) -> rows`` (tidy result rows, see
:mod:`xraylab.evaluate.engine`) and ``report(rows, cfg, fig_dir) -> Section``; the evaluate spec
section of the same name is its ``cfg``. Entries only name their module, which is imported when
the suite runs (:meth:`Suite.load`), so the names are cheap to read (CLI help, spec checks).
Registration order is run order.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from xraylab.registry import Registry


@dataclass(frozen=True)
class Suite:
    """A registered suite: the dotted name of its module and a one-line summary for help texts."""

    module: str
    summary: str

    def load(self) -> ModuleType:
        """The suite module (with ``NAME``, ``run`` and ``report``)."""
        return importlib.import_module(self.module)


SUITES: Registry[Suite] = Registry("evaluation suite")
SUITES.register(
    "rotation", Suite("xraylab.evaluate.suites.rotation", "metrics per patient-rotation angle group (Fok et al.)")
)
SUITES.register(
    "corruption",
    Suite("xraylab.evaluate.suites.corruption", "clean vs corrupted Dice over corruption x severity (RAMP)"),
)
SUITES.register(
    "classification",
    Suite("xraylab.evaluate.suites.classification", "accuracy and balanced error (Ward & Imran, MedMNIST-C)"),
)
SUITES.register("adversarial", Suite("xraylab.evaluate.suites.adversarial", "FGSM / PGD over an epsilon sweep"))


def suite_list(conjunction: str = "and") -> str:
    """The registered suite names as prose, e.g. ``"rotation, corruption and adversarial"``."""
    names = SUITES.names()
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


__all__ = ["SUITES", "Suite", "suite_list"]
