"""Loading a real trainer checkpoint through the evaluator."""

import pytest
import torch

from xraylab.evaluate.models import ModelPool

from .helpers import make_rotation_dataset


@pytest.mark.slow
def test_trainer_checkpoint_round_trip(tmp_path):
    from xraylab.evaluate.data import load_rows
    from xraylab.evaluate.engine import classification_rows
    from xraylab.train import checkpoint, models

    net = models.build_model("small_cnn", "classification", 1, 2)
    checkpoint.save_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt", {
        "model_state": net.state_dict(), "model": {"name": "small_cnn", "kwargs": {}}, "task": "classification",
        "classes": ["a", "b"], "image_size": 32, "in_channels": 1, "epoch": 1, "best_metric": 0.5,
    })
    m = ModelPool({"cnn": str(tmp_path / "run")}).get("cnn")
    assert (m.task, m.classes, m.image_size, m.in_channels) == ("classification", ["a", "b"], 32, 1)
    assert not m.module.training
    df = make_rotation_dataset(tmp_path / "data", subjects=1, angles=(0, 4))
    df["label"] = ["a", "b"]
    from xraylab.data.manifest import write_manifest

    write_manifest(tmp_path / "data", df)
    rows = classification_rows(m, load_rows(tmp_path / "data", "test"), tmp_path / "data", "classification")
    assert len(rows) == 2 and set(rows["target"]) == {"a", "b"}
    with torch.no_grad():
        assert m.module(torch.zeros(1, 1, 32, 32)).shape == (1, 2)
