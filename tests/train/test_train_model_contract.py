"""The model contract, run for every entry of :data:`xraylab.train.models.MODELS`.

A newly registered model is tested here without editing a list: it builds with random weights (no
download), maps a tiny ``[B, C, S, S]`` batch to logits of its task's shape, and refuses the other task.
"""

from __future__ import annotations

import pytest
import torch

from xraylab.errors import ConfigError
from xraylab.train.models import CLASSIFICATION, MODELS, SEGMENTATION, build_model, check_model_task, model_names
from xraylab.train.spec import parse_spec

SIZES = (32, 64)  # the smallest input side each model accepts is used


def _smallest_size(name: str) -> int:
    for size in SIZES:
        try:
            check_model_task(name, MODELS.get(name).task, size, {})
            return size
        except ValueError:
            continue
    raise AssertionError(f"model {name!r} accepts none of the test sizes {SIZES}")


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_builds_and_gives_its_tasks_output_shape(name):
    entry = MODELS.get(name)
    assert entry.task in (SEGMENTATION, CLASSIFICATION)
    size = _smallest_size(name)
    kwargs = {"image_size": size} if entry.sized else {}
    torch.manual_seed(0)
    model = build_model(name, entry.task, 1, 3, **kwargs).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, size, size))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert out.shape == ((2, 3, size, size) if entry.task == SEGMENTATION else (2, 3))


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_refuses_the_other_task_naming_the_right_models(name):
    entry = MODELS.get(name)
    other = "classification" if entry.task == SEGMENTATION else "segmentation"
    with pytest.raises(ConfigError, match=f"not a {other} model") as exc:
        build_model(name, other, 1, 2)
    assert model_names(other)[0] in str(exc.value)
    assert name not in model_names(other)


def test_task_lists_partition_the_registry_and_severity_type_are_classification():
    seg, cls = model_names("segmentation"), model_names("classification")
    assert seg and cls and not set(seg) & set(cls)
    assert sorted(seg + cls) == sorted(MODELS.names())
    assert model_names("severity") == model_names("type") == cls


def test_spec_validates_model_names_against_the_registry(tmp_path):
    raw = {
        "task": "classification", "data": [{"name": "real", "path": str(tmp_path)}],
        "model": {"name": "no_such_net"}, "loss": {"name": "ce"},
    }
    with pytest.raises(ConfigError, match="unknown model 'no_such_net'") as exc:
        parse_spec(raw, "spec.yaml")
    assert all(n in str(exc.value) for n in MODELS.names())
    raw["model"] = {"name": model_names("classification")[0]}
    assert parse_spec(raw, "spec.yaml").model.name == raw["model"]["name"]
