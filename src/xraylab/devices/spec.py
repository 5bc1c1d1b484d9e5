"""The ``devices:`` block of a generate spec (light: pydantic only, importable without torch)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: the device kinds of :mod:`xraylab.devices.library`, in the order views draw them
KINDS: tuple[str, ...] = ("ett", "ngt", "cvc", "ecg", "pacemaker", "sternal_wires")


class DevicesSpec(BaseModel):
    """Which devices a view gets: ``probability`` per kind (0–1, drawn independently per view) and the chance
    ``misplaced`` (0–1) that a drawn device sits where it should not (the library's misplacements)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    probability: dict[str, float] = Field(default_factory=dict,
                                          description=f"kind → probability per view; kinds: {', '.join(KINDS)}")
    misplaced: float = Field(0.2, ge=0, le=1, description="chance that a drawn device is misplaced")
    supersample: int = Field(4, ge=1, le=8, description="sub-rays per pixel axis for the devices (thin wires)")

    @field_validator("probability")
    @classmethod
    def _kinds(cls, v: dict[str, float]) -> dict[str, float]:
        for k, p in v.items():
            if k not in KINDS:
                raise ValueError(f"unknown device kind {k!r}; choose from {', '.join(KINDS)}")
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"probability of {k!r} must lie in [0, 1], got {p}")
        return v

    @property
    def kinds(self) -> list[str]:
        """The kinds this spec can draw (library order): each gets a mask column."""
        return [k for k in KINDS if k in self.probability]
