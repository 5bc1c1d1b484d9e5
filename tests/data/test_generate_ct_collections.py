"""Generate specs over a local CT collection: ``cts: [{dataset: DIR, layout: folder | totalsegmentator}]``."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import yaml

from xraylab.errors import ConfigError

STRUCTURES = ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right", "lung_middle_lobe_right",
              "lung_lower_lobe_right", "heart")


def _write_subject(ct, folder, layout: str) -> None:
    """``ct`` (with labels) as one subject of ``layout`` in ``folder``."""
    folder.mkdir(parents=True)
    img = ct.to_sitk()
    sitk.WriteImage(img, str(folder / "ct.nii.gz"))
    ids = {n: i for i, n in ct.structures.items()}
    lab = ct.labels.numpy()

    def as_image(arr: np.ndarray) -> sitk.Image:
        out = sitk.GetImageFromArray(np.ascontiguousarray(arr.transpose(2, 1, 0)))
        out.CopyInformation(img)
        return out

    if layout == "totalsegmentator":
        (folder / "segmentations").mkdir()
        for name in STRUCTURES:
            sitk.WriteImage(as_image((lab == ids[name]).astype(np.uint8)), str(folder / "segmentations" /
                                                                              f"{name}.nii.gz"))
    else:
        keep = np.zeros_like(lab, dtype=np.int16)
        for k, name in enumerate(STRUCTURES, start=1):
            keep[lab == ids[name]] = k
        sitk.WriteImage(as_image(keep), str(folder / "labels.nii.gz"))
        (folder / "structures.csv").write_text("id,structure\n" + "".join(
            f"{k},{n}\n" for k, n in enumerate(STRUCTURES, start=1)))


@pytest.fixture(scope="module")
def small_ct():
    from xraylab.io.ct import load_default_ct

    return load_default_ct(8)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["totalsegmentator", "folder"])
def test_every_subject_of_a_collection_is_rendered_with_its_labels(tmp_path, small_ct, layout):
    import pandas as pd

    from xraylab.data.generate import generate
    from xraylab.io.images import read_mask

    root = tmp_path / "collection"
    for sid in ("s01", "s02", "s03"):
        _write_subject(small_ct, root / sid, layout)
    spec = {"name": "coll", "seed": 3, "cts": [{"dataset": str(root), "layout": layout, "max_subjects": 2}],
            "structures": ["lungs", "heart"], "preset": "chest_pa", "geometry": {"rows": 32, "cols": 32},
            "sweep": {"samples": 1}, "render": {"renderer": "trilinear", "n_points": 64, "downsample": 1},
            "output": {"size": 32}, "split": {"train": 1.0, "val": 0.0, "test": 0.0}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    generate(tmp_path / "spec.yaml", tmp_path / "out", progress=False)
    m = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert sorted(m["subject_id"]) == ["s01", "s02"]  # the first two, sorted
    for _, row in m.iterrows():
        assert read_mask(tmp_path / "out" / row["mask:lungs"]).mean() > 0.1
        assert read_mask(tmp_path / "out" / row["mask:heart"]).any()


def test_collection_entries_are_checked(tmp_path):
    from xraylab.data.generate import plan_dataset
    from xraylab.data.spec import parse_spec

    base = {"name": "x", "sweep": {"samples": 1}}
    with pytest.raises(ConfigError, match="'layout' and 'max_subjects' go with 'dataset'"):
        parse_spec({**base, "cts": [{"default": True, "layout": "totalsegmentator"}]}, "s.yaml")
    (tmp_path / "empty").mkdir()
    spec = parse_spec({**base, "cts": [{"dataset": str(tmp_path / "empty"), "layout": "totalsegmentator"}]}, "s.yaml")
    with pytest.raises(ConfigError, match="no case found for layout 'totalsegmentator'"):
        plan_dataset(spec, tmp_path, "s.yaml")
