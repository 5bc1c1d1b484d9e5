"""``xraylab import isic2016 | ph2 | ham10000``: dermoscopy layouts as the public releases ship them (tiny synthetic
RGB fixtures in tmp; no real images), colour kept through the import, labels and subjects from each set's tables."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xraylab.data.importers import import_dataset
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.errors import InputFileError
from xraylab.io.images import read_image, read_mask

H, W = 30, 40


def lesion_photo(seed: int, h: int = H, w: int = W) -> tuple[np.ndarray, np.ndarray]:
    """A skin-coloured uint8 RGB photo with a dark-brown elliptical lesion, and its mask."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    mask = ((y - h * 0.5) / (h * 0.25)) ** 2 + ((x - w * (0.45 + 0.1 * rng.random())) / (w * 0.2)) ** 2 <= 1
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (224, 172, 150)
    img[mask] = (110, 60, 40)
    return img, mask


def save_rgb(path, img, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format=fmt)


def save_mask(path, mask, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path, format=fmt)


def _check_colour(out, df):
    for row in df.to_dict("records"):
        img = read_image(out / row["image"])
        assert img.shape == (32, 32, 3)
        m = read_mask(out / row["mask:lesion"])
        assert m.any()
        # the lesion stays brown (red > blue) and darker than the skin around it: colour survived the import
        lesion, skin = img[m].mean(axis=0), img[~m & (img.sum(axis=2) > 0)].mean(axis=0)
        assert lesion[0] > lesion[2] and lesion.sum() < skin.sum()
        assert row["photometric"] == "RGB" and row["normalize"] == "none"


# ------------------------------------------------------------------ ISIC 2016
def write_isic2016(base):
    for k, (part, stem) in enumerate([("Training", "ISIC_0000000"), ("Training", "ISIC_0000001"),
                                      ("Test", "ISIC_0000003")]):
        img, mask = lesion_photo(k)
        save_rgb(base / f"ISBI2016_ISIC_Part1_{part}_Data" / f"{stem}.jpg", img)
        save_mask(base / f"ISBI2016_ISIC_Part1_{part}_GroundTruth" / f"{stem}_Segmentation.png", mask)
    (base / "ISBI2016_ISIC_Part3_Training_GroundTruth.csv").write_text(
        "ISIC_0000000,benign\nISIC_0000001,malignant\n", encoding="utf-8")
    (base / "ISBI2016_ISIC_Part3_Test_GroundTruth.csv").write_text("ISIC_0000003,1.0\n", encoding="utf-8")
    return base


def test_isic2016_layout(tmp_path):
    write_isic2016(tmp_path / "isic" / "ISIC2016")
    res = import_dataset("isic2016", tmp_path / "isic", tmp_path / "out", size=32, split="source", progress=False)
    assert res.structures == ["lesion"]
    df = read_manifest(tmp_path / "out").set_index("image_id", drop=False)
    assert list(df.index) == ["ISIC_0000000", "ISIC_0000001", "ISIC_0000003"]
    assert list(df["label"]) == ["benign", "malignant", "malignant"]
    assert list(df["split"]) == ["train", "train", "test"]
    assert (df["subject_id"] == df["image_id"]).all()
    _check_colour(tmp_path / "out", df)
    info = read_dataset_json(tmp_path / "out")
    assert info["source"]["data_manifest"] == "data_manifests/isic2016.yaml"


def test_isic2016_missing_mask_and_bad_label_are_clear_errors(tmp_path):
    base = write_isic2016(tmp_path / "isic")
    (base / "ISBI2016_ISIC_Part1_Test_GroundTruth" / "ISIC_0000003_Segmentation.png").unlink()
    with pytest.raises(InputFileError, match=r"ISIC_0000003\.jpg: no 'lesion' mask .*_Segmentation\.png"):
        import_dataset("isic2016", base, tmp_path / "o1", size=32, progress=False)
    (base / "ISBI2016_ISIC_Part3_Test_GroundTruth.csv").write_text("ISIC_0000003,maybe\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="neither benign/malignant"):
        import_dataset("isic2016", base, tmp_path / "o2", size=32, progress=False, allow_missing_masks=True)
    with pytest.raises(InputFileError, match="no ISBI2016_ISIC_Part1_Training_Data"):
        import_dataset("isic2016", _empty(tmp_path), tmp_path / "o3", progress=False)


def _empty(tmp_path):
    (tmp_path / "empty").mkdir(exist_ok=True)
    return tmp_path / "empty"


# ------------------------------------------------------------------ PH2
PH2_TXT = """\
|| Name  || Histological Diagnosis || Clinical Diagnosis || Asymmetry || Pigment Network || Colors ||
|| IMD002 ||                       ||         1          ||    0      ||       T         ||  3 4   ||
|| IMD003 ||                       ||         0          ||    0      ||       T         ||  4     ||
|| IMD058 ||       Melanoma        ||         2          ||    2      ||       A         ||  1 3 4 ||
"""


def write_ph2(base):
    images = base / "PH2Dataset" / "PH2 Dataset images"
    for k, case in enumerate(["IMD002", "IMD003", "IMD058"]):
        img, mask = lesion_photo(k)
        save_rgb(images / case / f"{case}_Dermoscopic_Image" / f"{case}.bmp", img, fmt="BMP")
        save_mask(images / case / f"{case}_lesion" / f"{case}_lesion.bmp", mask, fmt="BMP")
        save_mask(images / case / f"{case}_roi" / f"{case}_R1_Label4.bmp", mask, fmt="BMP")  # ignored
    (base / "PH2Dataset" / "PH2_dataset.txt").write_text(PH2_TXT, encoding="utf-8")
    return base


def test_ph2_layout(tmp_path):
    write_ph2(tmp_path / "ph2")
    import_dataset("ph2", tmp_path / "ph2", tmp_path / "out", size=32, split={"train": 0.7, "test": 0.3},
                   progress=False)
    df = read_manifest(tmp_path / "out").set_index("image_id", drop=False)
    assert list(df.index) == ["IMD002", "IMD003", "IMD058"]
    assert list(df["label"]) == ["atypical_nevus", "common_nevus", "melanoma"]
    assert set(df["split"]) <= {"train", "test"}
    _check_colour(tmp_path / "out", df)
    assert sorted(read_dataset_json(tmp_path / "out")["structures"]) == ["lesion"]


def test_ph2_xlsx_style_table_and_missing_folder(tmp_path):
    from xraylab.data.importers.ph2 import read_diagnoses

    p = tmp_path / "PH2_dataset.csv"
    p.write_text("Image Name,Histological Diagnosis,Common Nevus,Atypical Nevus,Melanoma\n"
                 "IMD002,,,X,\nIMD010,,X,,\nIMD058,Melanoma,,,X\n", encoding="utf-8")
    assert read_diagnoses(p) == {"IMD002": "atypical_nevus", "IMD010": "common_nevus", "IMD058": "melanoma"}
    with pytest.raises(InputFileError, match="Dermoscopic_Image"):
        import_dataset("ph2", _empty(tmp_path), tmp_path / "o", progress=False)


# ------------------------------------------------------------------ HAM10000
def write_ham10000(base):
    rows = [("HAM_0000118", "ISIC_0027419", "bkl"), ("HAM_0000118", "ISIC_0025030", "bkl"),
            ("HAM_0002730", "ISIC_0026769", "mel"), ("HAM_0001466", "ISIC_0031633", "nv")]
    for k, (_, stem, _) in enumerate(rows):
        img, mask = lesion_photo(k)
        part = "HAM10000_images_part_1" if k < 2 else "HAM10000_images_part_2"
        save_rgb(base / part / f"{stem}.jpg", img)
        save_mask(base / "HAM10000_segmentations_lesion_tschandl" / f"{stem}_segmentation.png", mask)
    lines = ["lesion_id,image_id,dx,dx_type,age,sex,localization"]
    lines += [f"{lid},{iid},{dx},histo,60.0,male,back" for lid, iid, dx in rows]
    (base / "HAM10000_metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return base


def test_ham10000_layout_lesion_level_subjects(tmp_path):
    write_ham10000(tmp_path / "ham")
    import_dataset("ham10000", tmp_path / "ham", tmp_path / "out", size=32, split={"train": 0.5, "test": 0.5},
                   seed=3, progress=False)
    df = read_manifest(tmp_path / "out").set_index("image_id", drop=False)
    assert len(df) == 4
    assert df.loc["ISIC_0027419", "subject_id"] == df.loc["ISIC_0025030", "subject_id"] == "HAM_0000118"
    assert df.loc["ISIC_0027419", "split"] == df.loc["ISIC_0025030", "split"]  # one lesion, one split
    assert df.loc["ISIC_0026769", "label"] == "mel" and df.loc["ISIC_0026769", "diagnosis"] == "melanoma"
    assert df.loc["ISIC_0031633", "localization"] == "back"
    _check_colour(tmp_path / "out", df)


def test_ham10000_images_and_masks_folder_without_metadata(tmp_path):
    """The images/ + masks/lesion/ form (the shared five-image sample): each image its own subject."""
    for k, stem in enumerate(["ISIC_0024311", "ISIC_0027001"]):
        img, mask = lesion_photo(k)
        save_rgb(tmp_path / "s" / "images" / f"{stem}.jpg", img)
        save_mask(tmp_path / "s" / "masks" / "lesion" / f"{stem}.png", mask)
    import_dataset("ham10000", tmp_path / "s", tmp_path / "out", size=32, progress=False)
    df = read_manifest(tmp_path / "out")
    assert list(df["subject_id"]) == ["ISIC_0024311", "ISIC_0027001"]
    _check_colour(tmp_path / "out", df)
    with pytest.raises(InputFileError, match="metadata-csv"):
        import_dataset("ham10000", tmp_path / "s", tmp_path / "o2", progress=False,
                       layout_options={"metadata_csv": str(tmp_path / "nope.csv")})


@pytest.mark.shared_data
def test_ham10000_imports_the_shared_sample(shared_data, tmp_path):
    root = shared_data / "dermoscopy" / "ham10000_lesions"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    import_dataset("ham10000", root, tmp_path / "out", size=64, progress=False)
    df = read_manifest(tmp_path / "out")
    assert len(df) == 5 and (df["photometric"] == "RGB").all()
    img = read_image(tmp_path / "out" / df["image"].iloc[0])
    assert img.shape == (64, 64, 3) and float(np.ptp(img[..., 0] - img[..., 2])) > 0.05  # real colour, not grey
