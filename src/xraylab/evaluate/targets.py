"""What a segmentation score compares: a :class:`Target` per scored structure (light: no torch, no pandas)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Target:
    """One scored structure: the union of model classes ``pred`` against the union of dataset masks ``true``."""

    structure: str
    pred: tuple[str, ...]
    true: tuple[str, ...]

    @property
    def target(self) -> str:
        return "+".join(self.true)


def class_targets(classes: Sequence[str]) -> list[Target]:
    """Each model class scored against the mask of the same name."""
    return [Target(c, (c,), (c,)) for c in classes]
