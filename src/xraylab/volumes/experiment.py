"""The RAMP CT study end to end from one spec (``simulations/ramp_ct_cpu.yaml``, ``ramp_ct_gpu.yaml``).

    python -m xraylab.volumes.experiment simulations/ramp_ct_cpu.yaml [--workdir DIR] [--device cpu]

Steps (each resumes: the import and degrade datasets through the dataset writer, training runs through
their ``result.json``, scores through ``eval/<model>.csv``):

1. ``import``: the cases of a data manifest -> a volume dataset (:mod:`xraylab.data.volume_import`), with
   pseudo-subjects where subjects run short;
2. ``train``: one 3D model per strategy and per leave-one-corruption-out operator (:mod:`~xraylab.volumes.train`);
3. ``degrade``: the test split x 13 operators x levels (:mod:`~xraylab.data.volume_degrade`);
4. ``evaluate``: every strategy model on every clean and corrupted test volume, each LOCO model on its held-out
   operator; ``results/``: ``ramp_table.csv`` (Table 5), ``corruption_table.csv`` (Tables 7-8),
   ``organ_table.csv`` (Table 10, reference model), ``loco_table.csv`` (Table 12), ``per_class.csv`` and
   ``summary.md`` (with the sizes used).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from xraylab.errors import ConfigError, XRayLabError
from xraylab.specs import read_yaml_mapping, validate_spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PseudoSpec(_Strict):
    n: int = Field(0, ge=0, description="pseudo-subjects of this case (smooth deformations)")
    val: int = Field(0, ge=0, description="of them, how many go to val (only for a train case; flagged)")


class ImportSpec(_Strict):
    manifest: str = Field(description="data manifest (data_manifests/*.yaml), relative to the spec file")
    cases: list[str] | None = Field(None, description="case ids to use (null = all with labels)")
    classes: list[str] = Field(min_length=1, description="output classes, e.g. [liver, spleen, kidney]")
    voxel_mm: float = Field(1.5, gt=0, description="isotropic voxel size after resampling, mm")
    hu_window: tuple[float, float] = (-250.0, 350.0)
    seed: int = 42
    pseudo_subjects: dict[str, PseudoSpec] = Field(default_factory=dict)
    splits: dict[str, list[str]] | None = Field(None, description="override the manifest's splits")
    random_split: dict[str, float] | None = Field(
        None, description="subject-level random split with import.seed, e.g. {train: 0.7, val: 0.15, test: 0.15} "
                          "(RAMP §3.5: 70/15/15, seed 42); replaces the manifest's splits")


class DegradeSpec(_Strict):
    corruptions: list[str] | None = None
    levels: list[int] | None = None
    seed: int = 0
    split: str = "test"


class ExperimentSpec(_Strict):
    name: str
    description: str = ""
    workdir: str = Field(description="output folder, relative to the spec file")
    import_: ImportSpec = Field(alias="import")
    train: dict[str, Any] = Field(description="fields shared by every 3D training spec (xraylab.volumes.spec)")
    strategies: dict[str, dict[str, Any]] = Field(min_length=1, description="model name -> augmentation")
    loco: dict[str, dict[str, Any]] = Field(default_factory=dict, description="held-out operator -> augmentation")
    degrade: DegradeSpec = Field(default_factory=DegradeSpec)
    seeds: list[int] = Field(default_factory=list, description="extra training seeds (besides train.seed) for the "
                             "strategies named in `seeded`: model `<strategy>_s<seed>`; tables give mean ± SD")
    seeded: list[str] = Field(default_factory=list, description="strategies trained with every extra seed "
                              "(the headline rows, e.g. [none, ramp])")
    reference: str = Field("ramp", description="model whose organ table and LOCO comparison are reported")
    hd95: str = Field("all", description="HD95 on all rows, only the clean ones (CPU-sized runs) or none")
    device: str = "auto"


def load_experiment(path: str | Path) -> tuple[ExperimentSpec, Path]:
    path = Path(path)
    spec = validate_spec(ExperimentSpec, read_yaml_mapping(path, "RAMP experiment"), str(path), "RAMP experiment")
    unknown = sorted(set(spec.seeded) - set(spec.strategies))
    if unknown:
        raise ConfigError(f"{path}: seeded {unknown} are not strategies of the spec ({', '.join(spec.strategies)})")
    return spec, path.parent


def run_experiment(path: str | Path, workdir: str | Path | None = None, device: str | None = None,
                   log: Callable[[str], None] = print) -> Path:
    """Run (or resume) the whole study; return ``results/summary.md``."""
    from xraylab.data.volume_degrade import degrade_volumes
    from xraylab.data.volume_import import VolumeImport, cases_from_manifest, import_volumes
    from xraylab.volumes.evaluate import corruption_table, loco_table, markdown, organ_table, ramp_table, score_model
    from xraylab.volumes.spec import parse_volume_spec
    from xraylab.volumes.train import fit_volume

    spec, base = load_experiment(path)
    wd = Path(workdir) if workdir is not None else base / spec.workdir
    dev = device or spec.device
    t0 = time.time()
    timings: dict[str, float] = {}
    # 1. import
    imp = spec.import_
    cases = cases_from_manifest(base / imp.manifest)
    if imp.cases is not None:
        missing = sorted(set(imp.cases) - {c.id for c in cases})
        if missing:
            raise ConfigError(f"{path}: import.cases {missing} are not in {imp.manifest}")
        cases = [c for c in cases if c.id in imp.cases]
    if imp.random_split:
        assign_random_split(cases, imp.random_split, imp.seed)
    if imp.splits:
        for split, ids in imp.splits.items():
            for c in cases:
                if c.id in ids:
                    c.split = split
    for cid, ps in imp.pseudo_subjects.items():
        for c in cases:
            if c.id == cid:
                c.pseudo_subjects, c.pseudo_val = ps.n, ps.val
    vols = wd / "volumes"
    log(f"[import] {len(cases)} CTs -> {vols}")
    window = (float(imp.hu_window[0]), float(imp.hu_window[1]))
    import_volumes(VolumeImport(cases, list(imp.classes), imp.voxel_mm, window, imp.seed), vols, log=log)
    timings["import_s"] = time.time() - t0
    # 2. train
    runs: dict[str, Path] = {}
    jobs: list[tuple[str, dict[str, Any], int | None]] = [(n, a, None) for n, a in spec.strategies.items()]
    jobs += [(f"loco_{op}", a, None) for op, a in spec.loco.items()]
    jobs += [(f"{n}_s{seed}", spec.strategies[n], seed) for n in spec.seeded for seed in spec.seeds]
    for name, aug, seed in jobs:
        t = time.time()
        raw = {**spec.train, "name": name, "task": "segmentation_3d", "data": str(vols), "augmentation": aug}
        if seed is not None:
            raw["seed"] = seed
        if dev:
            raw["device"] = dev
        r = fit_volume(parse_volume_spec(raw, f"{path}: {name}"), wd / "train" / name, log=log)
        runs[name] = r.run_dir
        timings[f"train_{name}_s"] = round(r.seconds, 1)
        log(f"[train] {name}: best val Dice {r.best_val_dice:.3f} at epoch {r.best_epoch} ({time.time() - t:.0f} s)")
    # 3. degrade
    t = time.time()
    deg = wd / "test_degraded"
    d = spec.degrade
    degrade_volumes(vols, deg, d.corruptions, d.levels, d.seed, True, d.split, log=log)
    timings["degrade_s"] = time.time() - t
    # 4. evaluate
    t = time.time()
    (wd / "eval").mkdir(parents=True, exist_ok=True)
    frames = []
    for name, run in runs.items():
        csv = wd / "eval" / f"{name}.csv"
        if csv.is_file() and csv.stat().st_mtime >= (run / "result.json").stat().st_mtime:
            frames.append(pd.read_csv(csv))
            continue
        only = None
        if name.startswith("loco_"):
            only = [name[len("loco_"):]]
        df = score_model(run, deg, name=name, corruptions=only, device=dev or "auto", hd95=spec.hd95, log=log)
        df.to_csv(csv, index=False)
        frames.append(df)
        log(f"[evaluate] {name}: {df['image_id'].nunique()} volumes")
    timings["evaluate_s"] = time.time() - t
    timings["total_s"] = time.time() - t0
    allp = pd.concat(frames, ignore_index=True)
    res = wd / "results"
    res.mkdir(parents=True, exist_ok=True)
    allp.to_csv(res / "per_class.csv", index=False)
    main = [n for n in spec.strategies]
    seeded = [f"{n}_s{seed}" for n in spec.seeded for seed in spec.seeds]
    t5 = ramp_table(allp[allp["model"].isin(main + seeded)], main + seeded)
    t5.to_csv(res / "ramp_table.csv", index=False)
    ct = corruption_table(allp[allp["model"].isin(main)])
    ct.to_csv(res / "corruption_table.csv")
    ref = spec.reference if spec.reference in main else main[-1]
    org = organ_table(allp, ref)
    org.to_csv(res / "organ_table.csv", index=False)
    lt = loco_table(allp, {op: f"loco_{op}" for op in spec.loco}, reference=ref)
    lt.to_csv(res / "loco_table.csv", index=False)
    sizes = _sizes(vols, deg, spec)
    (res / "sizes.json").write_text(json.dumps({**sizes, **timings}, indent=2, default=str) + "\n")
    text = [f"# {spec.name}", "", spec.description, "", "## Sizes", "", "```", json.dumps(sizes, indent=1),
            json.dumps({k: round(v, 1) for k, v in timings.items()}), "```", "",
            "## Table 5 layout", "", markdown(t5), "", "## Per corruption (mean Dice over levels)", "",
            markdown(ct.reset_index()), "", f"## Per organ ({ref})", "", markdown(org), ""]
    if len(lt):
        text += ["## Leave-one-corruption-out", "", markdown(lt), ""]
    (res / "summary.md").write_text("\n".join(text))
    return res / "summary.md"


def assign_random_split(cases: list[Any], fractions: dict[str, float], seed: int) -> None:
    """Give every case a split: a seeded shuffle cut by ``fractions`` (rounded; the last split takes the rest)."""
    import numpy as np

    bad = sorted(set(fractions) - {"train", "val", "test"})
    total = sum(fractions.values())
    if bad or not 0.999 <= total <= 1.001 or any(v < 0 for v in fractions.values()):
        raise ConfigError(f"import.random_split {fractions}: use train/val/test fractions that sum to 1")
    order = np.random.default_rng(seed).permutation(len(cases))
    names = list(fractions)
    bounds = np.round(np.cumsum([fractions[n] for n in names]) * len(cases)).astype(int)
    start = 0
    for n, stop in zip(names, bounds):
        for i in order[start:stop]:
            cases[int(i)].split = n
        start = int(stop)


def _sizes(vols: Path, deg: Path, spec: ExperimentSpec) -> dict[str, Any]:
    from xraylab.data.manifest import read_manifest

    m = read_manifest(vols)
    dm = read_manifest(deg)
    by_split = {s: sorted(m[m["split"] == s]["image_id"]) for s in ("train", "val", "test")}
    tr = spec.train
    return {"volumes": by_split, "voxel_mm": spec.import_.voxel_mm, "classes": spec.import_.classes,
            "shapes": dict(zip(m["image_id"], m["shape"])), "degraded_volumes": len(dm),
            "model": tr.get("model"), "patch": tr.get("patch"), "batch_size": tr.get("batch_size"),
            "epochs": tr.get("epochs"), "steps_per_epoch": tr.get("steps_per_epoch"),
            "optimizer": tr.get("optimizer"), "scheduler": tr.get("scheduler")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xraylab.volumes.experiment", description=__doc__.split("\n")[0])
    ap.add_argument("spec", help="experiment spec, e.g. simulations/ramp_ct_cpu.yaml")
    ap.add_argument("--workdir", default=None, help="output folder (default: the spec's workdir)")
    ap.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    a = ap.parse_args(argv)
    try:
        out = run_experiment(a.spec, a.workdir, a.device)
    except XRayLabError as exc:
        print(f"xraylab: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
