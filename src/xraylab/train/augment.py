"""Training-time augmentation: a thin bridge to :func:`xraylab.degrade.pipelines.make_augmentation`.

The degradation pipelines are imported lazily (only when a strategy other than ``none`` is asked
for), so ``import xraylab.train`` stays cheap. The returned callable maps
``(image [B, C, H, W], mask [B, K, H, W] | None, generator)`` to ``(image, mask)``; masks change only
under geometric strategies.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from xraylab.errors import ConfigError

Augment = Callable[[torch.Tensor, "torch.Tensor | None", torch.Generator], tuple[torch.Tensor, "torch.Tensor | None"]]


def _identity(image: torch.Tensor, mask: torch.Tensor | None, generator: torch.Generator):
    return image, mask


def build_augmentation(strategy: str, p_clean: float | None = None, options: dict[str, Any] | None = None) -> Augment:
    """The augmentation for ``strategy`` (``none`` needs nothing); raise ConfigError for bad options.

    ``p_clean``: probability that a sample stays clean (None = the strategy's own default).
    """
    if strategy == "none":
        return _identity
    from xraylab.degrade.pipelines import make_augmentation

    try:
        kwargs = dict(options or {})
        if p_clean is not None:
            kwargs["p_clean"] = p_clean
        aug = make_augmentation(strategy, **kwargs)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"augmentation: cannot build strategy {strategy!r} with options {options} ({exc})") from None

    def apply(image: torch.Tensor, mask: torch.Tensor | None, generator: torch.Generator):
        out_image, out_mask, _records = aug(image, mask, generator)
        out_image = out_image.clamp(0.0, 1.0)
        if out_mask is not None:
            out_mask = (out_mask.float() > 0.5).float()
        return out_image, out_mask

    return apply
