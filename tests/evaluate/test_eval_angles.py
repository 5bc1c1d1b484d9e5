"""Angle-group assignment at the Fok et al. boundaries, through the evaluator's row loader."""

import pandas as pd
import pytest

from xraylab.data.angles import angle_group
from xraylab.data.manifest import write_manifest
from xraylab.evaluate.data import load_rows

CASES = [(-2, "Center"), (2, "Center"), (-4, "Low-"), (4, "Low+"), (-10, "Low-"), (10, "Low+"),
         (-12, "Moderate-"), (12, "Moderate+"), (-20, "Moderate-"), (20, "Moderate+"), (0, "Center")]


@pytest.mark.parametrize("angle,group", CASES)
def test_boundaries(angle, group):
    assert angle_group(angle) == group


def test_load_rows_assigns_groups(tmp_path):
    df = pd.DataFrame({"image_id": [f"i{k}" for k in range(len(CASES))], "subject_id": "s", "split": "test",
                       "image": "x.png", "angle_deg": [a for a, _ in CASES]})
    write_manifest(tmp_path, df)
    rows = load_rows(tmp_path, "test")
    got = dict(zip(rows["angle"], rows["angle_group"]))
    assert got == {float(a): g for a, g in CASES}
    assert set(rows["corruption"]) == {"none"} and set(rows["severity"]) == {0.0}
