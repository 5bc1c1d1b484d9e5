"""Corruption suite on a tiny clean + corrupted dataset with two models and one LOCO model."""

import pandas as pd
import pytest

from xraylab.evaluate import parse_spec, run_evaluation

from .helpers import ThresholdNet, make_corruption_dataset, seg_model, train_threshold_net


@pytest.fixture(scope="module")
def corruption_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("corr")
    make_corruption_dataset(root / "data")
    trained = train_threshold_net(root / "data")
    models = {
        "trained": seg_model("trained", trained),
        "loose": seg_model("loose", ThresholdNet(w=10.0, b=-3.0)),
        "loco-dark": seg_model("loco-dark", ThresholdNet(w=10.0, b=-4.0)),
    }
    spec = parse_spec({
        "output": str(root / "run"),
        "models": [{"name": n, "path": "unused"} for n in models],
        "corruption": {
            "dataset": str(root / "data"), "high_severity_min": 2, "reference": "loose", "loco": {"dark": "loco-dark"},
        },
    })
    return run_evaluation(spec, models=models, log=lambda m: None)


def test_tables_consistent_with_rows(corruption_run):
    res = pd.read_parquet(corruption_run / "results.parquet")
    main = res[res["suite"] == "corruption"]
    assert set(main["model"]) == {"trained", "loose"}
    loco = res[res["suite"] == "loco"]
    assert set(loco["model"]) == {"loco-dark"} and set(loco["corruption"]) == {"dark"}
    t5 = pd.read_csv(corruption_run / "tables" / "corruption_table5.csv", index_col="model")
    d = main[(main["metric"] == "dice") & (main["class"] == "mean")]
    for m in ("trained", "loose"):
        dm = d[d["model"] == m]
        clean = dm.loc[dm["corruption"] == "none", "value"].mean()
        corr = dm.loc[dm["corruption"] != "none", "value"].mean()
        assert t5.loc[m, "clean_dice"] == pytest.approx(clean)
        assert t5.loc[m, "mean_corrupted_dice"] == pytest.approx(corr)
        assert t5.loc[m, "robustness_gap"] == pytest.approx(clean - corr)
        assert t5.loc[m, "worst_case_dice"] <= t5.loc[m, "mean_corrupted_dice"] + 1e-12
    wins = pd.read_csv(corruption_run / "tables" / "corruption_table9_high_severity_wins.csv", index_col=0)
    assert wins.loc["wins", "settings"] == 2  # noise-2 and dark-2
    assert wins.loc["wins", ["trained", "loose"]].sum() >= 2
    l12 = pd.read_csv(corruption_run / "tables" / "corruption_table12_loco.csv", index_col="family")
    dark = d[d["corruption"] == "dark"]
    ld = loco[(loco["metric"] == "dice") & (loco["class"] == "mean")]
    expected = ld.groupby("severity")["value"].mean().mean()
    assert l12.loc["dark", "loco_dice"] == pytest.approx(expected)
    trained = dark[dark["model"] == "trained"]
    assert l12.loc["dark", "trained"] == pytest.approx(trained.groupby("severity")["value"].mean().mean())


def test_report_files(corruption_run):
    for name in ("corruption_table5", "corruption_table6_gain", "corruption_per_type", "corruption_per_severity",
                 "corruption_table10_per_class"):
        assert (corruption_run / "tables" / f"{name}.csv").is_file()
    for fig in ("corruption_clean_vs_corrupted", "corruption_heatmap", "corruption_dice_vs_severity"):
        assert (corruption_run / "figures" / f"{fig}.png").stat().st_size > 5000
    md = (corruption_run / "summary.md").read_text(encoding="utf-8")
    assert "RAMP Table 5" in md
    assert "| model | clean_dice | mean_corrupted_dice | robustness_gap | worst_case_dice |" in md
    assert md.count("Best model per") >= 3
