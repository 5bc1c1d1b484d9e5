"""Training-time augmentation strategies on volume patches (RAMP §2.3-2.4, Tables 1-2).

``make_volume_augmentation(strategy, spacing_mm, **options)`` returns ``aug(image, labels, generator)``:
``image`` float ``[B, 1, I, J, K]`` in [0, 1], ``labels`` ``[B, 1, I, J, K]`` (moved only by the spatial stage,
nearest neighbour), returning ``(image, labels, records)`` with ``records[b]`` the operations applied to
sample ``b``. Lengths (elastic field, sharpening, blur widths) are converted with ``spacing_mm``
(:mod:`xraylab.degrade.ramp`, :mod:`xraylab.degrade.ct`).

=================  ======================================================================
``none``           identity (the nnU-Net-baseline row; our baseline has no nnU-Net default
                   augmentation either, see the report)
``single``         one random operator of the 13 (k = 1) with probability ``p_ramp`` (0.85),
                   severity uniform over its Table 2 range
``all_corruption`` RAMP's multi-corruption sampler alone over all 13 operators (k in {2, 3, 4},
                   p 0.85): the "corruption only" configuration of Table 11
``intensity``      RAMP's intensity stage only (Table 1)
``geometric``      flips and elastic deformation only
``artifact``       with p 0.85 one or two of ghosting, stripe, bias field, motion blur
``ramp``           the full RAMP: spatial + intensity + multi-corruption sampler
=================  ======================================================================

Every strategy takes the :class:`~xraylab.degrade.ramp.RampConfig` fields as options (``p_ramp``, ``k``,
``exclude`` for leave-one-corruption-out, stage probabilities).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import torch

from xraylab.degrade import ramp
from xraylab.errors import ConfigError

Records = list[list[dict[str, Any]]]
VolumeAugmentation = Callable[[torch.Tensor, "torch.Tensor | None", torch.Generator],
                              tuple[torch.Tensor, "torch.Tensor | None", Records]]
ARTIFACT_POOL = ("ct_ghosting", "ct_stripe", "ct_bias_field", "ct_motion_blur")
#: strategy -> RampConfig fields it fixes (the user's options go on top)
STRATEGIES: dict[str, dict[str, Any]] = {
    "none": {"spatial": False, "intensity": False, "p_ramp": 0.0},
    "single": {"spatial": False, "intensity": False, "k": (1,)},
    "all_corruption": {"spatial": False, "intensity": False},
    "intensity": {"spatial": False, "intensity": True, "p_ramp": 0.0},
    "geometric": {"spatial": True, "intensity": False, "p_ramp": 0.0},
    "artifact": {"spatial": False, "intensity": False, "pool": ARTIFACT_POOL, "k": (1, 2)},
    "ramp": {},
}


def ramp_config(strategy: str, spacing_mm: Sequence[float] | None, options: dict[str, Any]) -> ramp.RampConfig:
    """The :class:`~xraylab.degrade.ramp.RampConfig` of ``strategy`` with ``options`` on top."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown volume augmentation {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    known = {f.name for f in dataclasses.fields(ramp.RampConfig)} - {"spacing_mm"}
    bad = sorted(set(options) - known)
    if bad:
        raise ConfigError(f"augmentation options {bad} unknown; valid: {', '.join(sorted(known))}")
    kw: dict[str, Any] = {**STRATEGIES[strategy], **options}
    for key in ("k", "pool", "exclude"):
        v = kw.get(key)
        if isinstance(v, (str, int)):
            kw[key] = tuple(t.strip() for t in v.split(",")) if isinstance(v, str) else (v,)
        elif v is not None:
            kw[key] = tuple(v)
    kw["spacing_mm"] = tuple(float(s) for s in spacing_mm) if spacing_mm is not None else None
    cfg = ramp.RampConfig(**kw)
    from xraylab.degrade import registry

    for n in cfg.corruption_pool():
        registry.get(n)
    if cfg.p_ramp > 0 and not cfg.corruption_pool():
        raise ConfigError(f"strategy {strategy!r}: the corruption pool is empty after exclude={cfg.exclude}")
    return cfg


def make_volume_augmentation(strategy: str, spacing_mm: Sequence[float] | None = None,
                             **options: Any) -> VolumeAugmentation:
    """Build the augmentation callable (see the module doc)."""
    cfg = ramp_config(strategy, spacing_mm, options)
    pool = cfg.corruption_pool()

    def aug(image: torch.Tensor, labels: torch.Tensor | None, g: torch.Generator):
        outs, labs, records = [], [], []
        for b in range(image.shape[0]):
            x = image[b : b + 1]
            m = labels[b : b + 1] if labels is not None else None
            x, m, recs = ramp.ramp_sample(x, m, g, cfg, pool)
            outs.append(x)
            labs.append(m)
            records.append(recs)
        out_lab = torch.cat([t for t in labs if t is not None], 0) if labels is not None else None
        return torch.cat(outs, 0), out_lab, records

    return aug
