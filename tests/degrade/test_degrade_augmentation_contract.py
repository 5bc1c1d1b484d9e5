"""The augmentation-strategy contract, run for every entry of :data:`xraylab.degrade.pipelines.AUGMENTATIONS`.

A newly registered strategy is tested here without editing a list. Each strategy takes a grayscale
radiograph batch or an RGB dermoscopy batch (an input it cannot take is refused with a ConfigError, never a
crash) and returns an image of the input's shape, dtype and [0, 1] range, a mask of the mask's shape whose
labels are a subset of the input labels, and one record list per sample; a seed fixes the output.
"""

from __future__ import annotations

import pytest
import torch

from xraylab.degrade.pipelines import AUGMENTATIONS, make_augmentation
from xraylab.degrade.rng import make_generator
from xraylab.errors import ConfigError
from xraylab.train.augment import build_augmentation
from xraylab.train.spec import AugmentationSpec

SIDE = 32


def _batch(image: torch.Tensor) -> torch.Tensor:
    x = torch.nn.functional.interpolate(image, size=(SIDE, SIDE), mode="area").clamp(0, 1)
    return torch.cat([x, x.flip(-1), x.flip(-2)], 0)


@pytest.fixture(scope="module")
def inputs(xray_image, derm_image) -> dict[str, torch.Tensor]:
    """Grayscale and RGB 3-sample batches, 32 x 32."""
    return {"gray": _batch(xray_image), "rgb": _batch(derm_image)}


def _run(name: str, x: torch.Tensor, mask: torch.Tensor, seed: int = 0):
    return make_augmentation(name, p_clean=0.0)(x, mask, make_generator(seed))


@pytest.mark.parametrize("name", AUGMENTATIONS.names())
def test_every_strategy_keeps_shape_dtype_range_and_labels(name, inputs):
    accepted = []
    for kind, x in inputs.items():
        mask = torch.zeros(x.shape[0], 2, SIDE, SIDE, dtype=torch.uint8)
        mask[:, 0, 8:20, 4:16] = 1
        mask[:, 1, 12:28, 10:30] = 3
        try:
            y, m, records = _run(name, x, mask)
        except ConfigError:
            continue
        accepted.append(kind)
        assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device, kind
        assert torch.isfinite(y).all() and float(y.min()) >= 0.0 and float(y.max()) <= 1.0, kind
        assert m.shape == mask.shape and m.dtype == mask.dtype, kind
        assert set(m.unique().tolist()) <= {0, 1, 3}, kind
        assert len(records) == x.shape[0] and all(isinstance(r, list) for r in records), kind
        y2, m2, records2 = _run(name, x, mask)
        assert torch.equal(y, y2) and torch.equal(m, m2) and records == records2, f"{kind}: not reproducible"
        assert _run(name, x, None)[1] is None
    assert accepted, f"strategy {name!r} takes neither a grayscale nor an RGB batch"


@pytest.mark.parametrize("name", AUGMENTATIONS.names())
def test_every_strategy_passes_the_training_spec_and_the_trainer_bridge(name, inputs):
    assert AugmentationSpec(strategy=name).strategy == name
    aug = build_augmentation(name, p_clean=1.0)  # every sample stays clean
    for x in inputs.values():
        y, m = aug(x, None, make_generator(0))
        assert torch.equal(y, x) and m is None


def test_unknown_strategy_names_every_registered_one():
    with pytest.raises(ConfigError, match="unknown augmentation strategy 'nope'") as exc:
        make_augmentation("nope")
    assert all(n in str(exc.value) for n in AUGMENTATIONS.names())
    with pytest.raises(ValueError, match="unknown augmentation strategy 'nope'"):
        AugmentationSpec(strategy="nope")
