"""``xraylab run``: chain import / generate → degrade → train → evaluate steps from one YAML spec.

Example (``simulations/pipeline_smoke.yaml``)::

    name: pipeline_smoke
    workdir: ../outputs/pipeline_smoke     # step outputs default to <workdir>/<step name>
    steps:
      - name: generate_syn
        generate: {spec: demo.yaml, set: [geometry.rows=32, geometry.cols=32]}
      - name: degrade_test
        degrade: {dataset: "${generate_syn.out}", corruptions: [gaussian_noise], levels: [2, 4]}
      - name: train_all
        train: {spec: train_smoke_segmentation.yaml, data: {real: "${generate_syn.out}"}, epochs: 1}
      - name: evaluate
        evaluate:
          spec: {models: [{name: all, path: "${train_all.out}"}],
                 corruption: {dataset: "${degrade_test.out}", split: null}}

Each step names exactly one stage:

``import``
    ``layout`` and ``root`` of ``xraylab import LAYOUT ROOT`` with its options (``size``, ``normalize``,
    ``split``, ``seed``, ``rename``, ``structures``, ``options`` for layout-specific ones).
``generate``
    ``spec``: a generate spec file (or an inline mapping of one), ``set``: ``key=value`` overrides
    (``xraylab generate --set``), ``workers``, ``device``.
``degrade``
    ``dataset`` and the options of ``xraylab degrade`` (``corruptions``, ``levels``, ``mode``, ``seed``,
    ``modality``, ``include_clean``).
``train``
    ``spec``: a training spec file or inline mapping; ``data``: ``{NAME: DIR}`` (``--data NAME=DIR``);
    ``set``: top-level field overrides; ``epochs``, ``threads``, ``steps_per_epoch``, ``device``,
    ``num_workers``.
``evaluate``
    ``spec``: an evaluate spec file or inline mapping; ``models``: ``{NAME: RUN_DIR}`` (replaces the path of
    that model or adds it); ``datasets``: ``{SUITE: DIR}``; ``set``: deep-merged field overrides; ``device``,
    ``batch_size``, ``max_images``. Its ``output`` is the step's folder. Without ``spec``, the plain form
    (``xraylab evaluate --model --data``): ``model`` (run folder or .pt), ``data`` (dataset folder), ``split``,
    ``structures``, ``map`` (``{CLASS: STRUCTURE}``), ``set`` (plain options such as ``hd_empty``).

Every step writes to ``out`` (default ``<workdir>/<name>``). Strings may reference earlier steps' outputs as
``${STEP.out}`` and the work folder as ``${workdir}``. Relative paths resolve against the pipeline file's folder
(inside an evaluate or train spec *file*, against that file's folder, as the stages do).

Resume: after a step succeeds, ``<out>/.xraylab_run.json`` records a key of its resolved options, the content of
its spec file and the keys of the steps it reads. A step whose record matches and whose stage outputs exist is
skipped; otherwise the stage's own API is called, and the stages resume their own partial work (generate, degrade,
train) or recompute (evaluate).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xraylab.errors import ConfigError, InputFileError
from xraylab.evaluate.suites import SUITES
from xraylab.io.ct import is_default_ct_name
from xraylab.overrides import apply_overrides, as_overrides
from xraylab.specs import read_yaml_mapping, validate_spec

STAGES = ("import", "generate", "degrade", "train", "evaluate")
MARKER = ".xraylab_run.json"
_REF = re.compile(r"\$\{([^}]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportStep(_Strict):
    """Options of an ``import`` step (``xraylab import LAYOUT ROOT``): a real dataset brought in."""

    layout: str = Field(description="import layout (xraylab import --help lists them), e.g. folder")
    root: str = Field(description="folder of the real dataset")
    size: int | tuple[int, int] | None = Field(256, description="output pixels (None: each image's own grid)")
    normalize: Literal["minmax", "percentile", "none"] = "minmax"
    split: str | dict[str, float] = Field("test", description="'test', 'source' or fractions {train: 0.8, val: 0.2}")
    seed: int = Field(0, description="seed of the subject-level split")
    rename: dict[str, str] = Field(
        default_factory=dict, description="structure renames, e.g. {heart: cardiomediastinum}"
    )
    structures: list[str] | None = Field(None, description="structures to keep (default: all found)")
    define: dict[str, str] = Field(
        default_factory=dict, description="what a structure's masks mean, for dataset.json (xraylab import --define)")
    options: dict[str, Any] = Field(default_factory=dict, description="layout options (e.g. images_dir)")
    limit: int | None = Field(None, ge=1, description="import at most this many images (count; quick runs)")


class GenerateStep(_Strict):
    """Options of a ``generate`` step (``xraylab generate``)."""

    spec: str | dict[str, Any] = Field(description="generate spec file, or an inline generate spec mapping")
    set: list[str] | dict[str, Any] = Field(
        default_factory=list,
        description="key.path=value spec overrides (a list, or a mapping; xraylab generate --set)",
    )
    workers: int | None = Field(None, ge=1, description="worker processes (count); default: the cores available")
    device: str | None = Field(None, description="torch device for rendering (cpu, cuda, cuda:1)")


class DegradeStep(_Strict):
    """Options of a ``degrade`` step (``xraylab degrade``)."""

    dataset: str = Field(description="source dataset folder (with manifest.parquet)")
    corruptions: list[str] | None = Field(None, description="corruption names (default: all of the modality)")
    levels: list[int] | None = Field(None, description="severity levels (default: every level of each corruption)")
    mode: Literal["all", "random"] = "all"
    seed: int = 0
    modality: str | None = None
    include_clean: bool = True


class TrainStep(_Strict):
    """Options of a ``train`` step (``xraylab train``)."""

    spec: str | dict[str, Any] = Field(description="training spec file, or an inline training spec mapping")
    data: dict[str, str] = Field(default_factory=dict, description="dataset name -> folder (--data NAME=DIR)")
    set: list[str] | dict[str, Any] = Field(
        default_factory=dict, description="key.path=value spec overrides (a list, or a mapping; xraylab train --set)")
    epochs: int | None = Field(None, ge=1, description="epochs (count)")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (count)")
    steps_per_epoch: int | None = Field(None, ge=1, description="cap on training batches per epoch (count)")
    device: str | None = None
    num_workers: int | None = Field(None, ge=0, description="data-loader worker processes (count)")


class EvaluateStep(_Strict):
    """Options of an ``evaluate`` step (``xraylab evaluate``): a spec's suites, or (``model`` + ``data``, no
    ``spec``) the plain evaluation of one checkpoint on one dataset (``xraylab evaluate --model --data``)."""

    spec: str | dict[str, Any] | None = Field(
        None, description="evaluate spec file, or an inline evaluate spec mapping (omit for the plain form)")
    models: dict[str, str] = Field(default_factory=dict, description="model name -> train run folder or .pt file")
    datasets: dict[str, str] = Field(default_factory=dict, description="suite -> dataset folder")
    model: str | None = Field(None, description="plain form: train run folder or .pt checkpoint")
    data: str | None = Field(None, description="plain form: dataset folder holding manifest.parquet")
    split: str | None = Field(None, description="plain form: manifest split to score (default: every row)")
    structures: list[str] | None = Field(
        None, description="plain form: model classes to score (and lungs); default: those the dataset has masks for")
    map: dict[str, str] = Field(
        default_factory=dict, description="plain form: model class -> dataset structure to score it against")
    set: list[str] | dict[str, Any] = Field(
        default_factory=dict,
        description="key.path=value overrides of the spec or of the plain options (a list, or a mapping)")
    device: str | None = None
    batch_size: int | None = Field(None, ge=1, description="images per inference batch (count)")
    max_images: int | None = Field(None, ge=1, description="at most this many images per suite (count)")

    @field_validator("datasets")
    @classmethod
    def _known_suites(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in v if k not in SUITES]
        if unknown:
            raise ValueError(f"unknown suite(s) {unknown}; choose from {', '.join(SUITES.names())}")
        return v

    @model_validator(mode="after")
    def _one_form(self) -> "EvaluateStep":
        plain = {"model": self.model, "data": self.data, "split": self.split, "structures": self.structures,
                 "map": self.map}
        if self.spec is not None:
            given = [k for k, v in plain.items() if v]
            if given:
                raise ValueError(f"{', '.join(given)}: options of the plain form (model + data, no spec)")
        else:
            missing = [k for k in ("model", "data") if not plain[k]]
            if missing:
                raise ValueError(f"give a spec, or model and data for the plain form (missing {', '.join(missing)})")
            given = [k for k in ("models", "datasets") if getattr(self, k)]
            if given:
                raise ValueError(f"{', '.join(given)}: options of the spec form; the plain form takes model and data")
        return self


class Step(_Strict):
    """One named step: exactly one of generate, degrade, train, evaluate."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="step name, used in ${NAME.out}")
    out: str | None = Field(None, description="output folder (default: <workdir>/<name>)")
    import_: ImportStep | None = Field(None, alias="import")
    generate: GenerateStep | None = None
    degrade: DegradeStep | None = None
    train: TrainStep | None = None
    evaluate: EvaluateStep | None = None

    @model_validator(mode="after")
    def _one_stage(self) -> "Step":
        given = [s for s in STAGES if getattr(self, _attr(s)) is not None]
        if len(given) != 1:
            raise ValueError(f"a step needs exactly one of {', '.join(STAGES)} (got {given or 'none'})")
        return self

    @property
    def stage(self) -> str:
        return next(s for s in STAGES if getattr(self, _attr(s)) is not None)

    @property
    def options(self) -> BaseModel:
        return getattr(self, _attr(self.stage))


def _attr(stage: str) -> str:
    """The :class:`Step` attribute of ``stage`` (``import`` is a Python keyword: ``import_``)."""
    return "import_" if stage == "import" else stage


class PipelineSpec(_Strict):
    """Top-level ``xraylab run`` spec."""

    name: str = "pipeline"
    description: str = ""
    workdir: str = Field(description="folder for step outputs (relative to the spec file)")
    steps: list[Step] = Field(min_length=1)

    @field_validator("workdir")
    @classmethod
    def _plain_workdir(cls, v: str) -> str:
        if "${" in v:
            raise ValueError(f"{v!r}: the work folder cannot reference ${{...}} (it is what ${{workdir}} stands "
                             "for); give a plain path")
        return v

    @field_validator("steps")
    @classmethod
    def _unique(cls, v: list[Step]) -> list[Step]:
        names = [s.name for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"step names must be unique; repeated: {', '.join(dup)}")
        return v


# --------------------------------------------------------------------------- loading and resolving
@dataclass
class ResolvedStep:
    """A step with references substituted and paths made absolute."""

    name: str
    stage: str
    out: Path
    options: dict[str, Any]
    needs: list[str]  # names of earlier steps it references
    index: int


@dataclass
class Pipeline:
    spec: PipelineSpec
    source: str
    base: Path
    workdir: Path
    steps: list[ResolvedStep]


def _abs(base: Path, p: str) -> str:
    q = Path(os.path.expanduser(p))
    return str(q if q.is_absolute() else (base / q).resolve())


def _substitute(value: Any, refs: dict[str, str], field: str, where: str, needs: set[str]) -> Any:
    if isinstance(value, str):
        def one(m: re.Match) -> str:
            key = m.group(1).strip()
            if key in refs:
                if key != "workdir":
                    needs.add(key.rsplit(".", 1)[0])
                return refs[key]
            raise ConfigError(
                f"{where}: {field}: ${{{key}}} names no earlier step output; use ${{STEP.out}} of a step listed "
                f"above ({', '.join(k for k in refs if k != 'workdir') or 'none yet'}) or ${{workdir}}"
            )

        return _REF.sub(one, value)
    if isinstance(value, dict):
        return {k: _substitute(v, refs, f"{field}.{k}", where, needs) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, refs, f"{field}[{i}]", where, needs) for i, v in enumerate(value)]
    return value


def _resolve_paths(stage: str, opts: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the path-valued options of a stage absolute against ``base``."""
    o = dict(opts)
    if stage in ("generate", "train", "evaluate") and isinstance(o.get("spec"), str):
        o["spec"] = _abs(base, o["spec"])
    if stage == "degrade":
        o["dataset"] = _abs(base, o["dataset"])
    if stage == "import":
        o["root"] = _abs(base, o["root"])
    if stage == "train":
        o["data"] = {k: _abs(base, v) for k, v in o["data"].items()}
    if stage == "evaluate":
        o["models"] = {k: _abs(base, v) for k, v in o["models"].items()}
        o["datasets"] = {k: _abs(base, v) for k, v in o["datasets"].items()}
    return o


def parse_pipeline(raw: Any, source: str = "<pipeline>", base: Path | None = None,
                   workdir: str | os.PathLike | None = None) -> Pipeline:
    """Validate a pipeline mapping, substitute ``${...}`` references, resolve paths; raise ``ConfigError``."""
    spec = validate_spec(PipelineSpec, raw, source, "pipeline")
    base = Path(base or ".").resolve()
    wd = Path(_abs(Path.cwd(), str(workdir))) if workdir is not None else Path(_abs(base, spec.workdir))
    refs: dict[str, str] = {"workdir": str(wd)}
    steps: list[ResolvedStep] = []
    for i, st in enumerate(spec.steps):
        field = f"steps[{i}] ({st.name})"
        needs: set[str] = set()
        opts = _substitute(st.options.model_dump(), refs, f"{field}.{st.stage}", source, needs)
        out_s = _substitute(st.out, refs, f"{field}.out", source, needs) if st.out else None
        out = Path(_abs(base, out_s)) if out_s else wd / st.name
        opts = _resolve_paths(st.stage, opts, base)
        if isinstance(opts.get("spec"), str) and not Path(opts["spec"]).is_file():
            raise ConfigError(f"{source}: {field}.{st.stage}.spec: file {opts['spec']} not found")
        steps.append(ResolvedStep(st.name, st.stage, out, opts, sorted(needs), i))
        refs[f"{st.name}.out"] = str(out)
    outs = [s.out for s in steps]
    clash = sorted({str(o) for o in outs if outs.count(o) > 1})
    if clash:
        raise ConfigError(f"{source}: steps share an output folder ({', '.join(clash)}); give each its own 'out'")
    return Pipeline(spec, source, base, wd, steps)


def load_pipeline(path: str | os.PathLike, workdir: str | os.PathLike | None = None) -> Pipeline:
    """Read and validate a pipeline YAML file (relative paths resolve against its folder)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: pipeline spec not found")
    raw = read_yaml_mapping(path, "pipeline")
    return parse_pipeline(raw, str(path), path.resolve().parent, workdir)


# --------------------------------------------------------------------------- completion records
def step_key(step: ResolvedStep, keys: dict[str, str]) -> str:
    """Hash of everything that determines a step's output: options, spec file content, upstream keys."""
    from xraylab.io.images import sha256_file

    payload = {
        "stage": step.stage,
        "out": str(step.out),
        "options": step.options,
        "spec_sha256": sha256_file(step.options["spec"]) if isinstance(step.options.get("spec"), str) else None,
        "needs": {n: keys.get(n) for n in step.needs},
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _outputs_present(stage: str, out: Path) -> bool:
    if stage in ("import", "generate", "degrade"):
        from xraylab.data.manifest import DATASET_JSON, MANIFEST_NAME

        info = out / DATASET_JSON
        if not (info.is_file() and (out / MANIFEST_NAME).is_file()):
            return False
        if stage == "degrade":
            try:
                return bool(json.loads(info.read_text(encoding="utf-8")).get("complete"))
            except (OSError, ValueError):
                return False
        return True
    if stage == "train":
        return (out / "checkpoints" / "best.pt").is_file() and (out / "metrics.csv").is_file()
    return (out / "results.parquet").is_file() and (out / "summary.md").is_file()


def read_marker(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_done(step: ResolvedStep, key: str) -> bool:
    """True when the step's record matches ``key`` and its stage outputs exist."""
    m = read_marker(step.out)
    return bool(m and m.get("key") == key and _outputs_present(step.stage, step.out))


def _write_marker(step: ResolvedStep, key: str, pipeline: str, info: dict[str, Any]) -> None:
    from xraylab.io.atomic import write_text

    rec = {"pipeline": pipeline, "step": step.name, "stage": step.stage, "key": key, **info}
    write_text(step.out / MARKER, json.dumps(rec, indent=2, sort_keys=True, default=str) + "\n")


# --------------------------------------------------------------------------- running the stages
def _inline_generate_spec(step: ResolvedStep, raw: dict[str, Any], base: Path, workdir: Path) -> Path:
    """Write an inline generate spec (CT paths made absolute) to ``<workdir>/.specs/<step>.yaml``."""
    from xraylab.io.atomic import write_text

    data = dict(raw)
    cts = []
    for entry in data.get("cts") or []:
        if isinstance(entry, str):
            entry = entry if is_default_ct_name(entry) else _abs(base, entry)
        elif isinstance(entry, dict):
            entry = dict(entry)
            for k in ("path", "labels", "manifest", "root"):
                if isinstance(entry.get(k), str):
                    entry[k] = _abs(base, entry[k])
            if isinstance(entry.get("structure_table"), str):
                entry["structure_table"] = _abs(base, entry["structure_table"])
            if isinstance(entry.get("silhouettes"), dict) and isinstance(entry["silhouettes"].get("dataset"), str):
                entry["silhouettes"] = {**entry["silhouettes"], "dataset": _abs(base, entry["silhouettes"]["dataset"])}
        cts.append(entry)
    if "cts" in data:
        data["cts"] = cts
    path = workdir / ".specs" / f"{step.name}.generate.yaml"
    text = yaml.safe_dump(data, sort_keys=False)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text(path, text)  # creates .specs/ as needed
    return path


def _run_import(step: ResolvedStep, pipe: Pipeline, log: Callable[[str], None]) -> dict[str, Any]:
    from xraylab.data.importers import import_dataset

    o = step.options
    res = import_dataset(o["layout"], o["root"], step.out, size=o["size"], normalize=o["normalize"], split=o["split"],
                         seed=o["seed"], rename=o["rename"], structures=o["structures"], limit=o["limit"],
                         define=o.get("define") or None, progress=False, layout_options=o["options"])
    log(f"  import: {res.n_items} images")
    return {"n_images": res.n_items}


def _run_generate(step: ResolvedStep, pipe: Pipeline, log: Callable[[str], None]) -> dict[str, Any]:
    from xraylab.data.generate import generate

    o = step.options
    spec = o["spec"] if isinstance(o["spec"], str) else _inline_generate_spec(step, o["spec"], pipe.base, pipe.workdir)
    res = generate(spec, step.out, as_overrides(o["set"]), workers=o["workers"], device=o["device"], progress=False)
    if not res.complete:
        raise ConfigError(f"{pipe.source}: step {step.name}: generate left {step.out} incomplete; run again to resume")
    log(f"  generate: {res.n_rendered} images rendered, {res.n_skipped} already complete")
    return {"n_images": res.n_items}


def _run_degrade(step: ResolvedStep, pipe: Pipeline, log: Callable[[str], None]) -> dict[str, Any]:
    from xraylab.data.degrade_job import DegradeJob, run_degrade

    o = step.options
    job = DegradeJob(dataset=Path(o["dataset"]), out=step.out, corruptions=o["corruptions"], levels=o["levels"],
                     mode=o["mode"], seed=o["seed"], include_clean=o["include_clean"], modality=o["modality"])
    df = run_degrade(job)
    log(f"  degrade: {len(df)} images")
    return {"n_images": len(df)}


def _run_train(step: ResolvedStep, pipe: Pipeline, log: Callable[[str], None]) -> dict[str, Any]:
    from xraylab.train import spec as tspec
    from xraylab.train.trainer import fit

    o = step.options
    sets = as_overrides(o["set"])
    overrides: dict[str, Any] = {}
    for key, opt in (("epochs", "epochs"), ("device", "device"), ("num_workers", "num_workers"),
                     ("steps_per_epoch", "steps_per_epoch"), ("cpu_threads", "threads")):
        if o[opt] is not None:
            overrides[key] = o[opt]
    if isinstance(o["spec"], str):
        spec = tspec.load_spec(o["spec"], o["data"], sets, **overrides)
    else:
        where = f"{pipe.source}: steps[{step.index}].train.spec"
        raw = tspec.paths_relative_to(dict(o["spec"]), pipe.base)
        raw = tspec.override_raw(raw, o["data"], where, sets, **overrides)
        spec = tspec.parse_spec(raw, where)
    res = fit(spec, step.out, resume=True, progress=False)
    if res.stopped == "interrupted":
        raise ConfigError(f"{pipe.source}: step {step.name}: training was interrupted; run again to resume")
    log(f"  train: {res.epochs_done} epoch(s), {res.stopped}; best {res.monitor} {res.best_metric:.4f} "
        f"at epoch {res.best_epoch}")
    return {"epochs": res.epochs_done, "best_metric": res.best_metric, "best_epoch": res.best_epoch}


def _run_evaluate(step: ResolvedStep, pipe: Pipeline, log: Callable[[str], None]) -> dict[str, Any]:
    from xraylab.evaluate import spec as espec

    o = step.options
    label = f"{pipe.source}: steps[{step.index}].evaluate"
    if o["spec"] is None:  # the plain form: one checkpoint on one dataset
        from xraylab.evaluate.plain import PlainSpec, parse_plain, run_plain

        raw = {"model": o["model"], "data": o["data"], "output": str(step.out), "split": o["split"],
               "structures": o["structures"], "map": o["map"]}
        raw.update({k: o[k] for k in ("device", "batch_size", "max_images") if o[k] is not None})
        raw = apply_overrides(raw, as_overrides(o["set"]), model=PlainSpec, label=f"{label}.set:")
        out = run_plain(parse_plain(raw, where=label, base=pipe.base), log=lambda m: log(f"  evaluate: {m}"))
        return {"summary": str(out / "summary.md")}

    from xraylab.evaluate.runner import run_evaluation

    if isinstance(o["spec"], str):
        where, base = o["spec"], Path(o["spec"]).parent
        data = read_yaml_mapping(o["spec"], "evaluate")
    else:
        where, base, data = f"{label}.spec", pipe.base, dict(o["spec"])
    data = apply_overrides(data, as_overrides(o["set"]), model=espec.EvaluateSpec, label=f"{label}.set:")
    models = [dict(m) if isinstance(m, dict) else m for m in data.get("models") or []]
    for name, path in o["models"].items():
        hit = [m for m in models if isinstance(m, dict) and m.get("name") == name]
        if hit:
            hit[0]["path"] = path
        else:
            models.append({"name": name, "path": path})
    data["models"] = models
    for suite, path in o["datasets"].items():
        if not isinstance(data.get(suite), dict):
            raise ConfigError(f"{label}.datasets.{suite}: the evaluate spec enables no {suite} suite")
        data[suite] = dict(data[suite], dataset=path)
    data = espec.apply_run_options(data, output=step.out, device=o["device"], batch_size=o["batch_size"],
                                   max_images=o["max_images"], label=f"{label}:")
    spec = espec.parse_spec(data, where=where, base=base)
    out = run_evaluation(spec, log=lambda m: log(f"  evaluate: {m}"))
    return {"summary": str(out / "summary.md")}


RUNNERS = {
    "import": _run_import, "generate": _run_generate, "degrade": _run_degrade, "train": _run_train,
    "evaluate": _run_evaluate,
}


@dataclass
class StepResult:
    name: str
    stage: str
    out: Path
    status: str  # "ran" | "skipped" | "planned" | "done"
    seconds: float = 0.0


def run_pipeline(
    pipe: Pipeline,
    only: list[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> list[StepResult]:
    """Run the pipeline's steps in order, skipping complete ones; return one result per step considered.

    ``only``: run just these steps (their inputs must exist already). ``force``: ignore the completion records
    (the stages still resume their own partial work). ``dry_run``: report what would run, run nothing.
    """
    names = [s.name for s in pipe.steps]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ConfigError(
                f"{pipe.source}: --steps: unknown step(s) {', '.join(unknown)}; steps are {', '.join(names)}"
            )
    keys: dict[str, str] = {}
    results: list[StepResult] = []
    n = len(pipe.steps)
    for st in pipe.steps:
        key = step_key(st, keys)
        keys[st.name] = key
        if only and st.name not in only:
            continue
        head = f"[{st.index + 1}/{n}] {st.name} ({st.stage}) -> {st.out}"
        done = is_done(st, key)
        if dry_run:
            status = "done" if done else "planned"
            log(f"{head}: {'complete, would skip' if done else 'would run'}")
            results.append(StepResult(st.name, st.stage, st.out, status))
            continue
        if done and not force:
            log(f"{head}: complete, skipped")
            results.append(StepResult(st.name, st.stage, st.out, "skipped"))
            continue
        log(f"{head}: running")
        t0 = time.perf_counter()
        info = RUNNERS[st.stage](st, pipe, log)
        seconds = time.perf_counter() - t0
        _write_marker(st, key, pipe.spec.name, {**info, "seconds": round(seconds, 3)})
        log(f"{head}: done in {seconds:.1f} s")
        results.append(StepResult(st.name, st.stage, st.out, "ran", seconds))
    return results
