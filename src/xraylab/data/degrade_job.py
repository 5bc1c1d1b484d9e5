"""Write a degraded copy of a dataset (``xraylab degrade``): the dataset job around :mod:`xraylab.degrade`.

For every source row and every planned (corruption, level) — all combinations (``mode="all"``) or one random
draw per image (``mode="random"``) — the corrupted image is written to ``images/<image_id>__<corruption>_L<level>.png``,
plus a clean copy (``corruption="none"``, severity 0, the source file's bytes) unless ``include_clean`` is false.
The output manifest keeps every input column and adds ``corruption``, ``severity`` (int level),
``source_image_id``, ``sha256:image``, ``sha256:<mask column>`` and ``delta_e2000`` (mean CIEDE2000 of RGB outputs
against their source; NaN for grayscale images and for the clean copies) — the labels of the corruption-severity
and corruption-type prediction tasks (Ward & Imran, Table 1). Rows are sorted by (new) ``image_id``, like every
manifest.

Masks are copied unchanged (same relative path, written once, shared by the rows that use them) for intensity
corruptions and re-sampled (nearest neighbour, ``masks/<new image_id>/<structure>.png``) for spatial ones.
When the plan holds a corruption that draws content into the image (``adds``, e.g. ``burnt_in``), every row
gets a ``mask:<adds>`` column (``masks/<new image_id>/<adds>.png``, with its ``sha256:`` column): the pixels that
corruption drew into, empty for the clean copy and for the other corruptions. The default plan (no
``corruptions``) leaves out the ``opt_in`` corruptions, ``burnt_in`` among them, so it is what it was before them.

Resume protocol — the one of :class:`xraylab.data.writer.DatasetWriter` (``kind="degrade"``): the folder holds
``.xraylab/job.json`` with the job's fingerprint (source folder and manifest hash, seed, mode, include_clean,
corruptions and levels); each output image is one *item* whose files (image, re-sampled masks) are written
atomically, then its record ``.xraylab/records/<new image_id>.json`` (its manifest row with hashes) — the record
last, so an item is complete exactly when its record and files exist. A re-run of the same job skips complete
items, removes stale temporaries and rewrites the rest; a different job on the same folder is refused (one-line
``ConfigError`` naming what differs) unless ``overwrite``. ``manifest.parquet`` is built from the records,
then the contact sheet, then ``dataset.json`` (``complete: true``) last. Each output's randomness comes from a
seed derived from (seed, image_id, corruption, level), so results depend neither on order nor on resumption.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from xraylab.data.manifest import MANIFEST_NAME, MASK_PREFIX, SHA_PREFIX, mask_columns, read_manifest
from xraylab.data.writer import DatasetWriter
from xraylab.degrade import registry
from xraylab.degrade.color import mean_delta_e2000
from xraylab.degrade.rng import make_generator
from xraylab.errors import ConfigError, InputFileError
from xraylab.io.images import mask_png_bytes, png8_bytes, png16_bytes, read_image, read_mask
from xraylab.seeding import derive_seed

CLEAN = "none"
KIND = "degrade"
CONTACT_SHEET = "contact_sheet.png"


@dataclass
class DegradeJob:
    """What to write: source dataset, output folder, corruptions x levels, selection mode and seed."""

    dataset: Path
    out: Path
    corruptions: list[str] | None = None
    levels: list[int] | None = None
    mode: str = "all"
    seed: int = 0
    include_clean: bool = True
    modality: str | None = None
    contact_sheet: bool = True
    overwrite: bool = False


def added_columns(names: list[str], df: pd.DataFrame) -> list[str]:
    """The ``mask:<adds>`` columns of the planned corruptions that draw content; refused if the source has one."""
    cols = sorted({MASK_PREFIX + registry.get(n).adds for n in names if registry.get(n).adds})
    clash = [c for c in cols if c in df.columns]
    if clash:
        raise ConfigError(f"the source manifest already has {', '.join(clash)}, the mask column(s) of what "
                          "the planned corruptions draw; degrade a dataset without them")
    return cols


def _is_16bit(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        return im.mode in ("I;16", "I;16B", "I;16L", "I")


def _to_tensor(arr: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    return t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]


def _to_array(t: torch.Tensor) -> np.ndarray:
    a = t[0].detach().cpu().float().numpy()
    return a[0] if a.shape[0] == 1 else np.transpose(a, (1, 2, 0))


def resolve_plan(job: DegradeJob, first_image: np.ndarray) -> tuple[list[str], dict[str, list[int]]]:
    """Corruption names and the levels of each, validated against the registry."""
    if job.mode not in ("all", "random"):
        raise ConfigError(f"--mode must be 'all' or 'random', got '{job.mode}'")
    names = job.corruptions
    if not names:
        modality = job.modality or ("dermoscopy" if first_image.ndim == 3 else "xray")
        names = registry.defaults(modality)
    plan: dict[str, list[int]] = {}
    for n in names:
        op = registry.get(n)
        if op.channels is not None and (first_image.ndim == 3) != (op.channels == 3):
            raise ConfigError(f"corruption '{n}' needs {op.channels}-channel images; the dataset's are not")
        lv = list(job.levels) if job.levels else op.levels
        bad = [v for v in lv if v not in op.levels]
        if bad:
            raise ConfigError(f"--levels {bad} not defined for corruption '{n}' (levels: {op.levels})")
        plan[n] = lv
    return list(plan), plan


def _variants(image_id: str, plan: dict[str, list[int]], job: DegradeJob) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = [(CLEAN, 0)] if job.include_clean else []
    combos = [(n, lv) for n, lvs in plan.items() for lv in lvs]
    if job.mode == "all":
        return out + combos
    rs = np.random.default_rng(derive_seed(job.seed, image_id, "random-draw"))
    return out + [combos[int(rs.integers(len(combos)))]]


def _image_bytes(arr: np.ndarray, sixteen: bool) -> bytes:
    return png16_bytes(arr) if arr.ndim == 2 and sixteen else png8_bytes(arr)


def _decode8(data: bytes) -> np.ndarray:
    """An 8-bit PNG's pixels as float32 in [0, 1] (what :func:`read_image` gives for the written file)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
    out = arr.astype(np.float32) / 255.0
    return out[..., :3] if out.ndim == 3 and out.shape[2] == 4 else out


def job_description(job: DegradeJob, src: Path, names: list[str], plan: dict[str, list[int]]) -> dict[str, Any]:
    """Everything that determines the outputs (stored in ``.xraylab/job.json``; its hash is the fingerprint)."""
    manifest = src / MANIFEST_NAME
    return {
        "source": str(src.resolve()),
        "source_manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None,
        "seed": job.seed,
        "mode": job.mode,
        "include_clean": job.include_clean,
        "corruptions": {n: plan[n] for n in names},
    }


def fingerprint(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def run_degrade(job: DegradeJob, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Write (or resume) the degraded dataset described by ``job``; return its manifest."""
    src, out = Path(job.dataset), Path(job.out)
    df = read_manifest(src)
    if src.resolve() == out.resolve():
        raise ConfigError(f"--out {out} must differ from the source dataset folder")
    if df.empty:
        raise InputFileError(f"{src}: manifest has no rows")
    df = df.sort_values("image_id", kind="stable").reset_index(drop=True)
    first = read_image(src / df["image"].iloc[0])
    names, plan = resolve_plan(job, first)  # validate before anything is written under OUT
    description = job_description(job, src, names, plan)
    writer = DatasetWriter(out, kind=KIND, fingerprint=fingerprint(description), overwrite=job.overwrite,
                           job=description, inputs=[src])
    mcols = mask_columns(df)
    added_cols = added_columns(names, df)
    order: list[str] = []
    shared_sha: dict[str, str] = {}  # relative path of a copied (unchanged) mask → its SHA-256
    total = len(df)
    for i, row in enumerate(df.to_dict("records")):
        src_img = src / row["image"]
        present = [c for c in mcols if isinstance(row[c], str) and row[c]]
        loaded: dict[str, Any] = {}
        for name, level in _variants(str(row["image_id"]), plan, job):
            new_id = f"{row['image_id']}__{name}_L{level}"
            order.append(new_id)
            rel = f"images/{new_id}.png"
            op = registry.get(name) if name != CLEAN else None
            spatial = op is not None and op.spatial
            mask_rel = {c: f"masks/{new_id}/{c[len(MASK_PREFIX):]}.png" for c in present if spatial}
            added_rel = {c: f"masks/{new_id}/{c[len(MASK_PREFIX):]}.png" for c in added_cols}
            copied = [row[c] for c in present if c not in mask_rel]
            if writer.is_done(new_id, [rel, *mask_rel.values(), *added_rel.values(), *copied]):
                continue
            if not loaded:  # the source image, read once per row and only when something is left to write
                arr = read_image(src_img)  # a file that is no image is bad input (one line, exit 2), checked first
                loaded.update(sixteen=_is_16bit(src_img), arr=arr)
                loaded["tensor"] = _to_tensor(loaded["arr"])
            for p in copied:
                if p not in shared_sha:
                    data = (src / p).read_bytes()
                    shared_sha[p] = hashlib.sha256(data).hexdigest()
                    if not (out / p).is_file():
                        writer.write_file(p, data)
            files: dict[str, bytes] = {}
            drawn = None
            if op is None:
                files[rel] = src_img.read_bytes()
            else:
                masks = None
                if mask_rel:
                    masks = torch.stack([torch.from_numpy(read_mask(src / row[c])) for c in mask_rel], 0)[None]
                    masks = masks.to(torch.uint8)
                g = make_generator(derive_seed(job.seed, row["image_id"], name, level))
                if op.adds:  # draws content and says where
                    img, added = op.apply_with_added(loaded["tensor"], float(level), g)
                    drawn = added[0, 0].cpu().numpy()
                    if masks is not None:
                        masks = op.transform_mask(masks, op.params(float(level)))
                else:
                    img, masks = op.apply_with_mask(loaded["tensor"], masks, float(level), g)
                files[rel] = _image_bytes(_to_array(img), loaded["sixteen"])
                for j, c in enumerate(mask_rel):
                    assert masks is not None  # a spatial corruption returns the re-sampled masks it was given
                    files[mask_rel[c]] = mask_png_bytes(masks[0, j].numpy())
            for c, added_path in added_rel.items():  # what this row's corruption drew, else nothing
                mine = drawn if op is not None and MASK_PREFIX + op.adds == c else None
                files[added_path] = mask_png_bytes(np.zeros(loaded["arr"].shape[:2], bool) if mine is None else mine)
            new = dict(row)
            new.update(image_id=new_id, source_image_id=row["image_id"], image=rel, corruption=name,
                       severity=int(level))
            new[SHA_PREFIX + "image"] = None  # set by write_item (the key keeps its column position)
            for c in mcols:
                if c in mask_rel:
                    new[c] = mask_rel[c]
                new[SHA_PREFIX + c] = shared_sha[row[c]] if c in present and c not in mask_rel else None
            for c in added_cols:
                new[c], new[SHA_PREFIX + c] = added_rel[c], None  # the hash is set by write_item
            new["delta_e2000"] = math.nan
            if loaded["arr"].ndim == 3 and name != CLEAN:
                new["delta_e2000"] = mean_delta_e2000(loaded["tensor"], _to_tensor(_decode8(files[rel])))[0]
            writer.write_item(new_id, files, new)
        if progress:
            progress(i + 1, total)

    first_id = str(df["image_id"].iloc[0])

    def sheet(folder: Path, rows: list[dict]) -> Path | None:
        if not job.contact_sheet:
            return None
        return write_contact_sheet(folder / CONTACT_SHEET, _to_tensor(first), names, plan, job.seed, first_id)

    info = {
        "source": description["source"],
        "seed": job.seed,
        "corruptions": description["corruptions"],
        "mode": job.mode,
        "include_clean": job.include_clean,
        "tables": {n: {k: list(v) for k, v in registry.get(n).table.items()} for n in names},
        "n_rows": len(order),
    }
    manifest = writer.finish(info, order=sorted(order), contact_sheet=sheet)
    return read_manifest(manifest)


def write_contact_sheet(
    path: Path, clean: torch.Tensor, names: list[str], plan: dict[str, list[int]], seed: int, image_id: str = ""
) -> Path:
    """Grid like Ward & Imran Fig. 6/8: one row per corruption, columns clean then each level.

    One seed per row (not per level), so a row shows the same random draws (grid angle,
    colour-shift direction, noise pattern) at growing strength, as in the paper's figures.
    """
    from xraylab.viz import contact_sheet

    ncols = 1 + max(len(v) for v in plan.values())
    images, captions = [], []
    clean_arr = _to_array(clean)
    for n in names:
        images.append(clean_arr)
        captions.append(f"{n}: clean")
        lvs = plan[n]
        for lv in lvs:
            g = make_generator(derive_seed(seed, image_id, n, "sheet"))
            images.append(_to_array(registry.get(n).apply(clean, float(lv), g)))
            captions.append(f"{n}: L{lv}")
        for _ in range(ncols - 1 - len(lvs)):
            images.append(np.zeros_like(clean_arr))
            captions.append("")
    return contact_sheet(path, images, captions=captions, ncols=ncols, title=f"degradations of {image_id}")
