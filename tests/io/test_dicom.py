"""DICOM DX out: every tag written by :mod:`xraylab.render.dicom` reads back with pydicom and SimpleITK, from a
direct write, from ``xraylab render --dicom`` and from ``generate`` with ``output.dicom: true``."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
import yaml

from xraylab.errors import ConfigError
from xraylab.render.dicom import (
    DX_FOR_PRESENTATION,
    DX_FOR_PROCESSING,
    DXAcquisition,
    acquisition_from,
    view_dx_blobs,
    write_dx,
)

ACQ = DXAcquisition(imager_spacing_mm=(0.4, 0.5), kvp=110.0, mas=2.5, sid_mm=1800.0, sod_mm=1500.0, view="AP")


def _pixels(rows: int = 20, cols: int = 30) -> np.ndarray:
    return (np.arange(rows * cols, dtype=np.uint32).reshape(rows, cols) * 97 % 65536).astype(np.uint16)


def _check_common(ds: pydicom.Dataset, acq: DXAcquisition, pixels: np.ndarray) -> None:
    assert ds.Modality == "DX"
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 16, 15, 0)
    assert (ds.Rows, ds.Columns) == pixels.shape
    np.testing.assert_array_equal(ds.pixel_array, pixels)
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx(acq.imager_spacing_mm)
    mag = acq.sid_mm / acq.sod_mm
    assert float(ds.EstimatedRadiographicMagnificationFactor) == pytest.approx(mag)
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx([s / mag for s in acq.imager_spacing_mm])
    assert ds.PixelSpacingCalibrationType == "GEOMETRY"
    assert float(ds.KVP) == pytest.approx(acq.kvp)
    assert ds.Exposure == round(acq.mas)
    assert ds.ExposureInuAs == round(acq.mas * 1000)
    assert float(ds.DistanceSourceToDetector) == pytest.approx(acq.sid_mm)
    assert float(ds.DistanceSourceToPatient) == pytest.approx(acq.sod_mm)
    assert ds.ViewPosition == acq.view
    assert list(ds.PatientOrientation) == ["L", "F"]
    assert "xraylab" in ds.DerivationDescription and "xraylab" in ds.ImageComments
    assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def _check_sitk(path, acq: DXAcquisition, pixels: np.ndarray) -> None:
    img = sitk.ReadImage(str(path))
    arr = sitk.GetArrayFromImage(img)
    np.testing.assert_array_equal(arr.reshape(pixels.shape), pixels)
    # SimpleITK (GDCM) takes a DX image's ImagerPixelSpacing, as (column, row) spacing
    assert img.GetSpacing()[:2] == pytest.approx((acq.imager_spacing_mm[1], acq.imager_spacing_mm[0]))
    tags = {k: img.GetMetaData(k).strip() for k in img.GetMetaDataKeys()}
    assert tags["0008|0060"] == "DX"
    assert float(tags["0018|0060"]) == pytest.approx(acq.kvp)
    assert int(tags["0018|1152"]) == round(acq.mas)
    assert int(tags["0018|1153"]) == round(acq.mas * 1000)
    assert float(tags["0018|1110"]) == pytest.approx(acq.sid_mm)
    assert float(tags["0018|1111"]) == pytest.approx(acq.sod_mm)
    assert tags["0018|5101"] == acq.view
    assert tags["0020|0020"] == "L\\F"
    assert [float(v) for v in tags["0018|1164"].split("\\")] == pytest.approx(acq.imager_spacing_mm)
    assert tags["0028|0004"] == "MONOCHROME2"
    assert "xraylab" in tags["0008|2111"]


@pytest.mark.parametrize("for_processing", [False, True])
def test_write_dx_tags_read_back_with_pydicom_and_simpleitk(tmp_path, for_processing):
    px = _pixels()
    path = write_dx(tmp_path / "a.dcm", px, ACQ, for_processing=for_processing, uid_seed="case-1")
    ds = pydicom.dcmread(path)
    _check_common(ds, ACQ, px)
    assert ds.SOPClassUID == (DX_FOR_PROCESSING if for_processing else DX_FOR_PRESENTATION)
    assert ds.PresentationIntentType == ("FOR PROCESSING" if for_processing else "FOR PRESENTATION")
    assert ("WindowCenter" in ds) is not for_processing  # VOI LUT only for presentation
    _check_sitk(path, ACQ, px)


def test_write_dx_is_reproducible_and_uids_follow_the_seed(tmp_path):
    px = _pixels()
    a = write_dx(tmp_path / "a.dcm", px, ACQ, uid_seed="s").read_bytes()
    b = write_dx(tmp_path / "b.dcm", px, ACQ, uid_seed="s").read_bytes()
    c = pydicom.dcmread(write_dx(tmp_path / "c.dcm", px, ACQ, uid_seed="other"))
    assert a == b
    assert c.SOPInstanceUID != pydicom.dcmread(tmp_path / "a.dcm").SOPInstanceUID


def test_write_dx_rejects_bad_pixels(tmp_path):
    with pytest.raises(ConfigError, match="uint16"):
        write_dx(tmp_path / "a.dcm", np.zeros((4, 4), np.float32), ACQ)
    with pytest.raises(ConfigError, match="2D"):
        write_dx(tmp_path / "a.dcm", np.zeros((2, 4, 4), np.uint16), ACQ)


def test_for_processing_image_gives_a_second_file(tmp_path):
    image = np.linspace(0, 1, 12 * 10).reshape(12, 10)
    line_integral = image * 4.0  # −ln(I/I0) in [0, 4]
    blobs = view_dx_blobs(image, line_integral, ACQ, derivation="x by xraylab", uid_seed="s")
    assert sorted(blobs) == ["", "_for_processing"]
    (tmp_path / "p.dcm").write_bytes(blobs["_for_processing"])
    ds = pydicom.dcmread(tmp_path / "p.dcm")
    assert ds.SOPClassUID == DX_FOR_PROCESSING and ds.PresentationIntentType == "FOR PROCESSING"
    assert ds.PixelIntensityRelationship == "LOG" and ds.PixelIntensityRelationshipSign == -1
    # stored as -ln(I/I0) / 8 x 65535, like image_for_processing.png
    np.testing.assert_allclose(ds.pixel_array / 65535.0 * 8.0, line_integral, atol=1e-4)
    assert "-ln(I/I0) / 8" in ds.DerivationDescription
    assert sorted(view_dx_blobs(image, None, ACQ, derivation="x", uid_seed="s")) == [""]


@pytest.mark.slow
def test_render_dicom_matches_png_and_geometry(tmp_path):
    from xraylab.io.ct import load_default_ct
    from xraylab.io.images import read_image, to_uint16
    from xraylab.physics.presets import resolve_preset
    from xraylab.render import render_ct

    geom, physics = resolve_preset("chest_pa", geometry={"rows": 24, "cols": 20, "rotation_deg": 4})
    render_ct(load_default_ct(4), geom, tmp_path / "r", preset="chest_pa", overrides=["spectrum.kvp=90"],
              progress=False, dicom=True)
    path = tmp_path / "r" / "image.dcm"
    png = to_uint16(read_image(tmp_path / "r" / "image.png"))
    fp = pydicom.dcmread(tmp_path / "r" / "image_for_processing.dcm")
    assert fp.SOPClassUID == DX_FOR_PROCESSING
    np.testing.assert_array_equal(fp.pixel_array, to_uint16(read_image(tmp_path / "r" / "image_for_processing.png")))
    acq = DXAcquisition(imager_spacing_mm=(geom.pitch_mm, geom.pitch_mm), kvp=90.0, mas=physics.spectrum.mas,
                        sid_mm=geom.sid_mm, sod_mm=geom.sod_mm, view=geom.view)
    ds = pydicom.dcmread(path)
    _check_common(ds, acq, png)
    assert "default" in ds.DerivationDescription.lower() or ds.PatientID in ds.DerivationDescription
    assert "rotation 4 deg" in ds.DerivationDescription
    _check_sitk(path, acq, png)
    assert acquisition_from(geom, physics, png.shape).imager_spacing_mm == pytest.approx(acq.imager_spacing_mm)
    dose = json.loads((tmp_path / "r" / "metadata.json").read_text())["dose"]  # the dose module's, in DICOM units
    assert float(ds.EntranceDoseInmGy) == pytest.approx(dose["entrance_surface_air_kerma_ugy"] / 1000, rel=1e-6)
    assert float(ds.ImageAndFluoroscopyAreaDoseProduct) == pytest.approx(dose["dose_area_product_gy_cm2"] * 10,
                                                                         rel=1e-6)


@pytest.mark.slow
def test_generate_output_dicom_writes_one_dx_per_item(tmp_path):
    from xraylab.data.generate import generate
    from xraylab.data.manifest import read_manifest
    from xraylab.io.images import read_image, sha256_file, to_uint16

    spec = {
        "name": "dcm", "seed": 3, "cts": ["default"], "structures": [], "preset": "chest_pa",
        "geometry": {"rows": 16, "cols": 16},
        "physics": {"spectrum": {"kvp": 100}},
        "sweep": {"grid": {"geometry.rotation_deg": [0, 6]}},
        "render": {"renderer": "trilinear", "n_points": 64, "downsample": 4},
        "output": {"size": 32, "normalize": "none", "contact_sheet": 0, "dicom": True},
        "split": {"train": 1.0, "val": 0.0, "test": 0.0},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert generate(tmp_path / "s.yaml", tmp_path / "g", workers=1, progress=False).complete
    df = read_manifest(tmp_path / "g")
    assert len(df) == 2
    for row in df.to_dict("records"):
        path = tmp_path / "g" / row["dicom"]
        assert sha256_file(path) == row["sha256:dicom"]
        ds = pydicom.dcmread(path)
        np.testing.assert_array_equal(ds.pixel_array, to_uint16(read_image(tmp_path / "g" / row["image"])))
        assert float(ds.KVP) == 100.0
        assert pydicom.dcmread(tmp_path / "g" / row["dicom_for_processing"]).PresentationIntentType == "FOR PROCESSING"
        # the 16 x 16 detector (43 cm) resized to 32 x 32: half the pitch per stored pixel
        assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(430.0 / 32, rel=1e-3)
    assert pydicom.dcmread(tmp_path / "g" / df["dicom"].iloc[0]).SOPInstanceUID != pydicom.dcmread(
        tmp_path / "g" / df["dicom"].iloc[1]).SOPInstanceUID
