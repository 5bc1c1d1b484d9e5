"""Classification suite: Ward & Imran Table 1 layout and MedMNIST-C tables from tiny classifiers."""

import pandas as pd
import pytest

from xraylab.evaluate import parse_spec, run_evaluation

from .helpers import MeanClassifier, cls_model, make_corruption_dataset


@pytest.fixture(scope="module")
def cls_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cls")
    make_corruption_dataset(root / "data", subjects=4)
    models = {
        # severity classifier over levels 0-2: darker images -> higher level (works for 'dark', not 'noise')
        "sev": cls_model("sev", MeanClassifier([8.0, 4.0, 0.0], [-1.0, 0.0, 0.8]), ["0", "1", "2"], task="severity"),
        "label-a": cls_model("label-a", MeanClassifier([0.0, 0.0], [1.0, 0.0]), ["a", "b"]),
        "label-b": cls_model("label-b", MeanClassifier([0.0, 0.0], [0.0, 1.0]), ["a", "b"]),
    }
    spec = parse_spec({
        "output": str(root / "run"), "models": [{"name": n, "path": "unused"} for n in models],
        "classification": {"dataset": str(root / "data"), "reference": "label-a"},
    })
    return run_evaluation(spec, models=models, log=lambda m: None)


def test_ward_table1_layout(cls_run):
    t = pd.read_csv(cls_run / "tables" / "classification_by_severity.csv", index_col=0)
    assert list(t.index) == ["No corruption", "Level 1", "Level 2", "Overall"]
    assert list(t.columns) == ["sev", "label-a", "label-b"]
    # constant classifiers: 'a' is right for subjects 0 and 2, i.e. half of the images
    assert t.loc["Overall", "label-a"] == pytest.approx(0.5)
    by_type = pd.read_csv(cls_run / "tables" / "classification_by_corruption.csv", index_col=0)
    assert set(by_type.index) == {"No corruption", "noise", "dark", "Overall"}
    res = pd.read_parquet(cls_run / "results.parquet")
    sev = res[res["model"] == "sev"]
    assert set(sev["target"]) == {"0", "1", "2"}
    assert t.loc["Level 1", "sev"] == pytest.approx(sev.loc[sev["severity"] == 1, "value"].mean())


def test_balanced_metrics(cls_run):
    s = pd.read_csv(cls_run / "tables" / "classification_summary.csv", index_col="model")
    assert s.loc["label-a", "balanced_accuracy"] == pytest.approx(0.5)
    m = pd.read_csv(cls_run / "tables" / "classification_medmnistc.csv", index_col="model")
    assert m.loc["label-a", "mBE"] == pytest.approx(1.0)
    assert m.loc["label-b", "mBE"] == pytest.approx(1.0)  # the same balanced error as the reference
    assert (cls_run / "tables" / "classification_confusion_sev.csv").is_file()
    assert (cls_run / "figures" / "classification_by_corruption.png").is_file()
