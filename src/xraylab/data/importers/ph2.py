"""Layout ``ph2``: the PH² dermoscopy database (Hospital Pedro Hispano, Matosinhos) with lesion masks and diagnoses.

As ``PH2Dataset.rar`` unpacks (Mendonça et al., IEEE EMBC 2013; https://www.fc.up.pt/addi/ph2%20database.html)::

    PH2Dataset/PH2 Dataset images/IMD002/IMD002_Dermoscopic_Image/IMD002.bmp    200 RGB images, 768 × 560, 8-bit
    PH2Dataset/PH2 Dataset images/IMD002/IMD002_lesion/IMD002_lesion.bmp         binary lesion mask
    PH2Dataset/PH2 Dataset images/IMD002/IMD002_roi/IMD002_R1_Label4.bmp          colour-class regions (not imported)
    PH2Dataset/PH2_dataset.txt                                                  per-image clinical diagnosis table

``PH2_dataset.txt`` is a ``||``-separated table whose ``Clinical Diagnosis`` column is 0 (common nevus), 1 (atypical
nevus) or 2 (melanoma); a table with one column per diagnosis marked ``X`` (the layout of ``PH2_dataset.xlsx``,
exported as CSV/text) is read too. Each image is one lesion (its own subject); the set has no official split.
"""

from __future__ import annotations

import re
from pathlib import Path

from xraylab.data.importers.base import Layout, MaskRef, SourceItem, find_folder, list_files, mask_ref
from xraylab.data.importers.colour import read_colour
from xraylab.data.importers.readers import MASK_EXTS, RASTER_EXTS
from xraylab.errors import InputFileError

LESION = "lesion"
DIAGNOSES = {"0": "common_nevus", "1": "atypical_nevus", "2": "melanoma"}
DIAGNOSIS_COLUMNS = {"common nevus": "common_nevus", "atypical nevus": "atypical_nevus", "melanoma": "melanoma"}
_CASE = re.compile(r"^IMD\d+$", re.IGNORECASE)


def _cells(line: str) -> list[str]:
    sep = "||" if "||" in line else ("\t" if "\t" in line else ",")
    parts = [c.strip() for c in line.strip().split(sep)]
    if sep == "||":  # leading and trailing "||" give empty outer cells
        parts = parts[1:-1] if len(parts) >= 2 and not parts[0] and not parts[-1] else parts
    return parts


def read_diagnoses(path: Path) -> dict[str, str]:
    """``PH2_dataset.txt`` (or a CSV export of ``PH2_dataset.xlsx``) → case (``IMD002``) → diagnosis name.

    Finds the header row (a cell ``Name`` or ``Image Name``), then reads either the ``Clinical Diagnosis`` code
    (0/1/2) or the one of the ``Common Nevus`` / ``Atypical Nevus`` / ``Melanoma`` columns marked ``X``.
    """
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the PH2 diagnosis table ({exc})") from exc
    header: list[str] | None = None
    out: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        cells = _cells(line)
        low = [c.lower() for c in cells]
        if header is None:
            if any(c in ("name", "image name") for c in low):
                header = low
            continue
        rec = dict(zip(header, cells))
        case = next((c for c in cells if _CASE.match(c)), None)
        if case is None:
            continue
        code = rec.get("clinical diagnosis", "").strip()
        if code in DIAGNOSES:
            out[case.upper()] = DIAGNOSES[code]
            continue
        marked = [name for col, name in DIAGNOSIS_COLUMNS.items() if rec.get(col, "").strip().upper() == "X"]
        if len(marked) == 1:
            out[case.upper()] = marked[0]
    if header is None:
        raise InputFileError(f"{path}: no header row with a 'Name' column; expected the PH2_dataset.txt table")
    return out


def locate_images(root: Path) -> Path:
    """The ``PH2 Dataset images`` folder: ``root`` itself, or below it (depth ≤ 2)."""
    return find_folder(root, lambda d: any(d.glob("IMD*/IMD*_Dermoscopic_Image")),
                       "IMD###/IMD###_Dermoscopic_Image/ folders",
                       "expected PH2Dataset/'PH2 Dataset images'/IMD###/…")


def find_table(root: Path, images: Path) -> Path | None:
    """``PH2_dataset.txt`` (or ``.csv``) next to or above the images folder."""
    for folder in (images, images.parent, root, *sorted(p for p in root.glob("*") if p.is_dir())):
        for name in ("PH2_dataset.txt", "PH2_dataset.csv"):
            if (folder / name).is_file():
                return folder / name
    return None


class PH2Layout(Layout):
    name = "ph2"
    summary = "PH² dermoscopy: IMD###/IMD###_Dermoscopic_Image/*.bmp + IMD###_lesion masks, PH2_dataset.txt diagnoses"
    description = (
        "ROOT is PH2Dataset/ (or a folder above it, or 'PH2 Dataset images' itself): "
        "IMD###/IMD###_Dermoscopic_Image/IMD###.bmp, IMD###/IMD###_lesion/IMD###_lesion.bmp; optional "
        "PH2_dataset.txt (label = common_nevus / atypical_nevus / melanoma from its Clinical Diagnosis column). "
        "Images stay RGB (8-bit PNG); structure: lesion; every image is its own lesion; no official split."
    )
    manifest = "ph2.yaml"
    structure_definitions = {LESION: "PH² lesion mask, manually segmented by expert dermatologists"}
    default_licence = "PH² database terms: free for research and education, cite Mendonça et al. 2013"

    def find_items(self, root: Path) -> list[SourceItem]:
        images = locate_images(root)
        table = find_table(root, images)
        labels = read_diagnoses(table) if table is not None else {}
        items: list[SourceItem] = []
        for case_dir in sorted(p for p in images.iterdir() if p.is_dir() and _CASE.match(p.name)):
            case = case_dir.name
            pics = list_files(case_dir / f"{case}_Dermoscopic_Image", RASTER_EXTS)
            if not pics:
                continue
            lesion = list_files(case_dir / f"{case}_lesion", MASK_EXTS)
            masks: dict[str, MaskRef] = {
                LESION: mask_ref(lesion[0] if lesion else None, f"{case_dir}/{case}_lesion/{case}_lesion.bmp")}
            meta: dict[str, object] = {"view": "dermoscopy"}
            if case.upper() in labels:
                meta["label"] = labels[case.upper()]
            items.append(SourceItem(item_id=case, image=pics[0], masks=masks, subject_id=case,
                                    meta=meta, reader=read_colour))
        return items
