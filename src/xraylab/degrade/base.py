"""The corruption contract shared by every image-space degradation.

A :class:`Corruption` has a ``name``, ``modalities`` tags (``"xray"``,
``"dermoscopy"``, ``"ct"``) and a parameter ``table``: for each named parameter
one value per level, index 0 being the identity setting and indices 1..N the
evaluation severity levels. ``params(severity)`` interpolates the table
linearly, so the same table drives evaluation at integer levels and
augmentation over the continuous range [0, N].

Contract (checked by ``tests/degrade/test_degrade_contract.py`` for every registered corruption):

* input: float tensor in [0, 1], ``[B, C, H, W]`` (and ``[B, C, D, H, W]`` where
  ``volumetric`` is true), on any device;
* output: same shape, dtype and device, values in [0, 1];
* ``severity == 0`` returns the input unchanged (a copy);
* the same generator seed gives the same output;
* masks are untouched unless the corruption is ``spatial``, in which case
  :meth:`Corruption.apply_with_mask` moves them with nearest-neighbour sampling.

A corruption that draws new content into the image (``adds`` set, e.g. burnt-in annotations) also reports
which pixels it drew into: :meth:`Corruption.apply_with_added`. Those marked ``opt_in`` are used only where they
are named, never in the default corruption sets (augmentation pools, ``xraylab degrade`` without
``--corruptions``).
"""

from __future__ import annotations

from typing import ClassVar, Mapping, Sequence

import numpy as np
import torch

from xraylab.degrade.rng import fresh_generator
from xraylab.errors import ConfigError

MODALITIES = ("xray", "dermoscopy", "ct")


class Corruption:
    """Base class: subclasses set the class attributes and implement :meth:`_apply`."""

    name: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ()
    #: parameter -> values at levels 0 (identity), 1, ..., N
    table: ClassVar[Mapping[str, Sequence[float]]] = {}
    #: one-line description with the source equation
    description: ClassVar[str] = ""
    #: accepts ``[B, C, D, H, W]`` volumes as well as ``[B, C, H, W]`` images
    volumetric: ClassVar[bool] = False
    #: moves image content (masks must follow); see :meth:`apply_with_mask`
    spatial: ClassVar[bool] = False
    #: required channel count (e.g. 3 for colour operators); ``None`` = any
    channels: ClassVar[int | None] = None
    #: structure name of the content this corruption draws into the image ("" = it draws none);
    #: :meth:`apply_with_added` returns the pixels it drew into
    adds: ClassVar[str] = ""
    #: only used where named: left out of :func:`xraylab.degrade.registry.defaults` (the default pools)
    opt_in: ClassVar[bool] = False

    # ------------------------------------------------------------------ table
    @property
    def n_levels(self) -> int:
        """Number of evaluation levels N (the table has N + 1 entries)."""
        return len(next(iter(self.table.values()))) - 1

    @property
    def levels(self) -> list[int]:
        """The discrete evaluation severity levels ``[1, ..., N]``."""
        return list(range(1, self.n_levels + 1))

    def params(self, severity: float) -> dict[str, float]:
        """Parameters at ``severity`` in [0, N], linearly interpolated between table levels."""
        s = float(severity)
        if not np.isfinite(s) or s < 0 or s > self.n_levels + 1e-9:
            raise ConfigError(f"severity {severity!r} for corruption '{self.name}' is outside [0, {self.n_levels}]")
        grid = np.arange(self.n_levels + 1, dtype=np.float64)
        return {k: float(np.interp(s, grid, np.asarray(v, dtype=np.float64))) for k, v in self.table.items()}

    # ------------------------------------------------------------------ apply
    def check(self, image: torch.Tensor) -> None:
        """Raise ``ConfigError`` when ``image`` does not fit the contract's shapes and dtypes."""
        if not torch.is_tensor(image) or not image.is_floating_point():
            raise ConfigError(f"corruption '{self.name}': image must be a float tensor in [0, 1]")
        ok_dims = (4, 5) if self.volumetric else (4,)
        if image.dim() not in ok_dims:
            want = "[B, C, H, W] or [B, C, D, H, W]" if self.volumetric else "[B, C, H, W]"
            raise ConfigError(f"corruption '{self.name}': expected {want}, got shape {tuple(image.shape)}")
        if self.channels is not None and image.shape[1] != self.channels:
            raise ConfigError(
                f"corruption '{self.name}': needs {self.channels} channels (RGB), got {image.shape[1]}"
            )

    def apply(
        self, image: torch.Tensor, severity: float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Corrupt ``image`` (float in [0, 1], same shape out, in [0, 1]); severity 0 is the identity.

        ``generator=None`` draws from a fresh OS-seeded generator (not reproducible); pass one for determinism.
        """
        self.check(image)
        p = self.params(severity)
        if float(severity) == 0.0:
            return image.clone()
        g = generator if generator is not None else fresh_generator()
        out = self._apply(image, p, g).to(image.dtype)
        if out.data_ptr() == image.data_ptr():  # an operator that passed the input through
            return out.clamp(0.0, 1.0)
        return out.clamp_(0.0, 1.0)  # fresh tensor: clip in place, saving one pass over memory

    def apply_with_mask(
        self,
        image: torch.Tensor,
        mask: torch.Tensor | None,
        severity: float,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Corrupt ``image`` and carry ``mask`` along (unchanged unless the corruption is spatial)."""
        out = self.apply(image, severity, generator)
        if mask is None or not self.spatial or float(severity) == 0.0:
            return out, mask
        return out, self.transform_mask(mask, self.params(severity))

    def apply_with_added(
        self, image: torch.Tensor, severity: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`apply` plus the pixels the call drew new content into: bool ``[B, 1, *spatial]``.

        The image is the one :meth:`apply` gives for the same generator state. Corruptions that only alter
        what is there (``adds == ""``) draw nothing: the mask is all ``False``.
        """
        out = self.apply(image, severity, generator)
        return out, torch.zeros((image.shape[0], 1, *image.shape[2:]), dtype=torch.bool, device=image.device)

    def transform_mask(self, mask: torch.Tensor, p: dict[str, float]) -> torch.Tensor:
        """Move ``mask`` like the image (spatial corruptions override this)."""
        return mask

    def _apply(self, x: torch.Tensor, p: dict[str, float], g: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Corruption {self.name} {self.modalities} levels={self.levels}>"


def size_scale(x: torch.Tensor) -> float:
    """Ratio of the image's smaller in-plane side to 256 px.

    Pixel-valued parameters of the 2D tables are given for a 256 x 256 image and
    multiplied by this ratio, so a corruption level looks the same at any resolution.
    """
    return min(x.shape[-2], x.shape[-1]) / 256.0
