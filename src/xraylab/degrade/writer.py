"""Write a degraded copy of a dataset (``xraylab degrade``).

For every source row and every planned (corruption, level) — all combinations
(``mode="all"``) or one random draw per image (``mode="random"``) — the corrupted
image is written to ``images/<image_id>__<corruption>_L<level>.png``, plus a clean copy
(``corruption="none"``, severity 0) unless ``include_clean`` is false. The output
manifest keeps every input column and adds ``corruption``, ``severity`` (int level),
``source_image_id``, ``sha256:image``, ``sha256:<mask column>`` and ``delta_e2000`` (mean CIEDE2000 of RGB outputs
against their source; NaN for grayscale images and for the clean copies) — the labels of the corruption-severity and
corruption-type prediction tasks (Ward & Imran, Table 1).

Masks are copied unchanged (same relative path) for intensity corruptions and re-sampled
(nearest neighbour, ``masks/<new image_id>/<structure>.png``) for spatial ones. Every
file is written atomically; outputs already present are kept, so an interrupted run
resumes where it stopped. Each output's randomness comes from a seed derived from
(seed, image_id, corruption, level), so results do not depend on order or resumption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from xraylab.data.manifest import (
    MASK_PREFIX,
    SHA_PREFIX,
    mask_columns,
    read_dataset_json,
    read_manifest,
    write_dataset_json,
    write_manifest,
)
from xraylab.degrade import registry
from xraylab.degrade.color import mean_delta_e2000
from xraylab.degrade.rng import derive_seed, make_generator
from xraylab.errors import ConfigError, InputFileError
from xraylab.io.atomic import remove_stale_temporaries, write_bytes
from xraylab.io.images import read_image, read_mask, sha256_file, write_mask_png, write_png8, write_png16

CLEAN = "none"


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
        names = registry.names(modality)
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


def _write_image(path: Path, arr: np.ndarray, sixteen: bool) -> None:
    if arr.ndim == 2 and sixteen:
        write_png16(path, arr)
    else:
        write_png8(path, arr)


def run_degrade(job: DegradeJob, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Write the degraded dataset described by ``job``; return its manifest."""
    src, out = Path(job.dataset), Path(job.out)
    df = read_manifest(src)
    if src.resolve() == out.resolve():
        raise ConfigError(f"--out {out} must differ from the source dataset folder")
    if df.empty:
        raise InputFileError(f"{src}: manifest has no rows")
    df = df.sort_values("image_id", kind="stable").reset_index(drop=True)
    first = read_image(src / df["image"].iloc[0])
    names, plan = resolve_plan(job, first)  # validate before anything is written under OUT
    previous = read_dataset_json(out) if out.is_dir() else {}
    if out.is_dir() and any(out.iterdir()) and not previous:
        raise ConfigError(f"{out}: output folder exists, is not empty and is not a degraded dataset; "
                          "choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    if previous and (previous.get("stage") != "degrade" or previous.get("seed") != job.seed
                     or previous.get("source") != str(src.resolve())):
        raise ConfigError(
            f"{out} already holds a dataset made from {previous.get('source')} with seed {previous.get('seed')}; "
            "resuming with a different source or seed would mix outputs - choose a new --out folder"
        )
    job_info = {"stage": "degrade", "source": str(src.resolve()), "seed": job.seed, "complete": False}
    if not previous:
        write_dataset_json(out, job_info)
    mcols = mask_columns(df)
    rows: list[dict[str, Any]] = []
    copied: set[str] = set()
    total = len(df)
    for i, row in enumerate(df.to_dict("records")):
        src_img = src / row["image"]
        sixteen = _is_16bit(src_img)
        clean_arr = read_image(src_img)
        clean = _to_tensor(clean_arr)
        for name, level in _variants(str(row["image_id"]), plan, job):
            new_id = f"{row['image_id']}__{name}_L{level}"
            rel = f"images/{new_id}.png"
            dst = out / rel
            op = registry.get(name) if name != CLEAN else None
            spatial = op is not None and op.spatial
            present = [c for c in mcols if isinstance(row[c], str) and row[c]]
            mask_rel = {c: f"masks/{new_id}/{c[len(MASK_PREFIX):]}.png" for c in present if spatial}
            todo = not dst.is_file() or any(not (out / p).is_file() for p in mask_rel.values())
            if todo:
                g = make_generator(derive_seed(job.seed, row["image_id"], name, level))
                if op is None:
                    write_bytes(dst, src_img.read_bytes())
                else:
                    masks = None
                    if mask_rel:
                        masks = torch.stack(
                            [torch.from_numpy(read_mask(src / row[c])) for c in mask_rel], 0
                        )[None].to(torch.uint8)
                    img, masks = op.apply_with_mask(clean, masks, float(level), g)
                    for j, c in enumerate(mask_rel):
                        write_mask_png(out / mask_rel[c], masks[0, j].numpy())
                    _write_image(dst, _to_array(img), sixteen)
            new = dict(row)
            new.update(image_id=new_id, source_image_id=row["image_id"], image=rel, corruption=name, severity=int(level))
            new[SHA_PREFIX + "image"] = sha256_file(dst)
            for c in mcols:
                if c in mask_rel:
                    new[c] = mask_rel[c]
                elif c in present and row[c] not in copied:
                    if not (out / row[c]).is_file():
                        write_bytes(out / row[c], (src / row[c]).read_bytes())
                    copied.add(row[c])
                new[SHA_PREFIX + c] = sha256_file(out / new[c]) if c in present else None
            new["delta_e2000"] = math.nan
            if clean_arr.ndim == 3 and name != CLEAN:
                written = _to_tensor(read_image(dst))
                new["delta_e2000"] = mean_delta_e2000(clean, written)[0]
            rows.append(new)
        if progress:
            progress(i + 1, total)
    result = pd.DataFrame(rows)
    write_manifest(out, result)
    if job.contact_sheet:
        write_contact_sheet(out / "contact_sheet.png", _to_tensor(first), names, plan, job.seed, str(df["image_id"].iloc[0]))
    from xraylab.versions import package_versions

    # written last: "complete": true only once the manifest and the contact sheet exist
    write_dataset_json(
        out,
        {
            **job_info,
            "complete": True,
            "corruptions": {n: plan[n] for n in names},
            "mode": job.mode,
            "include_clean": job.include_clean,
            "tables": {n: {k: list(v) for k, v in registry.get(n).table.items()} for n in names},
            "n_rows": len(result),
            "versions": package_versions(),
        },
    )
    return result


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
