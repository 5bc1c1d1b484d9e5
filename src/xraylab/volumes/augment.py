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

Each strategy is a RAMP strategy of :data:`xraylab.degrade.pipelines.AUGMENTATIONS` (the registry of the 2D
trainer) given the voxel spacing, so 2D and 3D share one per-sample loop and one sampler
(:func:`xraylab.degrade.ramp.ramp_sample`). Every strategy takes the :class:`~xraylab.degrade.ramp.RampConfig`
fields as options (``p_ramp``, ``k``, ``exclude`` for leave-one-corruption-out, stage probabilities).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import torch

from xraylab.degrade import ramp
from xraylab.degrade.pipelines import make_augmentation
from xraylab.errors import ConfigError

Records = list[list[dict[str, Any]]]
VolumeAugmentation = Callable[[torch.Tensor, "torch.Tensor | None", torch.Generator],
                              tuple[torch.Tensor, "torch.Tensor | None", Records]]
#: volume strategy -> (strategy of xraylab.degrade.pipelines.AUGMENTATIONS, RampConfig fields fixed under the
#: user's options)
STRATEGIES: dict[str, tuple[str, dict[str, Any]]] = {
    "none": ("ramp", {"spatial": False, "intensity": False, "p_ramp": 0.0}),
    "single": ("ramp_single", {}),
    "all_corruption": ("ramp_corruption", {}),
    "intensity": ("ramp_intensity", {}),
    "geometric": ("ramp_geometric", {}),
    "artifact": ("ramp_artifact", {}),
    "ramp": ("ramp", {}),
}


def make_volume_augmentation(strategy: str, spacing_mm: Sequence[float] | None = None,
                             **options: Any) -> VolumeAugmentation:
    """Build the augmentation callable (see the module doc); ``spacing_mm``: voxel size per axis in mm."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown volume augmentation {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    known = {f.name for f in dataclasses.fields(ramp.RampConfig)} - {"spacing_mm"}
    bad = sorted(set(options) - known)
    if bad:
        raise ConfigError(f"augmentation options {bad} unknown; valid: {', '.join(sorted(known))}")
    name, fixed = STRATEGIES[strategy]
    spacing = tuple(float(s) for s in spacing_mm) if spacing_mm is not None else None
    return make_augmentation(name, **{**fixed, **options, "spacing_mm": spacing})
