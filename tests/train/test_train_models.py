"""Model factory details: encoder depth, weights loading, hub-weight refusal, losses.

The per-model build/shape contract runs for every registered model in test_train_model_contract.py.
"""

from __future__ import annotations

import pytest
import torch

from xraylab.errors import ConfigError, InputFileError
from xraylab.train.losses import build_loss, consistency_loss, soft_dice_loss
from xraylab.train.models import build_model, load_weights


@pytest.mark.parametrize("name", ["unet", "unetplusplus", "fpn", "deeplabv3plus"])
def test_segmentation_models_return_per_pixel_logits(name):
    model = build_model(name, "segmentation", 1, 3, depth=3)
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_unet_depth_follows_fok_ablation(depth):
    model = build_model("unet", "segmentation", 1, 1, depth=depth).eval()
    assert len(model.decoder.blocks) == depth
    assert model(torch.rand(1, 1, 32, 32)).shape == (1, 1, 32, 32)


@pytest.mark.parametrize("name, kwargs", [("resnet18", {}), ("small_cnn", {})])
def test_classifiers_return_class_logits(name, kwargs):
    assert build_model(name, "classification", 3, 4, **kwargs)(torch.rand(2, 3, 32, 32)).shape == (2, 4)


def test_model_task_mismatch_and_unknown_name_are_config_errors():
    with pytest.raises(ConfigError, match="not a classification model"):
        build_model("unet", "classification", 1, 2)
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("resnet999", "classification", 1, 2)


def test_local_weights_load_and_mismatched_heads_are_skipped(tmp_path):
    torch.manual_seed(0)
    a = build_model("small_cnn", "classification", 1, 3)
    torch.manual_seed(1)
    b = build_model("small_cnn", "classification", 1, 5)
    torch.save(a.state_dict(), tmp_path / "w.pt")
    report = load_weights(b, tmp_path / "w.pt")
    assert set(report["skipped"]) == {"head.weight", "head.bias"}
    assert torch.equal(b.features[0].weight, a.features[0].weight)
    with pytest.raises(InputFileError, match="never downloaded"):
        load_weights(b, tmp_path / "nope.pt")
    with pytest.raises(InputFileError, match="no parameter name"):
        load_weights(b, tmp_path / "w.pt", prefix="encoder.")


def test_weights_prefix_loads_a_bare_resnet_into_an_smp_encoder(tmp_path):
    import timm

    torch.manual_seed(0)
    resnet = timm.create_model("resnet18", pretrained=False, in_chans=1)
    torch.save(resnet.state_dict(), tmp_path / "resnet18.pt")
    unet = build_model("unet", "segmentation", 1, 2, depth=5)
    report = load_weights(unet, tmp_path / "resnet18.pt", prefix="encoder.")
    assert torch.equal(unet.encoder.conv1.weight, resnet.conv1.weight)
    assert torch.equal(unet.encoder.layer4[0].conv1.weight, resnet.layer4[0].conv1.weight)
    assert "encoder.fc.weight" in report["unexpected"]


def test_dice_loss_matches_fok_definition():
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:6, 2:6] = 1
    perfect = (target * 2 - 1) * 50
    assert soft_dice_loss(perfect, target, smooth=0).item() == pytest.approx(0, abs=1e-6)
    assert soft_dice_loss(-perfect, target, smooth=0).item() == pytest.approx(1, abs=1e-6)
    half = torch.zeros_like(target)  # p = 0.5 everywhere: 1 - 2*8/(32+16)
    assert soft_dice_loss(half, target, smooth=0).item() == pytest.approx(1 - 16 / 48, rel=1e-6)
    dice_bce = build_loss("dice_bce", "segmentation", smooth=0)(half, target)
    assert dice_bce.item() == pytest.approx(1 - 16 / 48 + torch.log(torch.tensor(2.0)).item(), rel=1e-6)


def test_focal_loss_down_weights_easy_examples_and_consistency_is_zero_for_equal_views():
    logits = torch.tensor([[4.0, -4.0], [0.2, 0.1]])
    y = torch.tensor([0, 0])
    ce, focal = build_loss("ce", "classification"), build_loss("focal", "classification")
    assert focal(logits, y) < ce(logits, y)
    assert consistency_loss(logits, logits, "classification").item() == pytest.approx(0, abs=1e-7)
    assert consistency_loss(logits, logits.flip(1), "classification") > 0


@pytest.mark.parametrize("name, key", [("unet", "encoder_weights"), ("resnet18", "pretrained")])
def test_hub_weight_requests_are_refused_not_downloaded(name, key):
    task = "segmentation" if name == "unet" else "classification"
    value = "imagenet" if key == "encoder_weights" else True
    with pytest.raises(ConfigError, match=f"model.kwargs.{key}.*model.weights"):
        build_model(name, task, 1, 2, **{key: value})
    build_model(name, task, 1, 2, **{key: None if key == "encoder_weights" else False})  # explicit "none" is fine
