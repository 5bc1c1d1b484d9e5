"""Adversarial suite: epsilon = 0 reproduces the clean evaluation; a large epsilon hurts."""

import numpy as np
import pytest

from xraylab.evaluate.data import load_rows
from xraylab.evaluate.engine import classification_rows, segmentation_rows
from xraylab.evaluate.models import ModelPool
from xraylab.evaluate.spec import AdversarialSuite
from xraylab.evaluate.suites import adversarial
from xraylab.evaluate.suites.base import Context

from .helpers import MeanClassifier, cls_model, make_corruption_dataset, seg_model, train_threshold_net


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("adv")
    make_corruption_dataset(root, subjects=2, corruptions=("noise",), severities=(1,))
    seg = seg_model("seg", train_threshold_net(root))
    # label 'a' for dark images, 'b' for bright ones is not learnable here; any fixed classifier will do
    clf = cls_model("clf", MeanClassifier([-4.0, 4.0], [1.0, -1.0]), ["a", "b"])
    ctx = Context(pool=ModelPool({}, preloaded={"seg": seg, "clf": clf}), batch_size=3)
    return root, ctx


def test_epsilon_zero_equals_clean(setup):
    root, ctx = setup
    cfg = AdversarialSuite(dataset=str(root), epsilons=[0.0, 0.2], attacks=["fgsm", "pgd"], pgd_steps=3, distances=True)
    adv = adversarial.run(ctx, cfg)
    rows = load_rows(root, "test")
    clean_seg = segmentation_rows(ctx.pool.get("seg"), rows, root, "clean", distances=True)
    clean_cls = classification_rows(ctx.pool.get("clf"), rows, root, "clean")
    key = ["image", "class", "metric"]
    for attack in ("fgsm", "pgd"):
        for clean, model in ((clean_seg, "seg"), (clean_cls, "clf")):
            a0 = adv[(adv["model"] == model) & (adv["attack"] == attack) & (adv["epsilon"] == 0.0)]
            merged = a0.merge(clean, on=key, suffixes=("_adv", "_clean"))
            assert len(merged) == len(clean) > 0
            np.testing.assert_array_equal(merged["value_adv"].to_numpy(), merged["value_clean"].to_numpy())
    d = adv[(adv["model"] == "seg") & (adv["metric"] == "dice") & (adv["class"] == "mean")]
    means = d.groupby(["attack", "epsilon"])["value"].mean()
    assert means[("fgsm", 0.2)] < means[("fgsm", 0.0)] - 0.05
    assert means[("pgd", 0.2)] < means[("pgd", 0.0)] - 0.05


def test_report_tables_and_figure(setup, tmp_path):
    root, ctx = setup
    cfg = AdversarialSuite(dataset=str(root), epsilons=[0.0, 0.1], attacks=["fgsm"], models=["seg", "clf"])
    sec = adversarial.report(adversarial.run(ctx, cfg), cfg, tmp_path)
    names = {t.name: t.data for t in sec.tables}
    assert list(names["adversarial_segmentation"].columns) == ["0", "0.1"]
    assert names["adversarial_classification"].index.tolist() == [("clf", "fgsm")]
    assert all(p.is_file() for p, _ in sec.figures)
