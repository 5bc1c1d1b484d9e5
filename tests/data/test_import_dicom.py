"""DICOM CR/DX input: MONOCHROME1 inverted, VOI window applied, PixelSpacing / ImagerPixelSpacing kept."""

from __future__ import annotations

import os

import numpy as np
import pytest

from xraylab.data.importers import import_dataset, read_dicom
from xraylab.data.manifest import read_manifest
from xraylab.errors import InputFileError
from xraylab.io.images import read_image

from .import_helpers import phantom, save_mask


def write_dicom(path, pixels: np.ndarray, photometric: str = "MONOCHROME2", pixel_spacing=None,
                imager_spacing=None, window=None, modality: str = "DX"):
    """A minimal uncompressed 16-bit grey DICOM radiograph, written with pydicom."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = "P1"
    ds.ViewPosition = "PA"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    if imager_spacing is not None:
        ds.ImagerPixelSpacing = list(imager_spacing)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = np.ascontiguousarray(pixels.astype(np.uint16)).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _display(h=40, w=48, seed=0):
    img, masks = phantom(h, w, seed=seed)
    return np.round(img * 4095).astype(np.uint16), masks  # 12-bit, air dark


def test_monochrome1_is_inverted_and_matches_the_monochrome2_twin(tmp_path):
    disp, masks = _display()
    write_dicom(tmp_path / "m2" / "images" / "a.dcm", disp, "MONOCHROME2", pixel_spacing=(0.2, 0.2))
    write_dicom(tmp_path / "m1" / "images" / "a.dcm", 4095 - disp, "MONOCHROME1", pixel_spacing=(0.2, 0.2))
    for d in ("m1", "m2"):
        save_mask(tmp_path / d / "masks" / "left_lung" / "a.png", masks["left_lung"])
        save_mask(tmp_path / d / "masks" / "right_lung" / "a.png", masks["right_lung"])
        import_dataset("folder", tmp_path / d, tmp_path / f"out_{d}", size=32, progress=False, contact_sheet=0)
    a = read_manifest(tmp_path / "out_m1").iloc[0]
    b = read_manifest(tmp_path / "out_m2").iloc[0]
    img1, img2 = read_image(tmp_path / "out_m1" / a["image"]), read_image(tmp_path / "out_m2" / b["image"])
    assert np.abs(img1 - img2).max() <= 2 / 65535  # same display after inversion
    lungs = read_image(tmp_path / "out_m1" / a["mask:lungs"]) > 0
    assert img1[lungs].mean() < 0.4 and img1.max() > 0.9  # air/lung dark, bone bright
    assert a["photometric"] == "MONOCHROME1" and bool(a["inverted"]) and not bool(b["inverted"])
    # 40×48 source at 0.2 mm → scale min(32/40, 32/48) = 2/3 → 0.3 mm output pixels
    assert a["source_pixel_spacing_mm"] == pytest.approx(0.2) and a["pixel_spacing_mm"] == pytest.approx(0.3)
    assert a["view"] == "PA" and a["modality"] == "DX" and a["source_format"] == "dicom"


def test_spacing_falls_back_to_imager_spacing_and_zero_is_unknown(tmp_path):
    disp, _ = _display(20, 20)
    r = read_dicom(write_dicom(tmp_path / "a.dcm", disp, imager_spacing=(0.15, 0.15)))
    assert r.spacing_mm == pytest.approx(0.15)
    r = read_dicom(write_dicom(tmp_path / "b.dcm", disp, pixel_spacing=(0.0, 0.0), imager_spacing=(0.14, 0.14)))
    assert r.spacing_mm == pytest.approx(0.14)
    r = read_dicom(write_dicom(tmp_path / "c.dcm", disp, pixel_spacing=(0.0, 0.0)))
    assert np.isnan(r.spacing_mm)


def test_voi_window_is_applied(tmp_path):
    ramp = np.tile(np.linspace(0, 4095, 64).round().astype(np.uint16), (8, 1))
    r = read_dicom(write_dicom(tmp_path / "w.dcm", ramp, window=(2048, 1024)))
    out = (r.pixels - r.pixels.min()) / (r.pixels.max() - r.pixels.min())
    below, above = ramp < 1500, ramp > 2600
    assert np.all(out[below] == 0.0) and np.all(out[above] == 1.0)  # clipped outside the window
    assert 0.3 < out[(ramp > 1900) & (ramp < 2200)].mean() < 0.7


def test_dicom_without_extension_and_broken_dicom(tmp_path):
    disp, _ = _display(16, 16)
    src = tmp_path / "src"
    write_dicom(src / "images" / "IM0001", disp)
    write_dicom(src / "images" / "IM0002.dcm", disp)  # same PatientID (P1): one subject, from the header
    res = import_dataset("folder", src, tmp_path / "out", size=16, split="train=0.5,val=0.5", progress=False,
                         contact_sheet=0)
    assert res.n_items == 2 and res.structures == []
    df = read_manifest(tmp_path / "out")
    assert df["subject_id"].tolist() == ["P1", "P1"] and df["split"].nunique() == 1
    (src / "images" / "bad.dcm").write_bytes(b"\0" * 200)
    with pytest.raises(InputFileError, match=r"bad\.dcm: cannot read DICOM"):
        import_dataset("folder", src, tmp_path / "out2", size=16, progress=False)


@pytest.mark.shared_data
def test_real_monochrome1_cr_reads_with_air_dark_and_unknown_spacing(shared_data, tmp_path):
    dcm = shared_data / "radiographs" / "chest_pa_cr.dcm"
    if not dcm.is_file():
        pytest.skip(f"{dcm} not found")
    (tmp_path / "src" / "images").mkdir(parents=True)
    os.symlink(dcm, tmp_path / "src" / "images" / "chest_pa_cr.dcm")
    import_dataset("folder", tmp_path / "src", tmp_path / "out", size=128, progress=False, contact_sheet=0)
    row = read_manifest(tmp_path / "out").iloc[0]
    assert row["photometric"] == "MONOCHROME1" and bool(row["inverted"])
    assert np.isnan(row["pixel_spacing_mm"]) and np.isnan(row["source_pixel_spacing_mm"])  # PixelSpacing is 0
    assert (row["source_height"], row["source_width"]) == (1955, 1841)
    img = read_image(tmp_path / "out" / row["image"])
    h, w = img.shape
    patch = lambda y, x: img[int(y * h) - 3:int(y * h) + 3, int(x * w) - 3:int(x * w) + 3].mean()  # noqa: E731
    mediastinum, lungs = patch(0.45, 0.5), (patch(0.45, 0.3) + patch(0.45, 0.7)) / 2
    assert mediastinum > lungs + 0.2  # bone/soft tissue bright, aerated lung dark: the inversion is right
