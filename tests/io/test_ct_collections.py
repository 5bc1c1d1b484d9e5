"""CT collection layouts msd, dicom and nifti (and the TotalSegmentator merge), each on a fixture in its exact layout:
the embedded default CT coarsened 8× (64 × 64 × 16 voxels), written as the layout expects."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from xraylab.errors import ConfigError, InputFileError
from xraylab.io.ct_collections import pick_cases, read_case, scan_layout
from xraylab.io.ct_layouts import LAYOUT_HELP, LAYOUTS
from xraylab.io.dicom_series import SeriesInfo, choose_ct_series

CT_UID = "1.2.826.0.1.3680043.2.1125.7.2"
SCOUT_UID = "1.2.826.0.1.3680043.2.1125.7.1"
TUMOUR = (slice(20, 24), slice(30, 33), slice(7, 9))  # 4 x 3 x 2 = 24 voxels labelled "cancer"


@pytest.fixture(scope="module")
def small_ct():
    from xraylab.io.ct import load_default_ct

    return load_default_ct(8)


@pytest.fixture(autouse=True)
def _no_totalsegmentator(monkeypatch):
    import xraylab.io.ct as ctmod

    monkeypatch.setattr(ctmod, "totalsegmentator_weights_present", lambda: False)


def _image(arr: np.ndarray, like: sitk.Image) -> sitk.Image:
    out = sitk.GetImageFromArray(np.ascontiguousarray(arr.transpose(2, 1, 0)))
    out.CopyInformation(like)
    return out


def _tumour_map(ct) -> np.ndarray:
    lab = np.zeros(ct.shape, np.uint8)
    lab[TUMOUR] = 1
    return lab


def _write_msd(ct, root) -> None:
    """A Decathlon Task06_Lung copy: two training pairs, one test image, a macOS ``._`` file."""
    for d in ("imagesTr", "labelsTr", "imagesTs"):
        (root / d).mkdir(parents=True)
    img = ct.to_sitk()
    for cid in ("lung_001", "lung_003"):
        sitk.WriteImage(img, str(root / "imagesTr" / f"{cid}.nii.gz"))
        sitk.WriteImage(_image(_tumour_map(ct), img), str(root / "labelsTr" / f"{cid}.nii.gz"))
    sitk.WriteImage(img, str(root / "imagesTs" / "lung_002.nii.gz"))
    (root / "imagesTr" / "._lung_001.nii.gz").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (root / "dataset.json").write_text(json.dumps({
        "name": "Lung", "modality": {"0": "CT"}, "labels": {"0": "background", "1": "cancer"},
        "training": [{"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"}
                     for c in ("lung_001", "lung_003")],
        "test": ["./imagesTs/lung_002.nii.gz"]}), encoding="utf-8")


def _write_series(folder, hu: np.ndarray, uid: str, orientation: str, image_type: str, spacing) -> None:
    """``hu`` ([I, J, K], int16 HU) as one DICOM series, one file per k, in ``folder`` (which may hold others)."""
    folder.mkdir(parents=True, exist_ok=True)
    vol = sitk.GetImageFromArray(np.ascontiguousarray(hu.transpose(2, 1, 0)).astype(np.int16))
    vol.SetSpacing(spacing)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(hu.shape[2]):
        sl = vol[:, :, k]
        for key, val in {
            "0020|000e": uid, "0020|000d": "1.2.826.0.1.3680043.2.1125.7", "0008|0060": "CT",
            "0008|0008": image_type, "0020|0013": str(k + 1),
            "0020|0032": "\\".join(map(str, vol.TransformIndexToPhysicalPoint((0, 0, k)))),
            "0020|0037": orientation, "0018|0050": str(spacing[2]), "0028|1052": "0", "0028|1053": "1",
        }.items():
            sl.SetMetaData(key, val)
        writer.SetFileName(str(folder / f"{uid[-1]}_{k:03d}.dcm"))
        writer.Execute(sl)


def _write_dicom(ct, root) -> np.ndarray:
    """LIDC-IDRI style: subject/study/series, the CT beside a 3-slice localizer in one folder; a second subject
    with only a localizer. Returns the CT's HU as written."""
    hu = np.clip(ct.hu.numpy(), -1024, 3000).astype(np.int16)
    series = root / "LIDC-IDRI-0001" / "01-01-2000-study" / "3000566-series"
    _write_series(series, hu, CT_UID, "1\\0\\0\\0\\1\\0", "ORIGINAL\\PRIMARY\\AXIAL", ct.spacing)
    _write_series(series, hu[:, :, :3], SCOUT_UID, "1\\0\\0\\0\\0\\-1", "ORIGINAL\\PRIMARY\\LOCALIZER",
                  ct.spacing)
    _write_series(root / "LIDC-IDRI-0002" / "study" / "scout", hu[:, :, :3], SCOUT_UID[:-1] + "9",
                  "1\\0\\0\\0\\0\\-1", "ORIGINAL\\PRIMARY\\LOCALIZER", ct.spacing)
    return hu


def _write_nifti(ct, root) -> None:
    """``a.nii.gz`` with labels/a.nii.gz + structures.csv, ``b.nii`` without labels, a ``._`` junk file."""
    (root / "labels").mkdir(parents=True)
    img = ct.to_sitk()
    sitk.WriteImage(img, str(root / "a.nii.gz"))
    sitk.WriteImage(img, str(root / "b.nii"))
    heart = ct.labels.numpy() == {n: i for i, n in ct.structures.items()}["heart"]
    sitk.WriteImage(_image(heart.astype(np.uint8) * 7, img), str(root / "labels" / "a.nii.gz"))
    (root / "labels" / "structures.csv").write_text("id,structure\n7,heart\n", encoding="utf-8")
    (root / "._a.nii.gz").write_bytes(b"junk")


def _lung_ml(vol) -> dict[str, float]:
    ids = {n: i for i, n in vol.structures.items()}
    vox = float(np.prod(vol.spacing)) / 1000.0
    return {n: float((vol.labels == ids[n]).sum()) * vox for n in ("lung_left", "lung_right")}


# --------------------------------------------------------------------------- msd
def test_msd_layout_reads_dataset_json_and_takes_lungs_from_hu(tmp_path, small_ct):
    _write_msd(small_ct, tmp_path / "Task06_Lung")
    cases = scan_layout("msd", tmp_path / "Task06_Lung")
    assert [c.id for c in cases] == ["lung_001", "lung_003", "lung_002"]  # the ._ file is no case
    assert [c.split for c in cases] == [None, None, "test"]
    assert cases[0].structures == {1: "cancer"} and cases[2].labels is None
    assert {c.lung_labels for c in cases} == {"auto"} and cases[0].licence.startswith("CC BY-SA 4.0")
    vol = read_case(cases[0], lungs=True)
    ids = {n: i for i, n in vol.structures.items()}
    assert set(ids) == {"cancer", "lung_left", "lung_right"}
    assert int((vol.labels == ids["cancer"]).sum()) == 24  # the tumour keeps every voxel
    assert all(ml > 500 for ml in _lung_ml(vol).values())
    assert vol.meta["label_source"] == "msd+lungs:threshold"
    assert vol.meta["label_sources"] == {"cancer": "msd", "lung_left": "lungs:threshold",
                                         "lung_right": "lungs:threshold"}
    assert read_case(cases[0]).structures == {1: "cancer"}  # no lung labeller unless asked for


def test_msd_bad_input_is_one_clear_line(tmp_path, small_ct):
    root = tmp_path / "Task06_Lung"
    (root / "imagesTr").mkdir(parents=True)
    with pytest.raises(InputFileError, match=r"Task06_Lung: no dataset.json; the 'msd' layout needs"):
        scan_layout("msd", root)
    _write_msd(small_ct, tmp_path / "t2")
    (tmp_path / "t2" / "labelsTr" / "lung_003.nii.gz").unlink()
    with pytest.raises(InputFileError, match=r"training\[1\].label: .*lung_003.nii.gz is missing; complete"):
        scan_layout("msd", tmp_path / "t2")
    meta = json.loads((tmp_path / "t2" / "dataset.json").read_text(encoding="utf-8"))
    (tmp_path / "t2" / "dataset.json").write_text(json.dumps({**meta, "modality": {"0": "MRI"}}), encoding="utf-8")
    with pytest.raises(InputFileError, match="modality 'MRI', not CT"):
        scan_layout("msd", tmp_path / "t2")


# --------------------------------------------------------------------------- dicom
def test_dicom_layout_picks_the_ct_beside_its_localizer(tmp_path, small_ct):
    hu = _write_dicom(small_ct, tmp_path / "LIDC")
    cases = scan_layout("dicom", tmp_path / "LIDC")
    assert [c.id for c in cases] == ["LIDC-IDRI-0001"]  # 0002 holds only a localizer
    case = cases[0]
    assert case.series == CT_UID and set(case.series_choices) == {CT_UID, SCOUT_UID}
    vol = read_case(case, lungs=True)
    assert vol.shape == small_ct.shape and np.array_equal(vol.hu.numpy(), np.clip(hu, -1024, None))
    assert vol.meta["label_source"] == "lungs:threshold" and set(vol.structures.values()) == {"lung_left",
                                                                                               "lung_right"}
    assert all(ml > 500 for ml in _lung_ml(vol).values())
    with pytest.raises(ConfigError, match="no label map.*ask for a lung class"):
        read_case(case)
    # the user may name a series by its UID instead
    picked = pick_cases(cases, [SCOUT_UID], tmp_path / "LIDC")
    assert [(c.id, c.series) for c in picked] == [("LIDC-IDRI-0001", SCOUT_UID)]
    with pytest.raises(ConfigError, match="case.s. LIDC-IDRI-0009 not in .*SeriesInstanceUID"):
        pick_cases(cases, ["LIDC-IDRI-0009"], tmp_path / "LIDC")
    with pytest.raises(ConfigError, match="named with two series"):
        pick_cases(cases, ["LIDC-IDRI-0001", SCOUT_UID], tmp_path / "LIDC")


def test_dicom_series_rule():
    def s(uid, n, modality="CT", image_type="ORIGINAL\\PRIMARY\\AXIAL", normal=(0.0, 0.0, 1.0)):
        return SeriesInfo(uid, "/x", n, modality, image_type, normal)

    tilted = (0.0, np.sin(np.radians(20)), np.cos(np.radians(20)))
    assert choose_ct_series([s("1.1", 120), s("1.2", 300), s("1.3", 2)]).uid == "1.2"  # most slices
    assert choose_ct_series([s("1.9", 300), s("1.2", 300)]).uid == "1.2"  # tie: smallest UID
    assert choose_ct_series([s("1.1", 90, normal=tilted), s("1.2", 400, normal=(0.0, 1.0, 0.0)),
                             s("1.3", 500, modality="PT"), s("1.4", 600, image_type="ORIGINAL\\LOCALIZER")]
                            ).uid == "1.1"  # tilted gantry is axial; coronal, PET, localizer are not
    assert choose_ct_series([s("1.1", 2), s("1.2", 80, modality="CR")]) is None


def test_dicom_without_a_ct_series_is_one_clear_line(tmp_path, small_ct):
    root = tmp_path / "LIDC"
    _write_dicom(small_ct, root)
    import shutil

    shutil.rmtree(root / "LIDC-IDRI-0001")
    with pytest.raises(InputFileError, match=r"LIDC: no CT series found in any subject folder \(LIDC-IDRI-0002: "
                                             r".*localizer, 3 slices\)\); give the folder that holds one folder per"):
        scan_layout("dicom", root)


# --------------------------------------------------------------------------- nifti
def test_nifti_folder_layout(tmp_path, small_ct):
    _write_nifti(small_ct, tmp_path / "nii")
    cases = scan_layout("nifti", tmp_path / "nii")
    assert [(c.id, c.label_source) for c in cases] == [("a", "label_map"), ("b", "none")]
    a = read_case(cases[0])
    assert a.structures == {7: "heart"} and int((a.labels == 7).sum()) > 0
    b = read_case(cases[1], lungs=True)
    assert set(b.structures.values()) == {"lung_left", "lung_right"} and b.meta["label_source"] == "lungs:threshold"


@pytest.mark.parametrize("layout", ["nifti", "msd", "dicom", "folder"])
def test_an_empty_root_is_one_clear_line(tmp_path, layout):
    (tmp_path / "empty").mkdir()
    want = {"nifti": "no case found for layout 'nifti'", "msd": "no dataset.json",
            "dicom": "no CT series found in any subject folder", "folder": "no case found for layout 'folder'"}
    with pytest.raises(InputFileError, match=want[layout]) as exc:
        scan_layout(layout, tmp_path / "empty")
    assert "\n" not in str(exc.value) and "empty" in str(exc.value)


# --------------------------------------------------------------------------- totalsegmentator
def test_totalsegmentator_class_files_merge_into_the_ids_of_its_class_table(tmp_path, small_ct):
    from xraylab.data.sources import CTRef, _own_label_table

    subj = tmp_path / "ts" / "s0001"
    (subj / "segmentations").mkdir(parents=True)
    img = small_ct.to_sitk()
    sitk.WriteImage(img, str(subj / "ct.nii.gz"))
    ids = {n: i for i, n in small_ct.structures.items()}
    names = ("liver", "heart", "lung_upper_lobe_left", "vertebrae_T5")
    masks = {n: small_ct.labels.numpy() == ids[n] for n in names}
    for n, m in masks.items():
        sitk.WriteImage(_image(m.astype(np.uint8), img), str(subj / "segmentations" / f"{n}.nii.gz"))
    (case,) = scan_layout("totalsegmentator", tmp_path / "ts")
    vol = read_case(case)
    assert sorted(vol.structures.values()) == sorted(names)
    for k, n in vol.structures.items():
        assert masks[n].any() and np.array_equal(vol.labels.numpy() == k, masks[n]), n
    # generate names structures through the same table without reading voxels
    ref = CTRef(subject_id=case.id, path=case.ct, label_files=case.label_files)
    assert _own_label_table(ref) == vol.structures


# --------------------------------------------------------------------------- generate specs and import volumes
def test_generate_specs_read_the_new_layouts_with_hu_lungs(tmp_path, small_ct):
    from xraylab.data.sources import CTRef, check_structures, label_source, load_ref, resolve_cts
    from xraylab.data.spec import parse_spec

    _write_msd(small_ct, tmp_path / "msd")
    _write_dicom(small_ct, tmp_path / "dicom")
    _write_nifti(small_ct, tmp_path / "nii")
    spec = parse_spec({"name": "x", "sweep": {"samples": 1}, "structures": ["lungs"], "cts": [
        {"dataset": str(tmp_path / "msd"), "layout": "msd", "cases": ["lung_003"]},
        {"dataset": str(tmp_path / "dicom"), "layout": "dicom"},
        {"dataset": str(tmp_path / "nii"), "layout": "nifti", "cases": ["b"]}]}, "s.yaml")
    refs = resolve_cts(spec, tmp_path, "s.yaml")
    assert [r.subject_id for r in refs] == ["lung_003", "LIDC-IDRI-0001", "b"]
    assert {r.lung_labels for r in refs} == {"auto"} and refs[1].series == CT_UID
    assert CTRef.from_dict(refs[1].to_dict()) == refs[1]
    assert check_structures(refs, ["lungs", "left_lung"], "error", "s.yaml") == {}
    assert [label_source(r, ["lungs"]) for r in refs] == ["label_map+lungs:threshold", "lungs:threshold",
                                                          "lungs:threshold"]
    ct = load_ref(refs[1], need_labels=True, structures=["lungs"])
    assert ct.shape == small_ct.shape and set(ct.structures.values()) == {"lung_left", "lung_right"}
    # the entry's own lung_labels wins over the layout's "auto"
    spec = parse_spec({"name": "x", "sweep": {"samples": 1}, "cts": [
        {"dataset": str(tmp_path / "nii"), "layout": "nifti", "lung_labels": "totalsegmentator"}]}, "s.yaml")
    assert {r.lung_labels for r in resolve_cts(spec, tmp_path, "s.yaml")} == {"totalsegmentator"}
    spec = parse_spec({"name": "x", "sweep": {"samples": 1}, "cts": [
        {"dataset": str(tmp_path / "dicom"), "layout": "dicom", "cases": ["LIDC-IDRI-0002"]}]}, "s.yaml")
    with pytest.raises(ConfigError, match=r"s.yaml: cts: case\(s\) LIDC-IDRI-0002 not in"):
        resolve_cts(spec, tmp_path, "s.yaml")


def test_import_volumes_cli_reads_msd_with_hu_lungs_and_lists_every_layout(tmp_path, small_ct, capsys):
    from xraylab.cli import main
    from xraylab.data.manifest import read_manifest

    _write_msd(small_ct, tmp_path / "msd")
    out = tmp_path / "vol"
    argv = ["xraylab", "import", "volumes", str(tmp_path / "msd"), "--layout", "msd", "--out", str(out),
            "--classes", "cancer,lungs", "--voxel-mm", "8", "--cases", "lung_001,lung_002"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", argv)
        main()
        df = read_manifest(out).set_index("image_id")
        assert list(df.index) == ["lung_001", "lung_002"] and list(df["split"]) == ["train", "test"]
        assert list(df["label_source"]) == ["msd+lungs:threshold", "lungs:threshold"]
        assert list(df["annotated:cancer"]) == [True, False] and bool(df["annotated:lungs"].all())
        assert (df["voxels:lungs"] > 2000).all()  # > 1 L at 8 mm voxels
        capsys.readouterr()
        mp.setattr("sys.argv", ["xraylab", "import", "volumes", "--help"])
        try:
            main()
        except SystemExit as stop:
            assert stop.code in (0, None)
        text = " ".join(capsys.readouterr().out.split())
        mp.setattr("sys.argv", argv[:5] + ["dicomdir", "--out", str(tmp_path / "v2")] + argv[8:])
        with pytest.raises(SystemExit) as exc:
            main()
        assert exc.value.code == 2
    assert all(name in text for name in LAYOUTS) and set(LAYOUT_HELP) == set(LAYOUTS)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--layout 'dicomdir'" in err[0] and "msd, dicom, nifti" in err[0]


def test_dicom_layout_on_the_shared_cts_finds_the_one_dicom_series(shared_data):
    from xraylab.io.ct import load_ct

    cases = scan_layout("dicom", shared_data / "ct")  # the NIfTI subjects hold no DICOM series and are skipped
    assert [c.id for c in cases] == ["dicom_series"]
    vol = load_ct(cases[0].ct, segment="never", series=cases[0].series)
    assert vol.shape[2] == 20 and float(vol.hu.max()) > 500  # 20 axial slices with bone


def test_ct_data_manifests_name_a_known_layout_and_licence():
    from pathlib import Path

    import yaml

    folder = Path(__file__).resolve().parents[2] / "data_manifests"
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if raw.get("modality") == "ct" and raw.get("layout"):
            assert raw["layout"] in LAYOUTS and raw.get("licence") and raw.get("source"), path.name
            found[raw["name"]] = (raw["layout"], raw["licence"])
    assert found["msd_task06_lung"] == ("msd", "CC BY-SA 4.0")
    assert found["lidc_idri"] == ("dicom", "CC BY 3.0")


@pytest.mark.slow
def test_generate_renders_a_dicom_collection_with_hu_lungs(tmp_path, small_ct):
    import yaml

    from xraylab.data.generate import generate
    from xraylab.data.manifest import read_manifest
    from xraylab.io.images import read_mask

    _write_dicom(small_ct, tmp_path / "LIDC")
    spec = {"name": "lidc", "seed": 3, "cts": [{"dataset": str(tmp_path / "LIDC"), "layout": "dicom"}],
            "structures": ["lungs"], "preset": "chest_pa", "geometry": {"rows": 32, "cols": 32},
            "sweep": {"samples": 1}, "render": {"renderer": "trilinear", "n_points": 64, "downsample": 1},
            "output": {"size": 32}, "split": {"train": 1.0, "val": 0.0, "test": 0.0}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    generate(tmp_path / "spec.yaml", tmp_path / "out", progress=False)
    m = read_manifest(tmp_path / "out")
    assert list(m["subject_id"]) == ["LIDC-IDRI-0001"] and list(m["label_source"]) == ["lungs:threshold"]
    assert read_mask(tmp_path / "out" / m["mask:lungs"][0]).mean() > 0.1
