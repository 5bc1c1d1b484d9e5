"""Spec validation: a bad spec gives one ConfigError naming the file and field, before any data is read."""

from __future__ import annotations

import pytest
import yaml
from train_shapes import base_spec

from xraylab.errors import ConfigError
from xraylab.train.spec import load_spec, parse_spec, spec_to_yaml


def test_valid_spec_fills_defaults(tmp_path):
    spec = parse_spec(base_spec(tmp_path))
    assert spec.optimizer.lr == 0.003 and spec.early_stopping.patience is None
    assert spec.augmentation.strategy == "none" and spec.adversarial.attack == "none"
    assert yaml.safe_load(spec_to_yaml(spec))["model"]["kwargs"] == {"depth": 3}


@pytest.mark.parametrize(
    "override, needle",
    [
        ({"model": {"name": "unet_9000"}}, "unknown model 'unet_9000'"),
        ({"task": "detection"}, "task"),
        ({"optimiser": {"lr": 1}}, "optimiser"),
        ({"loss": {"name": "ce"}}, "does not fit task segmentation"),
        ({"model": {"name": "resnet18"}}, "not a segmentation model"),
        ({"image_size": 36}, "divisible"),
        ({"model": {"name": "unet", "kwargs": {"depth": 6}}}, "depth"),
        ({"augmentation": {"strategy": "sparkles"}}, "augmentation.strategy"),
        ({"data": [{"name": "a", "ratio": 1.0}, {"name": "b"}]}, "ratio"),
        ({"data": [{"name": "a", "val": False}]}, "validation"),
    ],
)
def test_bad_spec_is_one_clear_error(tmp_path, override, needle):
    with pytest.raises(ConfigError) as info:
        parse_spec(base_spec(tmp_path, **override), source="bad.yaml")
    msg = str(info.value)
    assert msg.startswith("bad.yaml: invalid training spec") and needle in msg
    assert "\n" not in msg


def test_load_spec_applies_data_paths_and_overrides(tmp_path):
    raw = base_spec(tmp_path)
    raw["data"] = [{"name": "real", "path": None}, {"name": "syn_all", "path": None, "val": False}]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    spec = load_spec(path, {"real": "/r", "syn_all": "/s"}, epochs=7, device=None)
    assert [d.path for d in spec.data] == ["/r", "/s"] and spec.epochs == 7
    with pytest.raises(ConfigError, match="no dataset named 'syn_cen'"):
        load_spec(path, {"syn_cen": "/x"})
    with pytest.raises(ConfigError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
