"""The shipped RAMP CT study specs validate as a whole: every strategy's 3D training spec and augmentation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xraylab.errors import ConfigError
from xraylab.volumes.augment import make_volume_augmentation
from xraylab.volumes.experiment import load_experiment
from xraylab.volumes.spec import parse_volume_spec

SIM = Path(__file__).resolve().parents[2] / "simulations"


@pytest.mark.parametrize("name", ["ramp_ct_cpu.yaml", "ramp_ct_gpu.yaml", "ramp_ct_chest_cpu.yaml"])
def test_shipped_ramp_studies_validate(name):
    spec, base = load_experiment(SIM / name)
    assert (base / spec.import_.manifest).is_file()
    for strategy, aug in {**spec.strategies, **{f"loco_{k}": v for k, v in spec.loco.items()}}.items():
        raw = {**spec.train, "name": strategy, "task": "segmentation_3d", "data": "unused", "augmentation": aug}
        parsed = parse_volume_spec(raw, f"{name}: {strategy}")
        make_volume_augmentation(parsed.augmentation.strategy, (6.0, 6.0, 6.0), **parsed.augmentation.options)


def test_chest_study_has_the_k_and_p_ablations_and_seeded_headline_rows():
    spec, _ = load_experiment(SIM / "ramp_ct_chest_cpu.yaml")
    options = {n: a.get("options", {}) for n, a in spec.strategies.items() if a["strategy"] == "ramp"}
    assert {tuple(o["k"]) for o in options.values() if "k" in o} == {(1,), (4,)}
    assert {o["p_ramp"] for o in options.values() if "p_ramp" in o} == {0.5, 1.0}
    assert {"none", "ramp"} <= set(spec.seeded) and len(spec.seeds) >= 2 and spec.train["seed"] not in spec.seeds
    assert set(spec.import_.classes) == {"lungs", "heart"}


def test_seeded_names_must_be_strategies(tmp_path):
    raw = yaml.safe_load((SIM / "ramp_ct_chest_cpu.yaml").read_text(encoding="utf-8"))
    raw["seeded"] = ["ramp", "nnunet"]
    raw["import"]["manifest"] = str(SIM.parent / "data_manifests" / "ramp_ct_chest.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"seeded \['nnunet'\] are not strategies"):
        load_experiment(bad)
