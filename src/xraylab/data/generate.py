"""``xraylab generate``: a synthetic dataset from a spec — plan, render (resumably, sharded), manifest.

Output folder::

    images/<image_id>.png              16-bit radiograph in [0, 1], output.size pixels
    masks/<structure>/<image_id>.png   binary masks on the same grid ({0, 255})
    layers/<image_id>.npz              optional float32 physical layers (output.layers: true)
    manifest.parquet                   one row per image: ids, split, every geometry.* and physics.* parameter,
                                       angle_deg, angle_group, subset:<name>, file paths and sha256:<column>
    dataset.json                       resolved spec, seed, package versions, counts, splits
    contact_sheet.png                  a grid of images with mask outlines
    .xraylab/                          resume state: job fingerprint and one record per complete item

Determinism: an item's noise comes from a generator seeded by ``(seed, image_id)``, random sweep values from
``(seed, subject, point, sample)``, the split from the split seed, and no file holds a time stamp, so the same
spec and seed give byte-identical files on the same machine, whatever the executor, worker count or sharding.

Resumability: the folder, its state and every write go through :class:`xraylab.data.writer.DatasetWriter` (its
docstring is the protocol): every file is written under a temporary name and renamed; an item's record is written
last, and the manifest is rebuilt from records only, so it never lists an incomplete item. Re-running the same
command skips complete items, removes stale temporaries and finishes the job. ``overwrite=True`` starts afresh.

Sharding: ``shard=(i, n)`` renders the i-th of n contiguous, CT-grouped slices of the plan (0 ≤ i < n) into
the same output folder and writes ``manifest.shard-<i>-of-<n>.parquet``; ``merge`` checks that every item is
complete and writes the final manifest, dataset.json and contact sheet (identical to an unsharded run).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from xraylab.data import executors
from xraylab.data.angles import angle_group
from xraylab.data.sources import CTRef, check_structures, label_source, resolve_cts
from xraylab.data.spec import GenerateSpec, load_spec
from xraylab.data.splits import assign_splits
from xraylab.data.sweep import Resolver, check_parameter_names, expand_variants, geometry_columns, physics_columns
from xraylab.data.worker import is_complete
from xraylab.data.writer import DatasetWriter
from xraylab.errors import ConfigError
from xraylab.io.preprocess import output_pixel_spacing
from xraylab.overrides import Override
from xraylab.seeding import stable_int

CONTACT_SHEET = "contact_sheet.png"
KIND = "generate"


@dataclass
class Plan:
    """Everything decided before rendering: CTs, items (manifest rows without hashes), splits."""

    spec: GenerateSpec
    source: str
    refs: list[CTRef]
    structures: list[str]
    missing: dict[str, list[str]]
    splits: dict[str, str]
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        spec = self.spec.model_dump(mode="json")
        spec["render"].pop("device", None)  # where it runs is not what it makes
        blob = json.dumps({"spec": spec, "items": [i["image_id"] for i in self.items]}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class GenerateResult:
    out: Path
    n_items: int
    n_rendered: int
    n_skipped: int
    complete: bool
    seconds: float
    shard: tuple[int, int] | None = None


def item_seed(seed: int, image_id: str) -> int:
    """The noise seed of one item, from the spec seed and the item's id."""
    return stable_int("noise", seed, image_id)


def _in_range(value: Any, lo: float, hi: float) -> bool:
    try:
        return value is not None and lo <= float(value) <= hi
    except (TypeError, ValueError):
        return False


def plan_dataset(spec: GenerateSpec, spec_dir: Path, source: str, device: str | None = None) -> Plan:
    """Validate everything and list the items; raises ``ConfigError`` before any work on bad input."""
    from xraylab.data.anatomy import AnatomyParams
    from xraylab.io.structures import convention_structure, expand_structure_list

    if device:
        spec = spec.model_copy(update={"render": spec.render.model_copy(update={"device": device})})
    check_parameter_names(spec, source)
    structures = expand_structure_list(spec.structures)
    refs = resolve_cts(spec, spec_dir, source)
    # lungs/left_lung/right_lung are drawn in the spec's lung convention (io.structures.LUNG_CONVENTIONS) and keep
    # their names, so they pair with real masks of the same convention.
    drawn = {s: convention_structure(s, spec.lung_convention) for s in structures}
    named = {d: s for s, d in drawn.items()}
    missing = {sid: [named[d] for d in gone] for sid, gone in
               check_structures(refs, list(drawn.values()), spec.on_missing_structure, source).items()}
    framing = spec.output.framing
    lacking = [sid for sid, gone in missing.items() if framing is not None and framing.structure in gone]
    if framing is not None and lacking:
        raise ConfigError(f"{source}: output.framing.structure {framing.structure!r} is missing from the label "
                          f"map of {', '.join(lacking)}; frame on a structure every CT has, or drop those CTs")
    fixed_unknown = [s for s in spec.split.subjects if s not in {r.subject_id for r in refs}]
    if fixed_unknown:
        raise ConfigError(f"{source}: split.subjects: unknown subject(s) {', '.join(fixed_unknown)}")
    split_seed = spec.seed if spec.split.seed is None else spec.split.seed
    fractions = {"train": spec.split.train, "val": spec.split.val, "test": spec.split.test}
    # Pseudo-subjects (<id>~p<k>) always share their source CT's split: split the real subjects, then map.
    sources = {r.subject_id: r.source_id or r.subject_id for r in refs}
    fixed = {sources[k]: v for k, v in spec.split.subjects.items()}
    by_source = assign_splits(sorted(set(sources.values())), fractions, split_seed, fixed)
    splits = {sid: by_source[src] for sid, src in sources.items()}
    resolver = Resolver(spec, source)
    swept = spec.sweep.parameter_names()
    plan = Plan(spec, source, refs, structures, missing, splits)
    with_anatomy = any(r.anatomy is not None for r in refs)
    with_silhouettes = any(r.silhouette is not None for r in refs)
    for ref in refs:
        present = [s for s in structures if s not in missing.get(ref.subject_id, [])]
        labels_from = label_source(ref, present)
        variants = expand_variants(spec.sweep, spec.seed, ref.subject_id)
        width = max(4, len(str(len(variants) - 1)))
        for v in variants:
            image_id = f"{ref.subject_id}_{v.index:0{width}d}"
            geom = resolver.geometry(v.params)
            phys = resolver.physics(v.params)
            row: dict[str, Any] = {
                "image_id": image_id,
                "subject_id": ref.subject_id,
                "source_subject_id": sources[ref.subject_id],
                "pseudo_subject": ref.pseudo_seed is not None,
                "split": splits[ref.subject_id],
                "image": f"images/{image_id}.png",
            }
            for s in structures:
                row[f"mask:{s}"] = f"masks/{s}/{image_id}.png" if s in present else None
            for kind in spec.devices.kinds if spec.devices else ():  # a device's mask: empty where it is absent
                row[f"mask:{kind}"] = f"masks/{kind}/{image_id}.png"
            if spec.output.layers:
                row["layers"] = f"layers/{image_id}.npz"
            row["angle_deg"] = float(geom.rotation_deg)
            row["angle_group"] = angle_group(geom.rotation_deg)
            row["variant"] = v.index
            row["sweep_point"] = v.point
            row["sample"] = v.sample
            row["sweep_factor"] = v.factor
            for name in swept:
                row[f"sweep:{name}"] = json.dumps(v.params.get(name)) if name in v.params else None
            row["seed"] = item_seed(spec.seed, image_id)
            row["ct_source"] = ref.source
            row["label_source"] = labels_from
            if with_anatomy:  # the anatomy parameters of every subject (identity for unvaried CTs)
                row.update({f"anatomy:{k}": v for k, v in (ref.anatomy or AnatomyParams().as_dict()).items()})
            if with_silhouettes:  # the real image whose lung and heart masks a subject was matched to
                row["silhouette_image"] = ref.silhouette["image_id"] if ref.silhouette else None
            row["ct_downsample"] = ref.downsample
            row["preset"] = spec.preset
            row["renderer"] = spec.render.renderer
            row["n_points"] = spec.render.n_points
            row["height"], row["width"] = spec.output.hw
            # output pixel size at the detector plane, then at the isocenter
            row["pixel_spacing_mm"] = output_pixel_spacing(geom.pitch_mm, (geom.rows, geom.cols), spec.output.hw)
            row["pixel_spacing_iso_mm"] = row["pixel_spacing_mm"] / geom.magnification
            row.update(geometry_columns(geom))
            row.update(physics_columns(phys))
            plan.items.append({
                "image_id": image_id,
                "subject_id": ref.subject_id,
                "ct": ref.to_dict(),
                "structures": present,
                "drawn_as": {s: drawn[s] for s in present if drawn[s] != s},
                "geometry": geom.model_dump(mode="json"),
                "physics": phys.model_dump(mode="json"),
                "seed": row["seed"],
                "row": row,
            })
    # Subsets: boolean columns from ranges over manifest columns (e.g. center: {angle_deg: [-2, 2]}).
    for name, conds in spec.subsets.items():
        for col in conds:
            if plan.items and col not in plan.items[0]["row"]:
                raise ConfigError(f"{source}: subsets.{name}.{col}: unknown manifest column; use e.g. angle_deg or "
                                  "geometry.rotation_deg")
        for it in plan.items:
            it["row"][f"subset:{name}"] = all(_in_range(it["row"].get(c), lo, hi) for c, (lo, hi) in conds.items())
    if not plan.items:
        raise ConfigError(f"{source}: the spec produces no images (empty sweep or no CTs)")
    return plan


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` → (i, n) with 0 ≤ i < n."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: use i/n, e.g. 0/4 (shards are numbered 0 … n−1)") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text!r}: need 0 ≤ i < n (shards are numbered 0 … n−1)")
    return i, n


def shard_items(items: list[dict], shard: tuple[int, int] | None) -> list[dict]:
    """The contiguous slice of the (CT-grouped) plan that shard ``(i, n)`` renders."""
    if shard is None:
        return list(items)
    i, n = shard
    lo, hi = math.floor(len(items) * i / n), math.floor(len(items) * (i + 1) / n)
    return items[lo:hi]


# --------------------------------------------------------------------------- output folder state
def open_writer(out: Path, plan: Plan, overwrite: bool = False, shard: tuple[int, int] | None = None) -> DatasetWriter:
    """The dataset writer of ``out`` for ``plan`` (checks ownership and fingerprint; see :mod:`xraylab.data.writer`)."""
    if overwrite and shard is not None and out.exists():
        raise ConfigError(f"{out}: --overwrite cannot be combined with --shard (it would delete other shards' "
                          "work); delete the folder once before starting the shards")
    # Shards write into one folder at the same time: only an unsharded run may clean the folder's temporaries.
    return DatasetWriter(out, kind=KIND, fingerprint=plan.fingerprint, overwrite=overwrite,
                         job={"name": plan.spec.name}, clean_temporaries=shard is None,
                         inputs=[p for r in plan.refs for p in (r.path, r.labels) if p])


def _ids(items: Sequence[dict]) -> list[str]:
    """Item ids in manifest order (sorted by image id)."""
    return sorted(it["image_id"] for it in items)


def _counts(rows: list[dict]) -> dict[str, Any]:
    from collections import Counter

    return {
        "images": len(rows),
        "subjects": len({r["subject_id"] for r in rows}),
        "per_split": dict(sorted(Counter(r["split"] for r in rows).items())),
        "per_angle_group": dict(sorted(Counter(r["angle_group"] for r in rows).items())),
        "per_subset": {k[len("subset:"):]: sum(bool(r[k]) for r in rows) for k in (rows[0] if rows else {})
                       if k.startswith("subset:")},
    }


def _dataset_info(plan: Plan, spec_file: str | None) -> dict[str, Any]:
    """dataset.json without counts and versions (the writer adds them)."""
    from xraylab.data.manifest import MANIFEST_NAME
    from xraylab.io.structures import describe_structure

    spec = plan.spec.model_dump(mode="json")
    spec["render"].pop("device", None)
    return {
        "name": plan.spec.name,
        "description": plan.spec.description,
        "kind": "synthetic_xray",
        "spec": spec,
        "spec_file": Path(spec_file).name if spec_file else None,
        "seed": plan.spec.seed,
        "split_seed": plan.spec.seed if plan.spec.split.seed is None else plan.spec.split.seed,
        "splits": plan.splits,
        "subjects": {r.subject_id: r.source for r in plan.refs},
        "structures": plan.structures,
        "structure_definitions": {s: describe_structure(s, plan.spec.lung_convention) for s in plan.structures},
        "lung_convention": plan.spec.lung_convention,
        "missing_structures": plan.missing,
        "swept_parameters": plan.spec.sweep.parameter_names(),
        "layout": {"images": "images/<image_id>.png (16-bit, [0, 1])",
                   "masks": "masks/<structure>/<image_id>.png ({0, 255})",
                   "layers": "layers/<image_id>.npz (float32)" if plan.spec.output.layers else None,
                   "manifest": MANIFEST_NAME},
    }


# A tile title is two short lines — the subject (and rotation), then at most one other swept value and how many
# more there are — so the titles of random sweeps over many parameters do not run into their neighbours.
def _caption(row: dict, swept: list[str]) -> str:
    from xraylab.viz import short_caption

    shown = [n for n in swept if row.get(f"sweep:{n}") is not None]
    first = short_caption(row["subject_id"], 16)
    if "geometry.rotation_deg" in shown:
        shown.remove("geometry.rotation_deg")
        first += f" α={json.loads(row['sweep:geometry.rotation_deg']):g}°"
    if not shown:
        return first
    val = json.loads(row[f"sweep:{shown[0]}"])
    text = f"{val:.3g}" if isinstance(val, float) else str(val)
    second = short_caption(f"{shown[0].split('.')[-1]}={text}", 18)
    return first + "\n" + second + (f" (+{len(shown) - 1})" if len(shown) > 1 else "")


def write_contact_sheet(out: Path, rows: list[dict], plan: Plan) -> Path | None:
    """``contact_sheet.png``: up to ``output.contact_sheet`` images (evenly spread) with mask outlines (structures,
    then the device kinds of the spec's ``devices``)."""
    n_max = plan.spec.output.contact_sheet
    if n_max == 0 or not rows:
        return None
    from xraylab.io.images import read_image, read_mask
    from xraylab.viz import contact_sheet

    rows = sorted(rows, key=lambda r: r["image_id"])
    if len(rows) > n_max:
        idx = sorted({round(i * (len(rows) - 1) / (n_max - 1)) for i in range(n_max)}) if n_max > 1 else [0]
        rows = [rows[i] for i in idx]
    drawn = list(plan.structures) + (plan.spec.devices.kinds if plan.spec.devices else [])
    images, masks = [], []
    for r in rows:
        images.append(read_image(out / r["image"]))
        masks.append([read_mask(out / r[f"mask:{s}"]) if r.get(f"mask:{s}") else images[-1] * 0 > 1
                      for s in drawn])
    swept = plan.spec.sweep.parameter_names()
    return contact_sheet(out / CONTACT_SHEET, images, masks, captions=[_caption(r, swept) for r in rows],
                         ncols=min(7, math.ceil(math.sqrt(len(rows) * 1.8))), title=plan.spec.name,
                         legend=drawn or None)


def finalize(writer: DatasetWriter, plan: Plan, spec_file: str | None) -> None:
    """Write manifest.parquet, contact_sheet.png and dataset.json of a complete dataset; drop shard manifests."""
    writer.finish(_dataset_info(plan, spec_file), order=_ids(plan.items), counts=_counts,
                  contact_sheet=lambda out, rows: write_contact_sheet(out, rows, plan))
    for p in writer.out.glob("manifest.shard-*-of-*.parquet"):
        p.unlink()


# --------------------------------------------------------------------------- entry points
def generate(
    spec_path: str | os.PathLike,
    out: str | os.PathLike,
    sets: Sequence[Override] = (),
    overwrite: bool = False,
    shard: str | tuple[int, int] | None = None,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    device: str | None = None,
    progress: bool = True,
) -> GenerateResult:
    """Generate (or resume) the dataset of ``spec_path`` into ``out``. See the module docstring."""
    t0 = time.perf_counter()
    spec, spec_dir = load_spec(spec_path, list(sets))
    plan = plan_dataset(spec, spec_dir, str(spec_path), device=device)
    shard_t = parse_shard(shard) if isinstance(shard, (str, type(None))) else shard
    if executor not in ("local", "ray"):
        raise ConfigError(f"--executor {executor!r}: choose local or ray")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers {workers}: need at least 1")
    out = Path(out)
    writer = open_writer(out, plan, overwrite, shard_t)
    mine = shard_items(plan.items, shard_t)
    pending = [it for it in mine if not is_complete(writer, it)]
    n_workers = workers or executors.available_cpus()

    context = {
        "out": str(out.resolve()),
        "render": plan.spec.render.model_dump(mode="json"),
        "output": {**plan.spec.output.model_dump(mode="json"), "size": list(plan.spec.output.hw)},
        "on_missing_structure": plan.spec.on_missing_structure,
        "devices": plan.spec.devices.model_dump(mode="json") if plan.spec.devices else None,
        # Cores per worker for the compiled ray march (Ray tasks get one CPU each).
        "march_threads": 1 if executor == "ray" else max(1, executors.available_cpus() // n_workers),
    }
    bar = None
    if progress and pending:
        from tqdm.auto import tqdm

        label = plan.spec.name + (f" shard {shard_t[0]}/{shard_t[1]}" if shard_t else "")
        bar = tqdm(total=len(pending), unit="img", desc=label, dynamic_ncols=True, smoothing=0.1)
    pending_ids = {it["image_id"] for it in pending}
    all_ids = _ids(plan.items)
    state = {"done": 0, "manifest_at": time.monotonic()}

    def poll() -> None:
        done = len(pending_ids & writer.done_ids())
        if bar is not None and done > state["done"]:
            bar.update(done - state["done"])
        state["done"] = max(state["done"], done)
        if shard_t is None and time.monotonic() - state["manifest_at"] > 20.0:
            writer.write_manifest(all_ids)  # a partial manifest of the complete items
            state["manifest_at"] = time.monotonic()

    try:
        if pending:
            chunks = executors.make_chunks(pending, n_workers)
            if executor == "ray":
                executors.run_ray(context, pending, poll, address=ray_address, num_cpus=workers,
                                  gpu=plan.spec.render.device.startswith("cuda"))
            elif n_workers == 1 or len(chunks) == 1 and len(pending) == 1:
                executors.run_inline(context, chunks, lambda _row: poll())
            else:
                executors.run_pool(context, chunks, n_workers, poll)
            poll()
    finally:
        if bar is not None:
            bar.close()
        if shard_t is None:
            writer.write_manifest(all_ids)

    complete = all(is_complete(writer, it) for it in plan.items)
    if shard_t is not None:
        writer.write_manifest(_ids(mine), name=f"manifest.shard-{shard_t[0]}-of-{shard_t[1]}.parquet")
    elif complete:
        finalize(writer, plan, str(spec_path))
    return GenerateResult(out=out, n_items=len(mine), n_rendered=len(pending), n_skipped=len(mine) - len(pending),
                          complete=complete, seconds=time.perf_counter() - t0, shard=shard_t)


def merge(spec_path: str | os.PathLike, out: str | os.PathLike, sets: Sequence[Override] = ()) -> GenerateResult:
    """Combine the shards rendered into ``out``: check completeness, write the final manifest and metadata."""
    t0 = time.perf_counter()
    spec, spec_dir = load_spec(spec_path, list(sets))
    plan = plan_dataset(spec, spec_dir, str(spec_path))
    out = Path(out)
    try:
        writer = DatasetWriter.open(out)
    except ConfigError:
        raise ConfigError(f"{out}: no generate state here; run the shards (xraylab generate SPEC --out {out} "
                          "--shard i/n) first") from None
    if writer.kind != KIND or writer.fingerprint != plan.fingerprint:
        raise ConfigError(f"{out}: the shards were made from a different spec or seed than {spec_path}")
    missing = [it for it in plan.items if not is_complete(writer, it)]
    if missing:
        shard_files = sorted(p.name for p in out.glob("manifest.shard-*-of-*.parquet"))
        raise ConfigError(f"{out}: {len(missing)} of {len(plan.items)} items are not complete (first: "
                          f"{missing[0]['image_id']}; shard manifests present: {', '.join(shard_files) or 'none'}); "
                          "re-run the unfinished shards, then merge")
    writer.remove_stale_temporaries()
    finalize(writer, plan, str(spec_path))
    return GenerateResult(out=out, n_items=len(plan.items), n_rendered=0, n_skipped=len(plan.items), complete=True,
                          seconds=time.perf_counter() - t0)
