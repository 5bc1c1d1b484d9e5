"""Layout ``folder``: the generic ``images/<name>`` + ``masks/<structure>/<name>`` convention.

::

    ROOT/images/<name>.<png|jpg|tif|dcm…>
    ROOT/masks/<structure>/<name>.<png|gif|…>    same file name as the image, or the same stem
    ROOT/items.json | metadata.json | items.csv | metadata.csv   (optional) per-image subject id, view, licence …

Structure folder names become structure names (``Left Lung`` → ``left_lung``); ``--rename`` maps them onto
xraylab's names (for the shared ``cxr_lungs_heart`` set: ``--rename heart=cardiomediastinum``). Without
metadata, a DICOM image's PatientID is its subject id, and any other image is its own subject.
"""

from __future__ import annotations

from pathlib import Path

from xraylab.data.importers.base import (
    Layout,
    LayoutOption,
    MaskRef,
    SourceItem,
    canonical_structure,
    find_mask,
    list_files,
    mask_ref,
    require_dir,
)
from xraylab.data.importers.metadata import Metadata, find_metadata_file
from xraylab.data.importers.readers import IMAGE_EXTS, MASK_EXTS, dicom_header, is_dicom


class FolderLayout(Layout):
    name = "folder"
    summary = "generic images/<name> + masks/<structure>/<name>, optional items.json or CSV per image"
    description = (
        "ROOT/images/<name> (PNG, JPEG, TIFF, BMP or DICOM); ROOT/masks/<structure>/<name> with the image's file "
        "name or stem (any image format, non-zero = foreground); optional ROOT/items.json, metadata.json, items.csv "
        "or metadata.csv naming each image (key 'image') with its patient ('patient' → subject_id), 'view', "
        "'license' and any other fields (kept as manifest columns); without it a DICOM's PatientID is its subject. "
        "Structure folder names become structure names ('Left Lung' → left_lung). Example (the shared COVID-19 "
        "set, whose 'heart' masks are the cardiomediastinum): "
        "xraylab import folder cxr_lungs_heart --out real --rename heart=cardiomediastinum"
    )
    manifest = "cxr_lungs_heart.yaml"
    images_dir: str
    masks_dir: str
    mask_suffix: str
    options = (
        LayoutOption("images_dir", "--images-dir", str, "images", "Folder of the images, relative to ROOT."),
        LayoutOption("masks_dir", "--masks-dir", str, "masks",
                     "Folder holding one sub-folder of masks per structure, relative to ROOT."),
        LayoutOption("mask_suffix", "--mask-suffix", str, "",
                     "Suffix of mask file stems, e.g. _mask for masks/<s>/<stem>_mask.png (default: none)."),
    )
    structure_definitions = {}

    def find_items(self, root: Path) -> list[SourceItem]:
        from xraylab.io.paths import confined

        images_dir = require_dir(confined(root, self.images_dir, "--images-dir"), "images",
                                 f"the folder layout expects {root}/{self.images_dir}/<name> (see --images-dir)")
        masks_dir = confined(root, self.masks_dir, "--masks-dir")
        structure_dirs: dict[str, Path] = {}
        if masks_dir.is_dir():
            # a file named like a structure (no extension) where its folder should be; mask images directly in
            # masks/ are not a structure of this layout and are left alone
            stray = sorted(p.name for p in masks_dir.iterdir()
                           if p.is_file() and not p.suffix and not p.name.startswith("."))
            if stray:
                from xraylab.errors import InputFileError

                raise InputFileError(f"{masks_dir}/{stray[0]}: a file where the folder layout expects one folder of "
                                     f"masks per structure ({masks_dir}/<structure>/<image name>); move it into one")
            for d in sorted(p for p in masks_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
                s = canonical_structure(d.name)
                if s in structure_dirs:
                    raise_dup(structure_dirs[s], d, s)
                structure_dirs[s] = d
        md_path = find_metadata_file(root)
        md = Metadata.load(md_path) if md_path is not None else None
        suffixes = (self.mask_suffix, "") if self.mask_suffix else ("",)
        items: list[SourceItem] = []
        for img in list_files(images_dir, IMAGE_EXTS) + _dicoms_without_suffix(images_dir):
            masks: dict[str, MaskRef] = {}
            for s, d in structure_dirs.items():
                found = find_mask(d, img.name, MASK_EXTS, suffixes)
                masks[s] = mask_ref(found, f"{d}/{img.stem}{self.mask_suffix}.*")
            it = SourceItem(item_id=img.stem, image=img, masks=masks)
            if md is not None:
                fields = md.lookup(img.name)
                it.subject_id = fields.pop("subject_id", None)
                it.source_split = fields.pop("source_split", None)
                it.meta.update(fields)
            if it.subject_id is None and is_dicom(img):  # DICOM carries its patient: keep splits subject-level
                it.subject_id = dicom_header(img).get("PatientID")
            items.append(it)
        if md is not None:  # a metadata row for an image that is not there is a stale or misnamed row
            ghosts = md.unmatched([it.image.name for it in items])
            if ghosts:
                from xraylab.errors import InputFileError

                raise InputFileError(f"{md_path}: lists {len(ghosts)} image(s) not in {images_dir} (first: "
                                     f"{ghosts[0]}); remove those rows or add the images")
        stems = {img.stem for img in (it.image for it in items)}
        for s, d in structure_dirs.items():  # a mask with no image is a misnamed file: say so rather than drop it
            for m in list_files(d, MASK_EXTS):
                stem = m.stem[: -len(self.mask_suffix)] if self.mask_suffix and m.stem.endswith(self.mask_suffix) \
                    else m.stem
                if stem not in stems:
                    from xraylab.errors import InputFileError

                    raise InputFileError(f"{m}: mask of structure {s!r} has no image {images_dir}/{stem}.*; rename "
                                         "or remove it")
        return items


def raise_dup(a: Path, b: Path, name: str) -> None:
    from xraylab.errors import InputFileError

    raise InputFileError(f"{b}: mask folder name maps to structure {name!r} like {a}; rename one of them")


def _dicoms_without_suffix(folder: Path) -> list[Path]:
    """DICOM files without an extension (common in exports), recognised by their ``DICM`` marker."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.suffix and not p.name.startswith(".")
                  and is_dicom(p))
