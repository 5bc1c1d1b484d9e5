"""Layout ``montgomery``: the Montgomery County chest X-ray set (NLM) with its manual left/right lung masks.

::

    MontgomerySet/CXR_png/MCUCXR_0001_0.png            138 PA radiographs (4020 × 4892 or 4892 × 4020, 0.0875 mm)
    MontgomerySet/ManualMask/leftMask/MCUCXR_0001_0.png
    MontgomerySet/ManualMask/rightMask/MCUCXR_0001_0.png
    MontgomerySet/ClinicalReadings/MCUCXR_0001_0.txt   sex, age, reading

The last digit of the name is the label (0 normal, 1 tuberculosis). Each image is one patient. ``leftMask`` /
``rightMask`` are taken as the patient's left / right lung; the side check in ``dataset.json`` tells whether the
masks agree with the display convention (patient's right on the image's left) — use ``--swap-sides`` if not.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from xraylab.data.importers.base import (
    Layout,
    LayoutOption,
    MaskRef,
    SourceItem,
    find_folder,
    find_mask,
    list_files,
    mask_ref,
)
from xraylab.data.importers.readers import DICOM_EXTS, MASK_EXTS, RASTER_EXTS, Radiograph, read_radiograph

MONTGOMERY_SPACING_MM = 0.0875
MONTGOMERY_SHORT_SIDE = 4020
_LABELS = {"0": "normal", "1": "tuberculosis"}


def read_montgomery_image(path: Path) -> Radiograph:
    """A Montgomery PNG; spacing 0.0875 mm at 4020 pixels on the short side (scaled for resized copies)."""
    rad = read_radiograph(path)
    if not math.isfinite(rad.spacing_mm):
        h, w = rad.hw
        if abs(max(h, w) / min(h, w) - 4892 / 4020) < 0.01:
            rad.spacing_mm = MONTGOMERY_SPACING_MM * MONTGOMERY_SHORT_SIDE / min(h, w)
    return rad


def parse_clinical_reading(path: Path) -> dict[str, str]:
    """``Patient's Sex: M`` / ``Patient's Age: 044Y`` / free-text reading → ``sex``, ``age``, ``reading`` (text)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    out: dict[str, str] = {}
    rest: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        m = re.match(r"(?i)patient'?s\s+sex\s*:\s*(\S+)", s)
        if m:
            out["sex"] = m.group(1).upper()[:1]
            continue
        m = re.match(r"(?i)patient'?s\s+age\s*:\s*0*(\d+)", s)
        if m:
            out["age"] = m.group(1)
            continue
        m = re.match(r"(?i)^(male|female)\b[,\s]*(\d+)?\s*(?:yrs?|y|years?)?", s)
        if m and "sex" not in out:
            out["sex"] = m.group(1)[0].upper()
            if m.group(2):
                out["age"] = m.group(2)
            continue
        rest.append(s)
    if rest:
        out["reading"] = " ".join(rest)[:500]
    return out


def nlm_meta(img: Path, readings: Path) -> tuple[dict[str, object], str]:
    """Manifest columns and subject id of an NLM TB-set image (Montgomery, Shenzhen): view PA, label from the
    name's last digit (``_0`` normal, ``_1`` tuberculosis), sex/age/reading from ``readings/<stem>.txt``."""
    stem = img.stem
    meta: dict[str, object] = {"view": "PA"}
    head, _, tail = stem.rpartition("_")
    if tail in _LABELS:
        meta["label"] = _LABELS[tail]
    meta.update(parse_clinical_reading(readings / f"{stem}.txt"))
    return meta, head if tail in _LABELS and head else stem


def locate(root: Path, folder: str, marker: str) -> Path:
    """``root`` itself or a sub-folder (depth ≤ 2) that holds ``marker`` (e.g. CXR_png)."""
    return find_folder(root, lambda d: (d / marker).is_dir(), f"{marker}/ folder", f"expected {folder}/{marker}/")


class MontgomeryLayout(Layout):
    name = "montgomery"
    summary = "Montgomery County CXR set: CXR_png/ + ManualMask/leftMask, rightMask (+ ClinicalReadings/)"
    description = (
        "ROOT is MontgomerySet/ (or a folder above it): CXR_png/MCUCXR_####_#.png, ManualMask/leftMask/<same "
        "name>, ManualMask/rightMask/<same name>, optional ClinicalReadings/<stem>.txt (sex, age, reading). Masks "
        "give left_lung, right_lung (patient's sides) and their union lungs; label = normal / tuberculosis from the "
        "name's last digit; each image is its own patient."
    )
    manifest = "montgomery.yaml"
    images_dir: str
    options = (
        LayoutOption("images_dir", "--images-dir", str, "CXR_png", "Folder of the radiographs inside MontgomerySet."),
    )
    structure_definitions = {
        "left_lung": "Montgomery manual lung mask (leftMask), traced by a radiologist along the visible lung field",
        "right_lung": "Montgomery manual lung mask (rightMask), traced by a radiologist along the visible lung field",
    }
    default_licence = "NLM Montgomery County set: public, citation requested (Jaeger et al. 2014)"

    def find_items(self, root: Path) -> list[SourceItem]:
        base = locate(root, "MontgomerySet", self.images_dir)
        mask_root = base / "ManualMask"
        readings = base / "ClinicalReadings"
        items: list[SourceItem] = []
        for img in list_files(base / self.images_dir, RASTER_EXTS + DICOM_EXTS):
            masks: dict[str, MaskRef] = {}
            for sub, s in (("leftMask", "left_lung"), ("rightMask", "right_lung")):
                found = find_mask(mask_root / sub, img.name, MASK_EXTS, ("", "_mask"))
                masks[s] = mask_ref(found, f"{mask_root / sub}/{img.stem}.png")
            meta, subject = nlm_meta(img, readings)
            items.append(SourceItem(item_id=img.stem, image=img, masks=masks, subject_id=subject, meta=meta,
                                    reader=read_montgomery_image))
        return items
