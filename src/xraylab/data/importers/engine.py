"""``import_dataset``: a folder of real radiographs + masks → an xraylab dataset, the same way for every layout.

Steps: the layout lists the source items (:meth:`~xraylab.data.importers.base.Layout.scan`); an optional metadata
table adds subject ids, licences, views; structures are renamed (``--rename heart=cardiomediastinum``), unions
are added (``lungs`` = left ∪ right lung, ``clavicles`` = left ∪ right clavicle), every image is checked to have
every mask (or ``allow_missing_masks``); subjects are split at subject level (:mod:`xraylab.data.splits`, seeded;
default: everything ``test``) or by the dataset's own split; then each image is read, preprocessed by
:func:`xraylab.io.preprocess.prepare_image` (the one preprocessing of real and synthetic images) and written
through :class:`xraylab.data.writer.DatasetWriter` (atomic files, one record per item, resumable), which finally
writes ``manifest.parquet``, ``dataset.json`` and ``contact_sheet.png``.

Output folder (the conventions of ``xraylab generate``)::

    images/<image_id>.png              16-bit grey PNG in [0, 1]: air dark, bone bright; aspect kept, zero padding
    masks/<structure>/<image_id>.png   {0, 255} masks on the image's grid (nearest-neighbour resize)
    manifest.parquet                   image_id, subject_id, split, image, mask:<structure>, sha256:<column>,
                                       licence, view, pixel_spacing_mm (of the stored image; NaN when unknown), ...
    dataset.json                       layout, options, structure definitions, splits, preprocessing, counts
    contact_sheet.png                  a grid of images with mask outlines
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from xraylab.data.importers.base import (
    LAYOUTS,
    EmptyMask,
    Layout,
    MaskFile,
    MissingMask,
    PolygonMask,
    SourceItem,
    canonical_structure,
    mapping_option,
)
from xraylab.data.importers.metadata import Metadata
from xraylab.data.importers.readers import rasterize_polygons, read_radiograph
from xraylab.data.splits import SPLITS
from xraylab.errors import ConfigError, InputFileError
from xraylab.io.images import read_image, read_mask
from xraylab.io.ownership import check_not_inside_inputs

KIND = "import"
CONTACT_SHEET = "contact_sheet.png"

#: derived structures: name → the structures whose union it is
UNIONS: dict[str, tuple[str, str]] = {
    "lungs": ("left_lung", "right_lung"),
    "clavicles": ("left_clavicle", "right_clavicle"),
}
#: left/right pairs checked for side (patient's right on the image's left, ARCHITECTURE.md "Display")
SIDE_PAIRS: tuple[tuple[str, str], ...] = (("right_lung", "left_lung"), ("right_clavicle", "left_clavicle"))
PREFERRED_ORDER = ("left_lung", "right_lung", "lungs", "heart", "cardiomediastinum", "left_clavicle",
                   "right_clavicle", "clavicles")

#: what a structure name means when the layout does not say otherwise (after a rename, the new name's meaning)
DEFAULT_DEFINITIONS: dict[str, str] = {
    "cardiomediastinum": "cardiomediastinal silhouette (heart and mediastinum) as outlined by the annotators",
    "lungs": "union of left_lung and right_lung",
    "clavicles": "union of left_clavicle and right_clavicle",
}


@dataclass
class ImportResult:
    """What :func:`import_dataset` did."""

    out: Path
    n_items: int
    n_written: int
    n_skipped: int
    seconds: float
    structures: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def side_reversed(self) -> list[str]:
        return list(self.info.get("side_check", {}).get("reversed_ids", []))


# --------------------------------------------------------------------------- option parsing
def parse_split(text: str | Mapping[str, float] | None) -> tuple[str, dict[str, float] | None]:
    """``"test"`` / ``"train=0.8,val=0.2"`` / ``"source"`` → ``("fractions", {...})`` or ``("source", None)``."""
    if text is None:
        text = "test"
    if isinstance(text, Mapping):
        pairs = {str(k): float(v) for k, v in text.items()}
    else:
        t = str(text).strip().lower()
        if t in ("source", "official", "dataset"):
            return "source", None
        if t in SPLITS:
            return "fractions", {s: float(s == t) for s in SPLITS}
        pairs = {}
        for part in t.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"--split {text!r}: use a split name (train, val, test), 'source' (the dataset's own "
                                  "split) or fractions such as train=0.8,val=0.2")
            k, v = part.split("=", 1)
            try:
                pairs[k.strip()] = float(v)
            except ValueError:
                raise ConfigError(f"--split {text!r}: {v.strip()!r} is not a number") from None
    bad = sorted(set(pairs) - set(SPLITS))
    if bad:
        raise ConfigError(f"--split: unknown split name(s) {', '.join(bad)}; use train, val, test")
    if any(v < 0 or not math.isfinite(v) for v in pairs.values()) or sum(pairs.values()) <= 0:
        raise ConfigError(f"--split {text!r}: fractions must be ≥ 0 and sum to more than 0")
    if sum(pairs.values()) > 1 + 1e-6:
        raise ConfigError(f"--split {text!r}: fractions sum to {sum(pairs.values()):g}, more than 1")
    return "fractions", {s: pairs.get(s, 0.0) for s in SPLITS}


def _order_structures(names: Sequence[str]) -> list[str]:
    pref = [n for n in PREFERRED_ORDER if n in names]
    return pref + sorted(n for n in names if n not in pref)


def _swap_side(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


@dataclass
class _StructurePlan:
    final: list[str]  # output structure names, in column order
    source_of: dict[str, str]  # final name → canonical source name (not for unions)
    unions: dict[str, tuple[str, str]]  # final name → (final part a, final part b)
    needed: list[str]  # final names whose source masks must be read (kept ones + parts of kept unions)
    renamed: dict[str, str]


def plan_structures(
    items: Sequence[SourceItem], layout: Layout, rename: Mapping[str, str], keep: Sequence[str] | None,
) -> _StructurePlan:
    """Resolve renames, unions and ``--structures`` into the output structure list (raises ConfigError)."""
    present: list[str] = []
    for it in items:
        for s in it.masks:
            if s not in present:
                present.append(s)
    rename_all = {canonical_structure(k): canonical_structure(v) for k, v in rename.items()}
    unknown = sorted(k for k in rename_all if k not in present)
    if unknown:
        raise ConfigError(f"--rename: no structure {', '.join(unknown)} in this dataset; it has "
                          f"{', '.join(present) or 'no masks'}")
    source_of: dict[str, str] = {}
    for s in present:
        f = rename_all.get(s, s)
        if f in source_of:
            raise ConfigError(f"--rename: structures {source_of[f]!r} and {s!r} would both be called {f!r}")
        source_of[f] = s
    unions = {u: parts for u, parts in UNIONS.items() if u not in source_of and all(p in source_of for p in parts)}
    available = _order_structures(list(source_of) + list(unions))
    if keep:
        want = [canonical_structure(s) for s in keep]
        bad = [s for s in want if s not in available]
        if bad:
            raise ConfigError(f"--structures: {', '.join(bad)} not available; this dataset gives "
                              f"{', '.join(available) or 'no masks'}")
        final = [s for s in available if s in want]
    else:
        final = available
    needed = [s for s in source_of if s in final]
    for u in final:
        for p in unions.get(u, ()):
            if p not in needed:
                needed.append(p)
    return _StructurePlan(final=final, source_of=source_of, unions={u: unions[u] for u in final if u in unions},
                          needed=needed, renamed={k: v for k, v in rename_all.items() if k != v})


def structure_definitions(plan: _StructurePlan, layout: Layout, define: Mapping[str, str]) -> dict[str, str]:
    """What each output structure means: ``--define`` > (renamed: the new name's default) > the layout's > default."""
    user = {canonical_structure(k): v for k, v in define.items()}
    out: dict[str, str] = {}
    for s in plan.final:
        src = plan.source_of.get(s)
        if s in user:
            out[s] = user[s]
        elif s in plan.unions:
            a, b = plan.unions[s]
            out[s] = f"union of {a} and {b}"
        elif src is not None and src != s:
            out[s] = DEFAULT_DEFINITIONS.get(s) or f"the dataset's {src!r} masks, renamed"
        else:
            out[s] = (layout.structure_definitions.get(s) or DEFAULT_DEFINITIONS.get(s)
                      or "as annotated in the source masks")
    return out


# --------------------------------------------------------------------------- per-item work
def load_mask(ref: Any, image_hw: tuple[int, int]) -> np.ndarray:
    """A mask reference → bool array (files at their own resolution; polygons/empties on the image grid)."""
    if isinstance(ref, MaskFile):
        return read_mask(ref.path)
    if isinstance(ref, PolygonMask):
        return rasterize_polygons(ref.polygons, image_hw)
    if isinstance(ref, EmptyMask):
        return np.zeros(image_hw, dtype=bool)
    raise TypeError(f"not a loadable mask reference: {ref!r}")


def _mask_name(ref: Any, item: SourceItem) -> str:
    if isinstance(ref, MaskFile):
        return str(ref.path)
    if isinstance(ref, PolygonMask):
        return f"{ref.source or 'polygons'} ({item.image.name})"
    return str(item.image)


def _centroid_x(mask: Any) -> float | None:
    import torch

    cols = torch.nonzero(mask)
    if cols.numel() == 0:
        return None
    return float(cols[:, 1].float().mean())


def side_check(masks: Mapping[str, Any]) -> str:
    """``ok`` when every right/left pair lies patient's-right-on-image-left, ``reversed`` when one pair does not,
    ``n/a`` without a complete pair."""
    verdict = "n/a"
    for right, left in SIDE_PAIRS:
        if masks.get(right) is None or masks.get(left) is None:
            continue
        xr, xl = _centroid_x(masks[right]), _centroid_x(masks[left])
        if xr is None or xl is None:
            continue
        if xr > xl:
            return "reversed"
        verdict = "ok"
    return verdict


def _finite(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) and f > 0 else math.nan


def _process_item(item: SourceItem, row: dict[str, Any], plan: _StructurePlan, size: Any, normalize: str,
                  percentiles: Sequence[float]) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Read, preprocess and encode one item; returns (files, row)."""
    from xraylab.io.images import mask_png_bytes, png16_bytes
    from xraylab.io.preprocess import output_pixel_spacing, parse_size, prepare_image, prepare_mask, same_aspect

    reader = item.reader or read_radiograph
    rad = reader(item.image)
    hw = parse_size(size)
    try:
        if rad.pixels.ndim == 3:  # colour layouts (dermoscopy): RGB kept, 8-bit PNG (importers.colour)
            from xraylab.data.importers.colour import prepare_colour
            from xraylab.io.images import png8_bytes

            img = prepare_colour(rad.pixels, hw)
            image_bytes = png8_bytes(img)
            row["normalize"] = "none"  # photographs are not stretched (colours would shift)
        else:
            img = prepare_image(rad.pixels, size, normalize, invert=rad.invert, percentiles=percentiles)
            image_bytes = png16_bytes(img.cpu().numpy())
    except ValueError as exc:
        raise InputFileError(f"{item.image}: {exc}") from exc
    src_hw = rad.hw
    files: dict[str, bytes] = {row["image"]: image_bytes}
    out_masks: dict[str, Any] = {}
    for s in plan.needed:
        ref = item.masks.get(plan.source_of[s])
        if ref is None or isinstance(ref, MissingMask):
            out_masks[s] = None
            continue
        m = load_mask(ref, src_hw)
        if tuple(m.shape) != src_hw and not same_aspect(tuple(m.shape), src_hw):
            raise InputFileError(f"{_mask_name(ref, item)}: mask is {m.shape[0]}×{m.shape[1]} pixels but its image "
                                 f"{item.image} is {src_hw[0]}×{src_hw[1]}; a mask must be on the image's grid "
                                 "(same size, or the same aspect ratio at another resolution)")
        out_masks[s] = prepare_mask(m, hw if hw is not None else src_hw)
    for u, (a, b) in plan.unions.items():
        out_masks[u] = None if out_masks.get(a) is None or out_masks.get(b) is None else out_masks[a] | out_masks[b]
    for s in plan.final:
        if out_masks.get(s) is None:
            row[f"mask:{s}"] = None
        else:
            files[row[f"mask:{s}"]] = mask_png_bytes(out_masks[s].cpu().numpy())
    spacing = _finite(rad.spacing_mm)
    if math.isnan(spacing):
        spacing = _finite(item.spacing_mm)
    h, w = int(img.shape[0]), int(img.shape[1])
    row.update({
        "height": h,
        "width": w,
        "source_height": src_hw[0],
        "source_width": src_hw[1],
        "pixel_spacing_mm": output_pixel_spacing(spacing, src_hw, size),
        "source_pixel_spacing_mm": spacing,
        "photometric": rad.photometric,
        "inverted": bool(rad.invert),
        "source_format": str(rad.meta.get("source_format", "")),
        "side_check": side_check(out_masks),
    })
    for k, v in rad.meta.items():
        if k == "source_format":
            continue
        if k == "view":
            if row.get("view") is None:
                row["view"] = str(v)
        elif k not in row:
            row[k] = str(v)
    return files, row


def _source_file(image: Path, root: Path) -> str:
    """The source image as ``<root name>/<path under root>`` (never equal to an output path, which the writer
    would hash as one of the item's files); the absolute path for files outside ``root``."""
    try:
        rel = image.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(image.resolve())
    name = root.resolve().name or "source"
    text = f"{name}/{rel}"
    return text if not text.startswith(("images/", "masks/")) else f"./{text}"


# --------------------------------------------------------------------------- the job
def _contact_sheet_hook(structures: list[str], n_max: int, title: str):
    def hook(out: Path, rows: list[dict]) -> Path | None:
        if n_max <= 0 or not rows:
            return None
        from xraylab.viz import contact_sheet

        sel = rows
        if len(rows) > n_max:
            idx = sorted({round(i * (len(rows) - 1) / (n_max - 1)) for i in range(n_max)}) if n_max > 1 else [0]
            sel = [rows[i] for i in idx]
        images, masks = [], []
        for r in sel:
            img = read_image(out / r["image"])
            images.append(img)
            masks.append([read_mask(out / r[f"mask:{s}"]) if r.get(f"mask:{s}") else np.zeros(img.shape[:2], bool)
                          for s in structures])
        ncols = min(7, max(1, math.ceil(math.sqrt(len(sel) * 1.8))))
        return contact_sheet(out / CONTACT_SHEET, images, masks, captions=[f"{r['image_id'][:24]} ({r['split']})"
                                                                          for r in sel],
                             ncols=ncols, title=title, legend=structures or None)

    return hook


def import_dataset(
    layout: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    size: int | tuple[int, int] | str | None = 256,
    normalize: str = "minmax",
    percentiles: Sequence[float] = (0.5, 99.5),
    split: str | Mapping[str, float] | None = "test",
    seed: int = 0,
    rename: Sequence[str] | Mapping[str, str] | None = None,
    define: Sequence[str] | Mapping[str, str] | None = None,
    structures: Sequence[str] | None = None,
    allow_missing_masks: bool = False,
    skip_unmasked: bool = False,
    metadata: str | os.PathLike | None = None,
    licence: str | None = None,
    swap_sides: bool = False,
    name: str | None = None,
    limit: int | None = None,
    overwrite: bool = False,
    contact_sheet: int = 25,
    progress: bool = True,
    layout_options: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Import the real dataset at ``root`` (in layout ``layout``) into the xraylab dataset folder ``out``.

    ``size``: output pixels (int, (h, w), "HxW"; ``None``/0 keeps each image's own grid); ``normalize``: see
    :func:`xraylab.io.preprocess.prepare_image`; ``split``: ``"test"`` (default), ``"train=0.8,val=0.2"`` or
    ``"source"`` (the dataset's own split); ``seed``: split seed; ``rename``: ``["heart=cardiomediastinum"]``;
    ``define``: ``["cardiomediastinum=..."]`` structure definitions for dataset.json; ``structures``: output
    structures to keep (default all); ``allow_missing_masks``: import images that lack a mask (its column is
    empty); ``skip_unmasked``: leave such images out; ``metadata``: items.json / CSV with per-image subject id,
    licence, view...; ``licence``: for images whose metadata has none; ``swap_sides``: exchange left_*/right_*
    masks (for sets named by image side); ``limit``: import only the first N images (by id). Re-running the same
    command resumes.
    """
    from xraylab.data.splits import assign_splits
    from xraylab.data.writer import DatasetWriter
    from xraylab.io.preprocess import NORMALIZE_MODES, parse_size

    t0 = time.perf_counter()
    root = Path(root)
    out = Path(out)
    if not root.exists():
        raise InputFileError(f"{root}: source folder not found")
    if normalize not in NORMALIZE_MODES:
        raise ConfigError(f"--normalize {normalize!r}: choose one of {', '.join(NORMALIZE_MODES)}")
    try:
        hw = parse_size(size)
    except ValueError as exc:
        raise ConfigError(f"--size: {exc}") from None
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: need at least 1")
    split_mode, fractions = parse_split(split)
    lay: Layout = LAYOUTS.create(layout, **dict(layout_options or {}))
    check_not_inside_inputs(out, [root])  # before the scan: an --out inside ROOT would change what it reads

    items = sorted(lay.scan(root), key=lambda it: it.item_id)
    if not items:
        raise InputFileError(f"{root}: no images found for layout {lay.name!r}; expected: "
                             f"{' '.join(lay.description.split())[:300]}")
    # metadata table
    md_info: dict[str, Any] = {}
    if metadata is not None:
        md = Metadata.load(Path(metadata))
        matched = 0
        for it in items:
            fields = md.lookup(it.image.name)
            if fields:
                matched += 1
                if "subject_id" in fields:
                    it.subject_id = str(fields.pop("subject_id"))
                if "source_split" in fields:
                    it.source_split = fields.pop("source_split")
                it.meta.update(fields)
        if matched == 0:
            raise InputFileError(f"{metadata}: lists none of the {len(items)} images under {root}; check that it "
                                 "names images by file name (key 'image' / 'file' / 'file_name')")
        md_info = {"file": str(metadata), "matched": matched, "unmatched": len(items) - matched}
    if limit is not None:
        items = items[:limit]
    if swap_sides:
        for it in items:
            it.masks = {_swap_side(k): v for k, v in it.masks.items()}

    rename_map = {**lay.default_rename, **mapping_option(rename, "--rename")}
    plan = plan_structures(items, lay, rename_map, structures)
    definitions = structure_definitions(plan, lay, mapping_option(define, "--define"))

    # every image needs every needed mask
    skipped: list[str] = []
    if skip_unmasked:
        kept = []
        for it in items:
            refs = [it.masks.get(plan.source_of[s]) for s in plan.needed]
            if any(r is None or isinstance(r, MissingMask) for r in refs):
                skipped.append(it.item_id)
            else:
                kept.append(it)
        if not kept:
            raise InputFileError(f"{root}: --skip-unmasked: none of the {len(items)} images has every mask "
                                 f"({', '.join(plan.final)})")
        items = kept
    missing: dict[str, list[str]] = {}
    for it in items:
        for s in plan.needed:
            src = plan.source_of[s]
            ref = it.masks.get(src)
            if ref is None or isinstance(ref, MissingMask):
                if not allow_missing_masks:
                    where = ref.looked_for if isinstance(ref, MissingMask) else f"a {src!r} mask"
                    raise InputFileError(f"{it.image}: no {src!r} mask (looked for {where}); add it, or pass "
                                         "--allow-missing-masks to import the image without that mask")
                missing.setdefault(s, []).append(it.item_id)
    for u, (a, b) in plan.unions.items():
        ids = sorted(set(missing.get(a, [])) | set(missing.get(b, [])))
        if ids:
            missing[u] = ids
    missing = {s: ids for s, ids in missing.items() if s in plan.final}

    # subjects and splits
    subject_from = Counter("metadata or layout" if it.subject_id else "image id" for it in items)
    subject: dict[str, str] = {it.item_id: str(it.subject_id) if it.subject_id else it.item_id for it in items}
    for it in items:
        it.subject_id = subject[it.item_id]
    if split_mode == "source":
        if lay.source_split_note is None and not any(it.source_split for it in items):
            raise ConfigError(f"--split source: layout {lay.name!r} has no split of its own (and the metadata gives "
                              "none); use fractions such as train=0.8,val=0.2 or one split name")
        splits: dict[str, str] = {}
        for it in items:
            sp = (it.source_split or "").strip().lower()
            if sp not in SPLITS:
                raise InputFileError(f"{it.image}: no usable source split ({it.source_split!r}); --split source needs "
                                     "train / val / test for every image")
            sid = subject[it.item_id]
            if splits.setdefault(sid, sp) != sp:
                raise InputFileError(f"{it.image}: subject {sid!r} is in both {splits[sid]!r} and "
                                     f"{sp!r} in the dataset's own split; splits must be subject-level")
    else:
        splits = assign_splits(list(subject.values()), fractions or {}, seed)

    # rows (without pixels-derived columns)
    default_licence = licence or lay.default_licence or "unknown"
    rows: dict[str, dict[str, Any]] = {}
    for it in items:
        row: dict[str, Any] = {
            "image_id": it.item_id,
            "subject_id": subject[it.item_id],
            "split": splits[subject[it.item_id]],
            "image": f"images/{it.item_id}.png",
        }
        for s in plan.final:
            row[f"mask:{s}"] = f"masks/{s}/{it.item_id}.png"
        source_file = _source_file(it.image, root)
        meta = dict(it.meta)
        view = meta.pop("view", None)
        row.update({
            "source_dataset": lay.name,
            "source_file": source_file,
            "source_split": it.source_split,
            "licence": str(meta.pop("licence", None) or default_licence),
            "view": None if view is None else str(view),
            "normalize": normalize,
        })
        for k, v in meta.items():
            if k not in row:
                row[k] = v
        rows[it.item_id] = row

    job = {
        "layout": lay.name,
        "root": str(root.resolve()),
        "layout_options": lay.option_values(),
        "size": list(hw) if hw else None,
        "normalize": normalize,
        "percentiles": list(percentiles) if normalize == "percentile" else None,
        "split": split_mode if split_mode == "source" else fractions,
        "seed": seed,
        "rename": plan.renamed,
        "structures": plan.final,
        "allow_missing_masks": bool(allow_missing_masks),
        "skip_unmasked": bool(skip_unmasked),
        "metadata": str(metadata) if metadata else None,
        "licence": licence,
        "swap_sides": bool(swap_sides),
        "limit": limit,
    }
    listing = [[it.item_id, rows[it.item_id]["source_file"], subject[it.item_id], rows[it.item_id]["split"],
                sorted(it.masks)] for it in items]
    items_hash = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()
    job["items"] = f"{len(items)} images, listing {items_hash[:12]}"
    fingerprint = hashlib.sha256(json.dumps({"job": job, "items": items_hash}, sort_keys=True,
                                            default=str).encode()).hexdigest()
    writer = DatasetWriter(out, kind=KIND, fingerprint=fingerprint, overwrite=overwrite, job=job,
                           inputs=[root] + ([metadata] if metadata else []))

    todo = []
    for it in items:
        expected = [rows[it.item_id]["image"]] + [rows[it.item_id][f"mask:{s}"] for s in plan.final
                                               if s not in missing or it.item_id not in missing[s]]
        if not writer.is_done(it.item_id, expected):
            todo.append(it)
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="img", desc=f"import {lay.name}", dynamic_ncols=True)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per-image work is small: one thread is fastest and gives the same bytes everywhere
    try:
        for it in todo:
            files, row = _process_item(it, dict(rows[it.item_id]), plan, hw, normalize, percentiles)
            writer.write_item(it.item_id, files, row)
            if bar is not None:
                bar.update(1)
    finally:
        torch.set_num_threads(threads)
        if bar is not None:
            bar.close()

    order = [it.item_id for it in items]
    records = writer.records(order)
    side = Counter(r.get("side_check", "n/a") for r in records)
    reversed_ids = [r["image_id"] for r in records if r.get("side_check") == "reversed"]
    per_split = Counter(r["split"] for r in records)
    info: dict[str, Any] = {
        "name": name or root.resolve().name,
        "kind": "real_xray",
        "description": lay.summary,
        "layout": lay.name,
        "source": {"root": str(root.resolve()), "data_manifest": f"data_manifests/{lay.manifest}" if lay.manifest
                   else None, "layout_options": lay.option_values(), "metadata": md_info or None},
        "structures": plan.final,
        "structure_definitions": definitions,
        "structure_sources": {s: (f"union of {plan.unions[s][0]} and {plan.unions[s][1]}" if s in plan.unions
                                  else plan.source_of[s]) for s in plan.final},
        "renamed": plan.renamed,
        "swap_sides": bool(swap_sides),
        "missing_masks": missing,
        "skipped_unmasked": {"count": len(skipped), "ids": skipped[:100]},
        "preprocessing": {
            "function": "xraylab.io.preprocess.prepare_image",
            "size": list(hw) if hw else None,
            "normalize": normalize,
            "percentiles": list(percentiles) if normalize == "percentile" else None,
            "polarity": "air dark, bone bright (MONOCHROME1 DICOM and JSRT raw inverted)",
            "resize": "bilinear with antialiasing, aspect ratio kept, zero padding (xraylab.io.images.resize_pad)"
            if hw else "none (source grid kept)",
            "mask_resize": "nearest",
        },
        "split": {"mode": split_mode, "fractions": fractions, "seed": seed if split_mode != "source" else None,
                  "source_split_note": lay.source_split_note},
        "splits": dict(sorted(splits.items())),
        "subject_ids_from": dict(subject_from),
        "licences": dict(sorted(Counter(r["licence"] for r in records).items())),
        "side_check": {"ok": side.get("ok", 0), "reversed": side.get("reversed", 0), "n/a": side.get("n/a", 0),
                       "reversed_ids": reversed_ids[:50],
                       "rule": "patient's right on the image's left (centroids of right_*/left_* masks)"},
        "counts": {"images": len(records), "subjects": len({r["subject_id"] for r in records}),
                   "per_split": dict(sorted(per_split.items()))},
        "layout_files": {"images": "images/<image_id>.png (16-bit, [0, 1])",
                         "masks": "masks/<structure>/<image_id>.png ({0, 255})",
                         "manifest": "manifest.parquet"},
    }
    shown = [s for s in plan.final if s not in plan.unions] or plan.final  # a union would hide its parts' outlines
    writer.finish(info, order=order, contact_sheet=_contact_sheet_hook(shown, contact_sheet, info["name"]))
    return ImportResult(out=out, n_items=len(items), n_written=len(todo), n_skipped=len(items) - len(todo),
                        seconds=time.perf_counter() - t0, structures=plan.final, info=info)
