"""CT input: every format round-trips, every bad input raises the typed error naming the file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from xraylab.errors import InputFileError, LabelMapError, SegmentationUnavailableError, StructureError
from xraylab.io.ct import load_ct, load_default_ct
from xraylab.io.structures import expand_structure_list, resolve_structure


def _ct_image(shape=(20, 16, 12), spacing=(1.5, 1.2, 2.0), origin=(-10.0, 5.0, 30.0), dtype=np.int16):
    rng = np.random.default_rng(0)
    arr = rng.integers(-1000, 1500, size=shape[::-1]).astype(dtype)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    return img, arr


def _labels_for(img: sitk.Image) -> sitk.Image:
    arr = np.zeros(sitk.GetArrayFromImage(img).shape, np.uint8)
    arr[2:6, 3:8, 4:9] = 1
    arr[6:9, 3:8, 4:9] = 2
    lab = sitk.GetImageFromArray(arr)
    lab.CopyInformation(img)
    return lab


@pytest.mark.parametrize("ext", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_round_trip_of_file_formats(tmp_path, ext):
    img, arr = _ct_image()
    sitk.WriteImage(img, str(tmp_path / f"ct{ext}"))
    sitk.WriteImage(_labels_for(img), str(tmp_path / f"seg{ext}"))
    ct = load_ct(tmp_path / f"ct{ext}", tmp_path / f"seg{ext}", {1: "clavicula_left", 2: "clavicula_right"})
    assert ct.shape == (20, 16, 12)
    assert np.array_equal(ct.hu.numpy(), np.clip(arr.transpose(2, 1, 0), -1024, None))
    assert ct.spacing == pytest.approx((1.5, 1.2, 2.0))
    # Voxel (i, j, k) maps through the affine to what SimpleITK says.
    p = (ct.affine @ torch.tensor([3.0, 4.0, 5.0, 1.0], dtype=torch.float64))[:3]
    assert np.allclose(p.numpy(), img.TransformIndexToPhysicalPoint((3, 4, 5)))
    assert resolve_structure("clavicles", ct.structures) == [1, 2]
    assert int((ct.labels == 2).sum()) == 3 * 5 * 5


def _write_series(folder, img, uid):
    folder.mkdir(exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(6):
        sl = img[:, :, k]
        for key, val in {
            "0020|000e": uid, "0020|000d": uid + ".9", "0008|0060": "CT", "0020|0013": str(k + 1),
            "0020|0032": "\\".join(map(str, img.TransformIndexToPhysicalPoint((0, 0, k)))),
            "0020|0037": "1\\0\\0\\0\\1\\0", "0018|0050": "2.0", "0028|1052": "0", "0028|1053": "1",
        }.items():
            sl.SetMetaData(key, val)
        writer.SetFileName(str(folder / f"slice{uid[-1]}_{k:03d}.dcm"))
        writer.Execute(sl)


def test_dicom_series_folder_round_trip(tmp_path):
    img, arr = _ct_image(shape=(16, 16, 6), spacing=(0.8, 0.8, 2.0), origin=(0.0, 0.0, 0.0))
    folder = tmp_path / "series"
    _write_series(folder, img, "1.2.826.0.1.3680043.2.1125.1")
    ct = load_ct(folder, segment="never")
    assert ct.shape == (16, 16, 6)
    assert np.array_equal(ct.hu.numpy(), np.clip(arr.transpose(2, 1, 0), -1024, None).astype(np.float32))
    assert ct.spacing[2] == pytest.approx(2.0)
    assert ct.name == "series"
    _write_series(folder, img, "1.2.826.0.1.3680043.2.1125.2")  # a second series in the same folder
    with pytest.raises(InputFileError, match="series: folder holds 2 DICOM series"):
        load_ct(folder, segment="never")


def test_flipped_label_map_is_reoriented_exactly(tmp_path):
    img, _ = _ct_image()
    lab = _labels_for(img)
    flipped = sitk.Flip(lab, [True, False, False])  # same voxel centres, x axis reversed (like LAS vs LPS)
    assert flipped.GetDirection() != lab.GetDirection()
    sitk.WriteImage(img, str(tmp_path / "ct.nii.gz"))
    sitk.WriteImage(flipped, str(tmp_path / "seg.nii.gz"))
    ct = load_ct(tmp_path / "ct.nii.gz", tmp_path / "seg.nii.gz", {1: "a", 2: "b"})
    assert np.array_equal(ct.labels.numpy(), sitk.GetArrayFromImage(lab).transpose(2, 1, 0))


@pytest.mark.parametrize("change", ["shape", "spacing", "origin"])
def test_label_map_on_another_grid_is_rejected(tmp_path, change):
    img, _ = _ct_image()
    lab = _labels_for(img)
    if change == "shape":
        lab = lab[:, :, :10]
    elif change == "spacing":
        lab.SetSpacing((1.5, 1.2, 2.5))
    else:
        lab.SetOrigin((-10.0, 5.7, 30.0))
    sitk.WriteImage(img, str(tmp_path / "ct.nii.gz"))
    sitk.WriteImage(lab, str(tmp_path / "seg.nii.gz"))
    with pytest.raises(LabelMapError, match="seg.nii.gz.*differs from the CT"):
        load_ct(tmp_path / "ct.nii.gz", tmp_path / "seg.nii.gz")


def test_bad_inputs_raise_typed_errors_naming_the_file(tmp_path):
    with pytest.raises(InputFileError, match="missing.nii.gz: CT not found"):
        load_ct(tmp_path / "missing.nii.gz")
    img, _ = _ct_image()
    sitk.WriteImage(img, str(tmp_path / "ct.nii.gz"))
    raw = (tmp_path / "ct.nii.gz").read_bytes()
    data = gzip.decompress(raw)
    (tmp_path / "trunc.nii.gz").write_bytes(gzip.compress(data[: len(data) // 2]))
    (tmp_path / "cut.nii.gz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "trunc.nii").write_bytes(data[: len(data) // 2])
    for name in ("trunc.nii.gz", "cut.nii.gz", "trunc.nii"):
        with pytest.raises(InputFileError, match=f"{name}: CT file is truncated"):
            load_ct(tmp_path / name)
    sitk.WriteImage(img, str(tmp_path / "ct.mha"))
    (tmp_path / "trunc.mha").write_bytes((tmp_path / "ct.mha").read_bytes()[:600])
    with pytest.raises(InputFileError, match="trunc.mha: cannot read CT"):
        load_ct(tmp_path / "trunc.mha")
    (tmp_path / "junk.nii").write_bytes(b"not an image at all")
    with pytest.raises(InputFileError, match="junk.nii"):
        load_ct(tmp_path / "junk.nii")
    arr = sitk.GetArrayFromImage(img).astype(np.float32)
    arr[1, 2, 3] = np.nan
    nan_img = sitk.GetImageFromArray(arr)
    sitk.WriteImage(nan_img, str(tmp_path / "nan.nii.gz"))
    with pytest.raises(InputFileError, match="nan.nii.gz: 1 voxel"):
        load_ct(tmp_path / "nan.nii.gz")
    unsigned = sitk.GetImageFromArray((arr[:2] * 0 + 1024).astype(np.uint16))
    sitk.WriteImage(unsigned, str(tmp_path / "unsigned.nii.gz"))
    with pytest.raises(InputFileError, match="unsigned.nii.gz: no voxel is below 0"):
        load_ct(tmp_path / "unsigned.nii.gz")


def test_no_labels_and_no_weights_gives_instructions_not_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "no-weights"))
    img, _ = _ct_image()
    sitk.WriteImage(img, str(tmp_path / "ct.nii.gz"))
    with pytest.raises(SegmentationUnavailableError, match="--labels"):
        load_ct(tmp_path / "ct.nii.gz")


def test_structure_groups_and_unknown_names():
    table = {1: "clavicula_left", 2: "clavicula_right", 3: "lung_upper_lobe_left", 4: "lung_lower_lobe_left",
             5: "lung_upper_lobe_right", 6: "lung_middle_lobe_right", 7: "lung_lower_lobe_right", 8: "heart"}
    assert resolve_structure("lungs", table) == [3, 4, 5, 6, 7]
    assert resolve_structure("left_lung", table) == [3, 4]
    assert expand_structure_list(["jsrt"]) == ["heart", "left_clavicle", "left_lung", "right_clavicle", "right_lung"]
    with pytest.raises(StructureError, match="unknown structure 'hart'"):
        resolve_structure("hart", table)
    with pytest.raises(StructureError, match="structure group 'ribs'"):
        resolve_structure("ribs", table)


def test_default_ct_loads_with_totalsegmentator_labels():
    ct = load_default_ct(downsample=4)
    assert ct.shape == (128, 128, 33)
    assert ct.hu.min() >= -1024 and ct.hu.max() > 1000
    for group in ("clavicles", "lungs", "heart", "ribs", "spine"):
        ids = resolve_structure(group, ct.structures)
        assert torch.isin(ct.labels, torch.tensor(ids, dtype=ct.labels.dtype)).any(), group


def test_partial_weights_count_as_absent_and_segmentation_sends_no_stats(tmp_path, monkeypatch):
    """Only a complete local model is used (TotalSegmentator would download missing parts), without telemetry."""
    import totalsegmentator.python_api as ts_api

    from xraylab.io.ct import local_totalsegmentator_model, segment_ct

    weights = tmp_path / "weights"
    (weights / "Dataset291_TotalSegmentator_part1_organs_1559subj").mkdir(parents=True)
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(weights))
    assert local_totalsegmentator_model() is None
    for i in (292, 293, 294, 295):
        (weights / f"Dataset{i}_TotalSegmentator_part").mkdir()
    assert local_totalsegmentator_model() == "full"

    img, _ = _ct_image()
    sitk.WriteImage(img, str(tmp_path / "ct.nii.gz"))
    ct = load_ct(tmp_path / "ct.nii.gz", segment="never")
    calls = {}

    def fake_totalsegmentator(src, out, **kw):
        calls.update(kw)
        calls["stats_disabled"] = (
            ts_api.send_usage_stats(None, {}) is None and ts_api.send_usage_stats.__name__ == "<lambda>"
        )
        seg = _labels_for(sitk.ReadImage(src))
        sitk.WriteImage(seg, out)

    monkeypatch.setattr(ts_api, "totalsegmentator", fake_totalsegmentator)
    labelled = segment_ct(ct)
    assert calls["fast"] is False and calls["ml"] is True and calls["stats_disabled"]
    assert labelled.structures[1] == "spleen" and int((labelled.labels == 2).sum()) == 3 * 5 * 5
