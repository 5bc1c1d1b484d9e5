"""Layout ``chestx_det``: ChestX-Det (Deepwise, 3578 NIH ChestX-14 images) with polygon masks of 13 findings.

::

    ROOT/ChestX_Det_train.json, ROOT/ChestX_Det_test.json
        [{"file_name": "36199.png", "syms": ["Effusion", ...], "boxes": [[x1, y1, x2, y2], ...],
          "polygons": [[[x, y], ...], ...]}, ...]              one polygon (and box) per finding instance
    ROOT/**/36199.png                                          the images (train/ and test/ of the zips), 1024²

Every category named in the annotations becomes a structure (``Pleural Thickening`` → ``pleural_thickening``);
all instances of a category are filled into one mask; an image without that finding gets an empty mask (a true
negative, not a missing one). An instance without a polygon falls back to its box. The official split comes from
the file name of the annotation JSON (``--split source``). The NIH patient ids are not in ChestX-Det's file
names, so each image is its own subject unless ``--metadata`` maps images to patients.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xraylab.data.importers.base import (
    EmptyMask,
    Layout,
    LayoutOption,
    PolygonMask,
    SourceItem,
    canonical_structure,
    list_files,
)
from xraylab.data.importers.readers import DICOM_EXTS, RASTER_EXTS
from xraylab.errors import InputFileError

CATEGORIES = ("Atelectasis", "Calcification", "Cardiomegaly", "Consolidation", "Diffuse Nodule", "Effusion",
              "Emphysema", "Fibrosis", "Fracture", "Mass", "Nodule", "Pleural Thickening", "Pneumothorax")


def _split_of(path: Path) -> str | None:
    n = path.stem.lower()
    for key, split in (("train", "train"), ("val", "val"), ("test", "test")):
        if key in n:
            return split
    return None


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read ChestX-Det annotations ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(d, dict) and "file_name" in d for d in data):
        raise InputFileError(f"{path}: not ChestX-Det annotations (a list of objects with file_name, syms, polygons)")
    return data


def _box_polygon(box: Any) -> tuple[tuple[float, float], ...]:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return ((x1, y1), (x2, y1), (x2, y2), (x1, y2))


class ChestXDetLayout(Layout):
    name = "chestx_det"
    summary = "ChestX-Det: JSON with polygons + category names per image (13 findings), images anywhere under ROOT"
    description = (
        "ROOT holds the annotation JSON files (default: every *.json under ROOT whose entries have file_name, syms, "
        "polygons, e.g. ChestX_Det_train.json and ChestX_Det_test.json; or --annotations FILE, repeatable) and the "
        "images they name, at any depth. Each category (Effusion, Nodule, Pleural Thickening, ...) becomes a "
        "structure (effusion, nodule, pleural_thickening, ...); images without that finding get an empty mask. "
        "--split source uses the JSON file names (train / test). Each image is its own subject."
    )
    manifest = "chestx_det.yaml"
    annotations: list[str]
    options = (
        LayoutOption("annotations", "--annotations", list[str], [],
                     "Annotation JSON file(s); repeatable. Default: the ChestX-Det JSON files found under ROOT."),
    )
    default_licence = "images: NIH ChestX-ray14 (unrestricted use, citation requested); annotations: ChestX-Det terms"
    source_split_note = "the annotation file an image is listed in (ChestX_Det_train.json → train, _test → test)"

    def find_items(self, root: Path) -> list[SourceItem]:
        if self.annotations:
            files = [Path(a) for a in self.annotations]
            for f in files:
                if not f.is_file():
                    raise InputFileError(f"{f}: annotation file not found (--annotations)")
        else:
            files = []
            for f in list_files(root, (".json",), recursive=True):
                try:
                    head = f.read_text(encoding="utf-8")[:4096]
                except OSError:
                    continue
                if head.lstrip().startswith("[") and '"file_name"' in head:
                    files.append(f)
            if not files:
                raise InputFileError(f"{root}: no ChestX-Det annotation JSON found (ChestX_Det_train.json / "
                                     "ChestX_Det_test.json); pass --annotations FILE")
        index: dict[str, list[Path]] = {}
        for p in list_files(root, RASTER_EXTS + DICOM_EXTS, recursive=True):
            index.setdefault(p.name, []).append(p)
        entries: list[tuple[Path, dict[str, Any]]] = []
        for f in files:
            entries.extend((f, e) for e in _load(f))
        categories: list[str] = []
        for _, e in entries:
            for sym in e.get("syms") or []:
                if sym not in categories:
                    categories.append(sym)
        seen: dict[str, Path] = {}
        items: list[SourceItem] = []
        for f, e in entries:
            name = Path(str(e["file_name"])).name
            if name in seen:
                raise InputFileError(f"{f}: image {name!r} is also annotated in {seen[name]}; give each image once")
            seen[name] = f
            paths = index.get(name, [])
            if not paths:
                raise InputFileError(f"{root}: image {name!r} (listed in {f.name}) not found under ROOT; unpack the "
                                     "image zips there or pass --annotations for the part you have")
            if len(paths) > 1:
                raise InputFileError(f"{paths[1]}: image {name!r} exists more than once under {root} (also "
                                     f"{paths[0]}); keep one")
            syms = list(e.get("syms") or [])
            polys = list(e.get("polygons") or [])
            boxes = list(e.get("boxes") or [])
            per_cat: dict[str, list[tuple[tuple[float, float], ...]]] = {}
            from_box = 0
            for k, sym in enumerate(syms):
                poly = polys[k] if k < len(polys) else None
                if poly and len(poly) >= 3:
                    shape = tuple((float(p[0]), float(p[1])) for p in poly)
                elif k < len(boxes) and boxes[k]:
                    shape = _box_polygon(boxes[k])
                    from_box += 1
                else:
                    raise InputFileError(f"{f}: {name}: finding {k} ({sym}) has neither a polygon nor a box")
                per_cat.setdefault(sym, []).append(shape)
            masks: dict[str, Any] = {}
            for cat in categories:
                s = canonical_structure(cat)
                masks[s] = PolygonMask(tuple(per_cat[cat]), source=f.name) if cat in per_cat else EmptyMask()
            meta = {"findings": ";".join(sorted(set(syms))) or "none", "n_findings": len(syms),
                    "masks_from_boxes": from_box}
            items.append(SourceItem(item_id=Path(name).stem, image=paths[0], masks=masks,
                                    source_split=_split_of(f), meta=meta))
        self.categories = categories
        return items

    @property
    def structure_definitions(self) -> dict[str, str]:  # type: ignore[override]
        return {canonical_structure(c): f"radiologist-drawn contour of every {c} finding (ChestX-Det); empty when "
                f"the image has none" for c in CATEGORIES}
