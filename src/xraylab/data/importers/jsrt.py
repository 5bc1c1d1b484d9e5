"""Layout ``jsrt``: JSRT chest radiographs (raw ``.IMG``) with the SCR masks (lungs, heart, clavicles).

JSRT (Shiraishi et al., AJR 2000): 247 PA chest films digitised to 2048 × 2048 pixels of 0.175 mm, 12 bits,
stored headerless as big-endian 16-bit words with *high values dark* (so they are inverted on import);
``JPCLN###.IMG`` hold one lung nodule each, ``JPCNN###.IMG`` none. SCR (van Ginneken et al., Med. Image Anal.
2006) adds manual masks at 1024 × 1024 (half resolution, same field of view), in two folds::

    <SCR>/fold1/masks/{heart,left clavicle,left lung,right clavicle,right lung}/JPCLN001.gif
    <SCR>/fold2/masks/…                     (the SCR zip unpacks them under scratch/; any depth is found)

SCR's names follow the patient (its right lung is on the image's left). Definitions (SCR data description):
lung fields exclude what is hidden by the heart, mediastinum, aorta and the structures below the diaphragm;
the heart is every pixel where radiation passed through the heart; the clavicles are outlined only where they
overlie the lungs and rib cage. The official split: fold1 → ``train``, fold2 → ``test`` (``--split source``).
"""

from __future__ import annotations

from pathlib import Path

from xraylab.data.importers.base import Layout, LayoutOption, MaskRef, SourceItem, find_mask, list_files, mask_ref
from xraylab.data.importers.readers import (
    DICOM_EXTS,
    JSRT_SHAPE,
    JSRT_SPACING_MM,
    MASK_EXTS,
    RASTER_EXTS,
    Radiograph,
    read_jsrt_raw,
    read_radiograph,
)
from xraylab.errors import InputFileError

SCR_STRUCTURES = {
    "heart": "heart",
    "left clavicle": "left_clavicle",
    "left lung": "left_lung",
    "right clavicle": "right_clavicle",
    "right lung": "right_lung",
}
FOLD_SPLIT = {"fold1": "train", "fold2": "test"}


def read_jsrt_image(path: Path) -> Radiograph:
    """JSRT raw ``.IMG``, or a converted PNG/TIFF/DICOM of it (spacing scaled from 0.175 mm at 2048 pixels)."""
    if path.suffix.lower() == ".img":
        return read_jsrt_raw(path)
    rad = read_radiograph(path)
    if rad.spacing_mm != rad.spacing_mm:  # NaN: derive from the JSRT field of view (2048 × 0.175 mm)
        rad.spacing_mm = JSRT_SPACING_MM * JSRT_SHAPE[1] / rad.hw[1]
    return rad


def find_scr_folds(base: Path, max_depth: int = 4) -> dict[str, Path]:
    """``{"fold1": <...>/fold1/masks, "fold2": ...}`` found under ``base`` (breadth first, at most ``max_depth``)."""
    found: dict[str, Path] = {}
    level = [base]
    for _ in range(max_depth + 1):
        nxt: list[Path] = []
        for d in level:
            for fold in FOLD_SPLIT:
                m = d / fold / "masks"
                if fold not in found and m.is_dir():
                    found[fold] = m
            if (d / "masks").is_dir() and d.name in FOLD_SPLIT and d.name not in found:
                found[d.name] = d / "masks"
            try:
                nxt.extend(sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")))
            except OSError:
                continue
        if found:
            return found
        level = nxt
    return found


class JSRTLayout(Layout):
    name = "jsrt"
    summary = "JSRT raw .IMG (2048², 12-bit big-endian, inverted) + SCR masks (lungs, heart, clavicles)"
    description = (
        "ROOT holds the JSRT images: JPCLN###.IMG / JPCNN###.IMG (raw 2048x2048, 12-bit big-endian; or PNG/DICOM "
        "conversions with the same names) at any depth. The SCR masks are looked for under --scr (default: ROOT) as "
        "fold1/masks/<structure>/<name>.gif and fold2/masks/… (1024x1024; structures heart, left clavicle, left lung, "
        "right clavicle, right lung). Every image is its own patient; label = nodule / non-nodule; --split source "
        "uses the SCR folds (fold1 → train, fold2 → test)."
    )
    manifest = "jsrt.yaml"
    scr: str
    options = (
        LayoutOption("scr", "--scr", str, "",
                     "Folder of the SCR masks (holding fold1/ and fold2/ at any depth); default: search ROOT."),
    )
    structure_definitions = {
        "left_lung": "SCR lung field: pixels whose ray crossed the lung but not the heart, mediastinum, aorta or "
                     "structures below the diaphragm (retrocardiac lung excluded)",
        "right_lung": "SCR lung field: pixels whose ray crossed the lung but not the heart, mediastinum, aorta or "
                      "structures below the diaphragm (retrocardiac lung excluded)",
        "heart": "SCR heart: pixels whose ray crossed the heart (borders at the top and bottom drawn from anatomy)",
        "left_clavicle": "SCR clavicle: only the part overlying the lungs and rib cage",
        "right_clavicle": "SCR clavicle: only the part overlying the lungs and rib cage",
        "lungs": "union of the SCR left and right lung fields",
        "clavicles": "union of the SCR left and right clavicles (parts overlying lungs and rib cage)",
    }
    default_licence = "JSRT/SCR terms: research and education only, no redistribution"
    source_split_note = "SCR folds: fold1 → train, fold2 → test"

    def find_items(self, root: Path) -> list[SourceItem]:
        images = [p for p in list_files(root, (".img",) + RASTER_EXTS + DICOM_EXTS, recursive=True)
                  if p.stem.upper().startswith(("JPCLN", "JPCNN")) and "masks" not in p.parts]
        # one file per case: the raw .IMG wins over conversions
        by_case: dict[str, Path] = {}
        for p in images:
            case = p.stem.upper()
            if case not in by_case or p.suffix.lower() == ".img":
                by_case[case] = p
        scr_base = Path(self.scr) if self.scr else root
        if self.scr and not scr_base.is_dir():
            raise InputFileError(f"{scr_base}: SCR folder not found (--scr)")
        folds = find_scr_folds(scr_base)
        if not folds:
            raise InputFileError(f"{scr_base}: no SCR masks found (expected fold1/masks/<structure>/*.gif, e.g. from "
                                 "the SCR zip's scratch/ folder); pass --scr DIR")
        items: list[SourceItem] = []
        for case, img in sorted(by_case.items()):
            masks: dict[str, MaskRef] = {}
            fold = None
            for fname, mdir in folds.items():
                if any(find_mask(mdir / sd, img.name, MASK_EXTS) for sd in SCR_STRUCTURES):
                    fold = fname
                    break
            for scr_name, s in SCR_STRUCTURES.items():
                found = find_mask(folds[fold] / scr_name, img.name, MASK_EXTS) if fold else None
                masks[s] = mask_ref(found,
                    f"fold1|fold2/masks/{scr_name}/{img.stem}.gif under {scr_base}")
            items.append(SourceItem(
                item_id=img.stem,
                image=img,
                masks=masks,
                subject_id=img.stem.upper(),
                source_split=FOLD_SPLIT.get(fold or ""),
                meta={"label": "nodule" if case.startswith("JPCLN") else "non-nodule", "fold": fold},
                reader=read_jsrt_image,
            ))
        return items
