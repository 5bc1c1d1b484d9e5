"""CT sources given by path: a phantom written to NIfTI with its label map, and a CT without labels."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from xraylab.data.generate import generate
from xraylab.data.manifest import read_manifest
from xraylab.errors import ConfigError
from xraylab.io.images import read_mask
from xraylab.phantoms import left_marker

from .helpers import tiny_spec, write_spec


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("phantom")
    ct = left_marker()
    img = ct.to_sitk()
    sitk.WriteImage(img, str(d / "marker_ct.nii.gz"))
    lab = sitk.GetImageFromArray(ct.labels.permute(2, 1, 0).contiguous().numpy().astype(np.int16))
    lab.CopyInformation(img)
    sitk.WriteImage(lab, str(d / "marker_labels.nii.gz"))
    return d


def _spec(**changes):
    return tiny_spec(structures=["marker", "head"], geometry={"rows": 32, "cols": 32, "pitch_mm": 5.0},
                     render={"n_points": 128}, sweep={"grid": {"geometry.rotation_deg": [0]}},
                     output={"size": 32, "contact_sheet": 1}, **changes)


def test_ct_from_path_with_labels(tmp_path, phantom_files):
    cts = [{"path": str(phantom_files / "marker_ct.nii.gz"), "labels": str(phantom_files / "marker_labels.nii.gz"),
            "structure_table": {1: "body", 2: "marker", 3: "head"}, "name": "phantom01"}]
    out = tmp_path / "out"
    assert generate(write_spec(tmp_path, _spec(cts=cts)), out, workers=1, progress=False).complete
    df = read_manifest(out)
    assert list(df["subject_id"]) == ["phantom01"] and df["ct_source"][0].endswith("marker_ct.nii.gz")
    marker, head = read_mask(out / df["mask:marker"][0]), read_mask(out / df["mask:head"][0])
    cols, rows = np.arange(32), np.arange(32)
    assert marker.sum() > 0 and head.sum() > 0
    # The marker sits on the patient's left (+x): image right. The head bead is superior: image top.
    assert (marker.sum(0) * cols).sum() / marker.sum() > 16
    assert (head.sum(1) * rows).sum() / head.sum() < 16


def test_ct_without_labels_cannot_give_masks(tmp_path, phantom_files, monkeypatch):
    import xraylab.io.ct as ctmod

    monkeypatch.setattr(ctmod, "totalsegmentator_weights_present", lambda: False)
    cts = [{"path": str(phantom_files / "marker_ct.nii.gz")}]
    with pytest.raises(ConfigError, match="no label map") as exc:
        generate(write_spec(tmp_path, _spec(cts=cts)), tmp_path / "o", workers=1, progress=False)
    assert "marker_ct" in str(exc.value) and not (tmp_path / "o").exists()
