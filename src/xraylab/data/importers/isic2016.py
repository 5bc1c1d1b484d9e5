"""Layout ``isic2016``: the ISIC 2016 challenge (ISBI 2016) dermoscopy set, lesion masks and benign/malignant labels.

As the challenge archive (https://challenge.isic-archive.com/data/#2016) unpacks it::

    ISBI2016_ISIC_Part1_Training_Data/ISIC_0000000.jpg                   900 training images (RGB JPEG, sizes vary)
    ISBI2016_ISIC_Part1_Training_GroundTruth/ISIC_0000000_Segmentation.png   lesion masks {0, 255}
    ISBI2016_ISIC_Part1_Test_Data/ISIC_0000003.jpg                       379 test images
    ISBI2016_ISIC_Part1_Test_GroundTruth/ISIC_0000003_Segmentation.png
    ISBI2016_ISIC_Part3_Training_GroundTruth.csv                         ISIC_0000000,benign   (no header)
    ISBI2016_ISIC_Part3_Test_GroundTruth.csv                             ISIC_0000003,0.0      (1.0 = malignant)

The Part 3 (classification) image folders hold the same images as Part 1 and are used when the Part 1 ones are
absent. Ward & Imran (MIDL 2026, Appendix D) use this set for lesion segmentation and benign/malignant
classification. Each image is one lesion (its own subject); ``--split source`` keeps the challenge's split
(Training → train, Test → test).
"""

from __future__ import annotations

import csv
from pathlib import Path

from xraylab.data.importers.base import Layout, MaskRef, SourceItem, find_folder, find_mask, list_files, mask_ref
from xraylab.data.importers.colour import read_colour
from xraylab.data.importers.readers import MASK_EXTS, RASTER_EXTS
from xraylab.errors import InputFileError

PARTS = {"train": "Training", "test": "Test"}
LESION = "lesion"


def read_label_csv(path: Path) -> dict[str, str]:
    """ISIC 2016 Part 3 ground truth → image id → ``benign`` / ``malignant``.

    Accepts the training file's words (``benign``/``malignant``) and the test file's numbers (0/1, as ``0.0``);
    a header row, if any, is skipped. A missing file gives an empty table.
    """
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for rec in csv.reader(fh):
                if len(rec) < 2 or not rec[0].strip().upper().startswith("ISIC_"):
                    continue
                value = rec[1].strip().lower()
                try:
                    out[rec[0].strip()] = "malignant" if float(value) >= 0.5 else "benign"
                except ValueError:
                    if value not in ("benign", "malignant"):
                        raise InputFileError(f"{path}: label {rec[1]!r} of {rec[0]} is neither benign/malignant "
                                             "nor 0/1") from None
                    out[rec[0].strip()] = value
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc})") from exc
    return out


def _first_dir(base: Path, names: list[str]) -> Path | None:
    for n in names:
        if (base / n).is_dir():
            return base / n
    return None


def locate_root(root: Path) -> Path:
    """``root`` or the sub-folder (depth ≤ 2) holding the ``ISBI2016_ISIC_Part*_Data`` folders."""
    return find_folder(root, lambda d: any(d.glob("ISBI2016_ISIC_Part*_Data")),
                       "ISBI2016_ISIC_Part1_Training_Data/ (or Part3 / Test) folder",
                       "unpack the ISIC 2016 zips into one folder")


class ISIC2016Layout(Layout):
    name = "isic2016"
    summary = "ISIC 2016 (ISBI) dermoscopy: Part1 images + _Segmentation.png lesion masks, Part3 benign/malignant CSV"
    description = (
        "ROOT holds the unpacked ISIC 2016 challenge folders: "
        "ISBI2016_ISIC_Part1_{Training,Test}_Data/ISIC_#######.jpg, "
        "ISBI2016_ISIC_Part1_{Training,Test}_GroundTruth/ISIC_#######_Segmentation.png and optionally "
        "ISBI2016_ISIC_Part3_{Training,Test}_GroundTruth.csv (label = benign / malignant). Images stay RGB (8-bit "
        "PNG); structure: lesion. Every image is its own lesion; --split source keeps Training → train, Test → test."
    )
    manifest = "isic2016.yaml"
    structure_definitions = {LESION: "ISIC 2016 Part 1 lesion segmentation (expert-traced lesion boundary)"}
    default_licence = "ISIC Archive per-image licence (CC-0, CC-BY or CC-BY-NC); cite Gutman et al. 2016"
    source_split_note = "ISIC 2016 challenge: Training → train, Test → test"

    def find_items(self, root: Path) -> list[SourceItem]:
        base = locate_root(root)
        items: list[SourceItem] = []
        for split, part in PARTS.items():
            data = _first_dir(base, [f"ISBI2016_ISIC_Part1_{part}_Data", f"ISBI2016_ISIC_Part3_{part}_Data"])
            if data is None:
                continue
            truth = base / f"ISBI2016_ISIC_Part1_{part}_GroundTruth"
            labels = read_label_csv(base / f"ISBI2016_ISIC_Part3_{part}_GroundTruth.csv")
            for img in list_files(data, RASTER_EXTS):
                if img.stem.lower().endswith("_segmentation"):
                    continue
                found = find_mask(truth, img.name, MASK_EXTS, ("_Segmentation", "_segmentation"))
                masks: dict[str, MaskRef] = {
                    LESION: mask_ref(found, f"{truth}/{img.stem}_Segmentation.png")}
                meta: dict[str, object] = {"view": "dermoscopy"}
                if img.stem in labels:
                    meta["label"] = labels[img.stem]
                items.append(SourceItem(item_id=img.stem, image=img, masks=masks,
                                        subject_id=img.stem, source_split=split, meta=meta, reader=read_colour))
        if not items:
            raise InputFileError(f"{base}: the ISBI2016_ISIC_Part*_Data folders hold no images")
        return items
