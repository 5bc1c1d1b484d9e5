"""``xraylab degrade`` on a volume dataset: the 13 RAMP operators x 5 severities in 3D.

For every source volume (optionally one split) and every (operator, level) the corrupted CT is written to
``images/<image_id>__<op>_L<level>.nii.gz`` (plus a clean copy, ``corruption = "none"``, level 0, unless
``include_clean`` is false); label maps are never corrupted (RAMP §3.1) and are written once, under their
source path, shared by every corrupted copy. Lengths are converted with the volume's own voxel spacing
(:mod:`xraylab.degrade.ct`). Each row records ``corruption``, ``severity`` (level 1-5; RAMP strength
0.05 x level), ``ramp_strength``, ``source_image_id`` and ``corruption_params`` (JSON: the operator's
parameters at that level, the spacing, and for length parameters their value in voxels). The randomness of
an output comes from ``derive_seed(seed, image_id, op, level)``: independent of order and resumption.
Written by the one :class:`~xraylab.data.writer.DatasetWriter` (``kind="degrade_volume"``), so re-runs resume.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from xraylab.data.volume_dataset import (
    KIND,
    LABEL_COLUMN,
    dataset_info,
    load_volume,
    nifti_bytes,
    read_rows,
    require_volume_dataset,
)
from xraylab.data.writer import DatasetWriter
from xraylab.degrade import registry
from xraylab.degrade.ct import CTCorruption
from xraylab.degrade.rng import make_generator
from xraylab.errors import ConfigError
from xraylab.seeding import derive_seed

CLEAN = "none"


def resolve_ops(corruptions: Sequence[str] | None, levels: Sequence[int] | None) -> dict[str, list[int]]:
    """Operator -> levels; default all 13 CT operators at levels 1-5. Non-CT or unknown names raise."""
    names = list(corruptions) if corruptions else registry.names("ct")
    plan: dict[str, list[int]] = {}
    for n in names:
        op = registry.get(n)
        if not isinstance(op, CTCorruption):
            raise ConfigError(f"corruption '{n}' is not a CT operator; volume datasets take the ct_* operators "
                              "(xraylab degrade --list --modality ct)")
        lv = list(levels) if levels else op.levels
        bad = [v for v in lv if v not in op.levels]
        if bad:
            raise ConfigError(f"--levels {bad} not defined for corruption '{n}' (levels: {op.levels})")
        plan[n] = [int(v) for v in lv]
    return plan


def record_params(op: CTCorruption, level: int, spacing: Sequence[float]) -> dict[str, Any]:
    """The operator's parameters at ``level`` with the spacing and mm lengths expressed in voxels."""
    p: dict[str, Any] = dict(op.params(level))
    p["spacing_mm"] = [float(s) for s in spacing]
    for k, v in list(p.items()):
        if k.endswith("_mm") and k != "spacing_mm":
            p[k[:-3] + "_vox"] = [float(v) / s for s in spacing]
    return p


def degrade_volumes(dataset: str | Path, out: str | Path, corruptions: Sequence[str] | None = None,
                    levels: Sequence[int] | None = None, seed: int = 0, include_clean: bool = True,
                    split: str | None = None, overwrite: bool = False,
                    log: Callable[[str], None] | None = None) -> Path:
    """Write the degraded volume dataset; return its manifest path."""
    src, out = Path(dataset), Path(out)
    info = require_volume_dataset(src)
    if src.resolve() == out.resolve():
        raise ConfigError(f"--out {out} must differ from the source dataset folder")
    plan = resolve_ops(corruptions, levels)
    rows = read_rows(src, split)
    if not rows:
        raise ConfigError(f"{src}: no volumes{' in split ' + split if split else ''} to degrade")
    man = (src / "manifest.parquet").read_bytes()
    desc = {"source": str(src.resolve()), "source_manifest_sha256": hashlib.sha256(man).hexdigest(), "seed": seed,
            "include_clean": include_clean, "split": split, "corruptions": plan}
    fp = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()
    writer = DatasetWriter(out, kind="degrade_volume", fingerprint=fp, overwrite=overwrite, job=desc,
                           inputs=[src])
    order: list[str] = []
    written_labels: set[str] = set()
    for row in rows:
        variants = ([(CLEAN, 0)] if include_clean else []) + [(n, lv) for n, lvs in plan.items() for lv in lvs]
        vol = None
        for name, level in variants:
            new_id = f"{row['image_id']}__{name}_L{level}"
            order.append(new_id)
            rel = f"images/{new_id}.nii.gz"
            lab_rel = str(row.get(LABEL_COLUMN) or "")
            if writer.is_done(new_id, [rel] + ([lab_rel] if lab_rel else [])):
                continue
            if vol is None:
                vol = load_volume(src, row)
                if log:
                    log(f"  degrade {row['image_id']}: {len(variants)} volumes")
            files: dict[str, bytes] = {}
            if lab_rel and lab_rel not in written_labels and not (out / lab_rel).is_file():
                writer.write_file(lab_rel, (src / lab_rel).read_bytes())
            written_labels.add(lab_rel)
            params: dict[str, Any] = {"spacing_mm": list(vol.spacing)}
            if name == CLEAN:
                img = vol.image.numpy()
            else:
                op = registry.get(name)
                assert isinstance(op, CTCorruption)
                g = make_generator(derive_seed(seed, row["image_id"], name, level))
                img = op.apply(vol.image[None, None], float(level), g, spacing_mm=vol.spacing)[0, 0].numpy()
                params = record_params(op, level, vol.spacing)
            files[rel] = nifti_bytes(np.asarray(img), vol.affine, unit=True)
            new = dict(row)
            new.update(image_id=new_id, source_image_id=row["image_id"], image=rel, corruption=name,
                       severity=int(level), ramp_strength=0.05 * level, corruption_params=json.dumps(params))
            writer.write_item(new_id, files, new)
    src_info = dataset_info(src)
    keep = ("classes", "voxel_mm", "hu_window", "orientation", "intensity")
    meta: dict[str, Any] = {k: src_info[k] for k in keep if k in src_info}
    meta.update(kind=KIND, stage="degrade", source=desc["source"], seed=seed, corruptions=plan,
                include_clean=include_clean, split=split,
                tables={n: {k: list(v) for k, v in registry.get(n).table.items()} for n in plan})
    meta["classes"] = info["classes"]
    return writer.finish(meta, order=sorted(order))
