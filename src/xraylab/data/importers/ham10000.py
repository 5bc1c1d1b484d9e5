"""Layout ``ham10000``: HAM10000 dermoscopy images (Tschandl et al., Sci. Data 2018) with lesion masks and diagnoses.

As the Harvard Dataverse release (doi:10.7910/DVN/DBW86T) unpacks::

    HAM10000_images_part_1/ISIC_0024306.jpg                        10015 RGB JPEGs, 600 × 450, in two parts
    HAM10000_images_part_2/ISIC_0029306.jpg
    HAM10000_metadata.csv                                          lesion_id,image_id,dx,dx_type,age,sex,localization
    HAM10000_segmentations_lesion_tschandl/ISIC_0024306_segmentation.png   lesion masks {0, 255} (Tschandl et al.
                                                                   2020 release, same dataverse)

Images are found at any depth (so the Kaggle re-packaging and an ``images/`` + ``masks/lesion/<name>.png`` folder,
like the five-image sample in ``../shared/data/dermoscopy/ham10000_lesions``, import too); a mask is
``<stem>_segmentation.png`` anywhere under ROOT or ``masks/lesion/<name>``. The metadata gives ``label`` = ``dx``
(akiec, bcc, bkl, df, mel, nv, vasc) and the subject = ``lesion_id``: several images of one lesion always land in
one split. Without metadata every image is its own subject. No official split (the ISIC 2018 test set is separate).
"""

from __future__ import annotations

import csv
from pathlib import Path

from xraylab.data.importers.base import Layout, LayoutOption, MaskRef, SourceItem, list_files, mask_ref
from xraylab.data.importers.colour import read_colour
from xraylab.errors import InputFileError

LESION = "lesion"
METADATA_NAMES = ("HAM10000_metadata.csv", "HAM10000_metadata", "metadata.csv")
DX_NAMES = {
    "akiec": "actinic keratosis / intraepithelial carcinoma", "bcc": "basal cell carcinoma",
    "bkl": "benign keratosis-like lesion", "df": "dermatofibroma", "mel": "melanoma", "nv": "melanocytic nevus",
    "vasc": "vascular lesion",
}
_META_COLUMNS = ("dx", "dx_type", "age", "sex", "localization")


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """``HAM10000_metadata.csv`` → image id → ``lesion_id``, ``dx``, ``dx_type``, ``age``, ``sex``, ``localization``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = {f.strip().lower() for f in reader.fieldnames or []}
            if not {"image_id", "lesion_id", "dx"} <= fields:
                raise InputFileError(f"{path}: needs columns image_id, lesion_id, dx (the HAM10000 metadata); has "
                                     f"{', '.join(sorted(fields)) or 'none'}")
            out: dict[str, dict[str, str]] = {}
            for rec in reader:
                r = {k.strip().lower(): (v or "").strip() for k, v in rec.items() if k}
                if r.get("image_id"):
                    out[r["image_id"]] = r
            return out
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the HAM10000 metadata ({exc})") from exc


def _find_metadata(root: Path, given: str) -> Path | None:
    if given:
        p = Path(given)
        if not p.is_file():
            raise InputFileError(f"{p}: HAM10000 metadata file not found (--metadata-csv)")
        return p
    for name in METADATA_NAMES:
        hits = sorted(root.rglob(name))
        if hits:
            return hits[0]
    return None


class HAM10000Layout(Layout):
    name = "ham10000"
    summary = "HAM10000 dermoscopy: HAM10000_images_part_*/ISIC_*.jpg, *_segmentation.png masks, HAM10000_metadata.csv"
    description = (
        "ROOT holds HAM10000_images_part_1/ and _part_2/ (ISIC_#######.jpg; any depth), HAM10000_metadata.csv "
        "(lesion_id → subject, dx → label) and the lesion masks HAM10000_segmentations_lesion_tschandl/"
        "ISIC_#######_segmentation.png (or masks/lesion/<name>.png). Images stay RGB (8-bit PNG); structure: lesion; "
        "images of one lesion share a subject, so subject-level splits never separate them."
    )
    manifest = "ham10000.yaml"
    metadata_csv: str
    options = (
        LayoutOption("metadata_csv", "--metadata-csv", str, "",
                     "HAM10000_metadata.csv (default: searched for under ROOT)."),
    )
    structure_definitions = {LESION: "HAM10000 lesion segmentation (Tschandl et al. 2020: semi-automatic, reviewed "
                                     "by a dermatologist)"}
    default_licence = "CC BY-NC-SA 4.0 (HAM10000, Tschandl et al. 2018)"

    def find_items(self, root: Path) -> list[SourceItem]:
        images = [p for p in list_files(root, (".jpg", ".jpeg", ".png"), recursive=True)
                  if p.stem.upper().startswith("ISIC_") and not p.stem.lower().endswith("_segmentation")
                  and "masks" not in p.relative_to(root).parts]
        if not images:
            raise InputFileError(f"{root}: no ISIC_#######.jpg images found (expected HAM10000_images_part_1/ and "
                                 "_part_2/ at any depth)")
        masks_by_stem = {p.stem[: -len("_segmentation")]: p
                         for p in list_files(root, (".png",), recursive=True)
                         if p.stem.lower().endswith("_segmentation")}
        lesion_dir = root / "masks" / LESION
        md_path = _find_metadata(root, self.metadata_csv)
        md = read_metadata(md_path) if md_path is not None else {}
        items: list[SourceItem] = []
        for img in images:
            found = masks_by_stem.get(img.stem)
            if found is None and (lesion_dir / f"{img.stem}.png").is_file():
                found = lesion_dir / f"{img.stem}.png"
            masks: dict[str, MaskRef] = {
                LESION: mask_ref(found, f"{img.stem}_segmentation.png under {root}")}
            rec = md.get(img.stem, {})
            meta: dict[str, object] = {"view": "dermoscopy"}
            if rec.get("dx"):
                meta["label"] = rec["dx"]
                meta["diagnosis"] = DX_NAMES.get(rec["dx"], rec["dx"])
            meta.update({k: rec[k] for k in _META_COLUMNS[1:] if rec.get(k)})
            if rec.get("lesion_id"):
                meta["lesion_id"] = rec["lesion_id"]
            items.append(SourceItem(item_id=img.stem, image=img, masks=masks,
                                    subject_id=rec.get("lesion_id") or None, meta=meta, reader=read_colour))
        return items
