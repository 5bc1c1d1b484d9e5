"""Layout ``shenzhen``: the Shenzhen Hospital chest X-ray set (NLM) with the lung masks of Stirenko et al.

::

    ChinaSet_AllFiles/CXR_png/CHNCXR_0001_0.png          662 PA radiographs (about 3000 × 3000, spacing unknown)
    ChinaSet_AllFiles/ClinicalReadings/CHNCXR_0001_0.txt  sex, age, reading
    <masks>/CHNCXR_0001_0_mask.png                       both lungs in one mask (566 images have one)

The masks (Kaggle "shcxr-lung-mask", CC BY-NC-SA 4.0) do not separate the lungs: the layout gives ``lungs`` only.
The last digit of the name is the label (0 normal, 1 tuberculosis). Each image is one patient. About 100 images
have no mask: pass ``--skip-unmasked`` (import only the masked ones) or ``--allow-missing-masks``.
"""

from __future__ import annotations

from pathlib import Path

from xraylab.data.importers.base import Layout, LayoutOption, SourceItem, find_mask, list_files, mask_ref
from xraylab.data.importers.montgomery import locate, nlm_meta
from xraylab.data.importers.readers import DICOM_EXTS, MASK_EXTS, RASTER_EXTS
from xraylab.errors import InputFileError


def find_mask_dir(root: Path, base: Path) -> Path | None:
    """A folder named ``mask`` or ``masks`` holding ``*_mask.*`` files, under ``root`` or ``base`` (depth ≤ 3)."""
    seen: set[Path] = set()
    for start in (base, root, root.parent):
        for depth in range(0, 4):
            pattern = "/".join(["*"] * depth + ["mask*"]) if depth else "mask*"
            for cand in sorted(start.glob(pattern)):
                if cand in seen or not cand.is_dir() or cand.name.lower() not in ("mask", "masks"):
                    continue
                seen.add(cand)
                if any(p.stem.endswith("_mask") for p in cand.iterdir() if p.is_file()):
                    return cand
    return None


class ShenzhenLayout(Layout):
    name = "shenzhen"
    summary = "Shenzhen CXR set: CXR_png/ + mask/<stem>_mask.png (both lungs in one mask)"
    description = (
        "ROOT is ChinaSet_AllFiles/ (or a folder above it): CXR_png/CHNCXR_####_#.png and optional "
        "ClinicalReadings/<stem>.txt; the lung masks <stem>_mask.png are looked for in --masks (default: a folder "
        "named mask/ or masks/ under ROOT). The masks hold both lungs: structure lungs. label = normal / "
        "tuberculosis from the name's last digit; each image is its own patient. Not every image has a mask: use "
        "--skip-unmasked or --allow-missing-masks."
    )
    manifest = "shenzhen.yaml"
    masks: str
    images_dir: str
    options = (
        LayoutOption("masks", "--masks", str, "", "Folder of the <stem>_mask.png lung masks; default: search ROOT."),
        LayoutOption("images_dir", "--images-dir", str, "CXR_png", "Folder of the radiographs in ChinaSet_AllFiles."),
    )
    structure_definitions = {
        "lungs": "Shenzhen lung mask (Stirenko et al. 2018): both lung fields in one manual mask",
    }
    default_licence = "images: NLM Shenzhen set, public, citation requested; masks: CC BY-NC-SA 4.0"

    def find_items(self, root: Path) -> list[SourceItem]:
        base = locate(root, "ChinaSet_AllFiles", self.images_dir)
        mask_dir: Path | None
        if self.masks:
            mask_dir = Path(self.masks)
            if not mask_dir.is_dir():
                raise InputFileError(f"{mask_dir}: Shenzhen mask folder not found (--masks)")
        else:
            mask_dir = find_mask_dir(root, base)
            if mask_dir is None:
                raise InputFileError(f"{root}: no Shenzhen lung-mask folder (mask/ with <stem>_mask.png files) found; "
                                     "pass --masks DIR")
        assert mask_dir is not None
        readings = base / "ClinicalReadings"
        items: list[SourceItem] = []
        for img in list_files(base / self.images_dir, RASTER_EXTS + DICOM_EXTS):
            found = find_mask(mask_dir, f"{img.stem}_mask{img.suffix}", MASK_EXTS, ("",)) or \
                find_mask(mask_dir, img.name, MASK_EXTS, ("_mask", ""))
            meta, subject = nlm_meta(img, readings)
            items.append(SourceItem(
                item_id=img.stem, image=img,
                masks={"lungs": mask_ref(found, f"{mask_dir}/{img.stem}_mask.png")},
                subject_id=subject, meta=meta,
            ))
        return items
