"""``fit``: a whole run from a spec — data, model, optimiser, epochs, checkpoints, resume.

Everything is checked before the first step (spec, columns, files). Each epoch appends a row to
``metrics.csv``, saves ``checkpoints/last.pt`` (model, optimizer, scheduler, scaler, generator and
RNG states, early-stopping counters) and ``checkpoints/best.pt`` when the validation metric
(mean Dice or balanced accuracy; the test split is never read) improves. ``resume=True`` continues
from ``last.pt`` and reproduces the uninterrupted run (same seed, same device).

Randomness: the model's initialisation and any dropout draw from torch's global generator, which is
forked for the duration of the run (``torch.random.fork_rng``) and seeded from the spec, so the
caller's global state is untouched; augmentation and attacks use their own ``torch.Generator``; the
epoch sample order comes from a ``numpy.random.default_rng`` seeded by (seed, epoch).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from xraylab.data.datasets import IndexSampler, ManifestDataset
from xraylab.errors import ConfigError, TrainingError
from xraylab.io.atomic import remove_stale_temporaries
from xraylab.io.lock import FolderLock
from xraylab.train.augment import build_augmentation
from xraylab.train.checkpoint import BEST, CHECKPOINT_DIR, LAST, read_checkpoint, save_checkpoint
from xraylab.train.loop import StepContext, train_epoch, validate
from xraylab.train.losses import build_loss
from xraylab.train.metrics import monitor_name
from xraylab.train.mixing import MixedData, epoch_indices, load_mixed_data
from xraylab.train.models import MODELS, build_model, load_weights
from xraylab.train.optim import build_optimizer, build_scheduler
from xraylab.train.records import (
    CURVES,
    METRICS,
    SPEC,
    plot_curves,
    read_metrics,
    write_metrics,
    write_run_header,
)
from xraylab.train.spec import TrainSpec, spec_to_yaml

CURVE_EVERY = 10  # epochs between curve redraws (and once when a call ends)
RESUME_MAY_CHANGE = {"num_workers", "cpu_threads", "device"}  # spec fields a resumed run may change


@dataclass
class RunResult:
    """Summary of a finished (or interrupted) call to :func:`fit`."""

    run_dir: Path
    epochs_done: int
    best_epoch: int
    best_metric: float
    monitor: str
    stopped: str  # "completed" | "early_stopping" | "interrupted"


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; anything else as torch parses it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} requested but CUDA is not available; use device: cpu or auto")
    return device


def _seed_of(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0] >> 1)


def model_kwargs(spec: TrainSpec) -> dict[str, Any]:
    """Factory kwargs stored in the checkpoint (``image_size`` added for size-bound transformers)."""
    kw = dict(spec.model.kwargs)
    if MODELS.get(spec.model.name).sized:
        kw.setdefault("image_size", spec.image_size)
    return kw


def _loaders(spec: TrainSpec, data: MixedData, epoch: int, device: torch.device):
    from torch.utils.data import DataLoader

    mask_cols = data.image_columns[1:]
    pin = device.type == "cuda"
    train_ds = ManifestDataset(data.train, spec.task, mask_cols, spec.image_size, spec.in_channels)
    val_ds = ManifestDataset(data.val, spec.task, mask_cols, spec.image_size, spec.in_channels)
    order = epoch_indices(data.train, spec, epoch)
    loader_gen = torch.Generator().manual_seed(_seed_of(spec.seed, epoch, 3))
    train = DataLoader(train_ds, batch_size=spec.batch_size, sampler=IndexSampler(order), generator=loader_gen,
                       num_workers=spec.num_workers, pin_memory=pin)
    val = DataLoader(val_ds, batch_size=spec.batch_size, shuffle=False, num_workers=spec.num_workers, pin_memory=pin)
    return train, val


def _data_info(spec: TrainSpec, data: MixedData) -> dict[str, Any]:
    counts = {
        split: {str(k): int(v) for k, v in table["_dataset"].value_counts().sort_index().items()}
        for split, table in (("train", data.train), ("val", data.val))
    }
    return {"task": spec.task, "classes": data.classes, "rows": counts, "image_columns": data.image_columns,
            "notes": list(data.notes)}


def _prepare_run_dir(run_dir: Path, spec: TrainSpec, resume: bool) -> bool:
    """Check ``run_dir`` (nothing is written); return True when there is a ``last.pt`` to resume from."""
    last = run_dir / CHECKPOINT_DIR / LAST
    spec_file = run_dir / SPEC
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: --out is a file, not a folder; choose another --out")
    if resume:
        if spec_file.is_file():
            saved = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
            current = yaml.safe_load(spec_to_yaml(spec))
            keys = (set(saved) | set(current)) - RESUME_MAY_CHANGE
            changed = sorted(k for k in keys if saved.get(k) != current.get(k))
            if changed:
                raise ConfigError(
                    f"{spec_file}: cannot resume, the spec differs from the run's in field(s) {', '.join(changed)}; "
                    "resume with the same spec or start a new run directory"
                )
        return last.is_file()
    if run_dir.is_dir() and (last.is_file() or (run_dir / "metrics.csv").is_file()):
        raise ConfigError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
    return False


# Everything fit() may write into a run folder (removed again when a run diverges before its first checkpoint).
RUN_FILES = (SPEC, "versions.json", "seed.txt", "data.json", METRICS, CURVES)


def _remove_run(run_dir: Path, created: bool) -> str:
    """Delete what this run wrote in ``run_dir`` (the folder too when this call created it); say what happened."""
    import shutil

    for name in RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    shutil.rmtree(run_dir / CHECKPOINT_DIR, ignore_errors=True)
    remove_stale_temporaries(run_dir)
    if created:
        shutil.rmtree(run_dir, ignore_errors=True)
        return f"no epoch finished, so nothing was kept and {run_dir} was removed"
    return f"no epoch finished, so nothing was kept and the run's files were removed from {run_dir}"


def _diverged(exc: TrainingError, run_dir: Path, spec: TrainSpec, created: bool) -> TrainingError:
    """The one-line error of a diverged run, saying exactly what was kept (or removing the run's files)."""
    last = run_dir / CHECKPOINT_DIR / LAST
    advice = f"lower optimizer.lr (now {spec.optimizer.lr:g}) or check the data for NaN values"
    if not last.is_file():
        return TrainingError(f"training diverged ({exc}); {_remove_run(run_dir, created)}; {advice}")
    info = torch.load(last, map_location="cpu", weights_only=True)
    st = info["training"]["state"]
    best = run_dir / CHECKPOINT_DIR / BEST
    kept = f"kept {last} (epoch {st['epoch']}, resumable with --resume)"
    if best.is_file():
        kept += f" and {best} (epoch {st['best_epoch']}, val {info['monitor']} {float(st['best_metric']):.4f})"
    kept += f"; {METRICS} lists epochs 1–{st['epoch']}"
    return TrainingError(f"training diverged ({exc}); {kept}; resuming with the same settings diverges again: "
                         f"{advice} in a new --out")


@contextlib.contextmanager
def _cpu_threads(n: int | None):
    """Use ``n`` torch intra-op threads inside the block (None = leave the setting alone)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(
    spec: TrainSpec,
    run_dir: str | Path,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Train ``spec`` into ``run_dir``; see the module docstring.

    ``stop_after``: end this call after that many epochs (an interruption or a time box); the run
    continues later with ``resume=True``. ``progress``: show a progress bar per epoch.
    """
    run_dir = Path(run_dir)
    device = resolve_device(spec.device)
    _prepare_run_dir(run_dir, spec, resume)  # checks only: nothing is written before the data are validated
    data = load_mixed_data(spec)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    augment = build_augmentation(spec.augmentation.strategy, spec.augmentation.p_clean, spec.augmentation.options)
    created = not run_dir.exists()
    try:
        return _fit_locked(spec, run_dir, resume, stop_after, progress, data, device, augment, created)
    finally:
        if created and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a run that failed before writing anything leaves no empty folder behind


def _fit_locked(spec: TrainSpec, run_dir: Path, resume: bool, stop_after: int | None, progress: bool,
                data: MixedData, device: torch.device, augment, created: bool) -> RunResult:
    """The part of :func:`fit` that writes: under the run folder's lock."""
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    with FolderLock(run_dir):  # one writer per run folder
        has_last = _prepare_run_dir(run_dir, spec, resume)  # again, now that no other process can change it
        if resume and run_dir.is_dir():
            remove_stale_temporaries(run_dir)
        with torch.random.fork_rng(devices=fork_devices), _cpu_threads(spec.cpu_threads):
            run = _Run(spec, run_dir, data, device, augment)
            if has_last:
                run.restore()
            else:
                write_run_header(run_dir, spec_to_yaml(spec), spec.seed, _data_info(spec, data))
            try:
                return run.loop(stop_after, progress)
            except TrainingError as exc:
                raise _diverged(exc, run_dir, spec, created) from None


class _Run:
    """The model, optimiser, generators and counters of one run, with save/restore."""

    def __init__(self, spec: TrainSpec, run_dir: Path, data: MixedData, device: torch.device, augment) -> None:
        self.spec, self.run_dir, self.data, self.device = spec, run_dir, data, device
        self.monitor = monitor_name(spec.task)
        self.loss_fn = build_loss(spec.loss.name, spec.task, spec.loss.smooth, spec.loss.gamma)
        torch.manual_seed(_seed_of(spec.seed, 1))  # the forked global RNG: init and dropout
        model = build_model(spec.model.name, spec.task, spec.in_channels, len(data.classes), **model_kwargs(spec))
        if spec.model.weights:
            load_weights(model, spec.model.weights, prefix=spec.model.weights_prefix)
        self.model = model.to(device)
        self.optimizer = build_optimizer(spec.optimizer, model.parameters())
        self.scheduler = build_scheduler(spec.scheduler, self.optimizer, spec.epochs)
        use_amp = spec.amp and device.type == "cuda"
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
        self.aug_gen = torch.Generator().manual_seed(_seed_of(spec.seed, 2))
        self.adv_gen = torch.Generator().manual_seed(_seed_of(spec.seed, 4))
        self.state: dict[str, Any] = {
            "epoch": 0, "best_metric": -math.inf, "best_epoch": 0, "since_best": 0, "stopped": "", "first_loss": None,
        }
        self.rows: list[dict[str, Any]] = []
        self.ctx = StepContext(
            self.model, self.loss_fn, self.optimizer, self.scaler, device, spec.task, augment, spec.adversarial,
            self.aug_gen, self.adv_gen, use_amp,
        )
        self.header = dict(
            model={"name": spec.model.name, "kwargs": model_kwargs(spec)}, task=spec.task, classes=list(data.classes),
            image_size=spec.image_size, in_channels=spec.in_channels, monitor=self.monitor, run_name=spec.name,
            label_column=spec.label_column,
        )

    def _cuda(self) -> bool:
        return self.device.type == "cuda"

    def restore(self) -> None:
        """Load model, optimiser, scheduler, scaler, generator/RNG states and counters from ``last.pt``."""
        ckpt = read_checkpoint(self.run_dir, LAST)
        tr = ckpt["training"]
        self.model.load_state_dict(ckpt["model_state"])
        self.optimizer.load_state_dict(tr["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(tr["scheduler"])
        self.scaler.load_state_dict(tr["scaler"])
        self.aug_gen.set_state(tr["aug_generator"])
        self.adv_gen.set_state(tr["adv_generator"])
        torch.set_rng_state(tr["torch_rng"])
        if self._cuda() and tr.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(tr["cuda_rng"], self.device)
        self.state = dict(tr["state"])
        self.ctx.first_loss = self.state.get("first_loss")
        self.rows = [r for r in read_metrics(self.run_dir) if r["epoch"] <= self.state["epoch"]]

    def save(self, improved: bool) -> None:
        """Write ``metrics.csv``, ``best.pt`` (when improved) and ``last.pt`` (with training state)."""
        base = dict(self.header, model_state=self.model.state_dict(), epoch=self.state["epoch"],
                    best_metric=float(self.state["best_metric"]))
        if improved:
            save_checkpoint(self.run_dir / CHECKPOINT_DIR / BEST, base)
        training = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "aug_generator": self.aug_gen.get_state(),
            "adv_generator": self.adv_gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self._cuda() else None,
            "state": dict(self.state),
        }
        write_metrics(self.run_dir, self.rows)
        save_checkpoint(self.run_dir / CHECKPOINT_DIR / LAST, dict(base, training=training))

    def _record(self, row: dict[str, Any]) -> bool:
        st, patience = self.state, self.spec.early_stopping.patience
        st["epoch"] = row["epoch"]
        st["first_loss"] = self.ctx.first_loss
        improved = row[f"val_{self.monitor}"] > st["best_metric"]
        if improved:
            st.update(best_metric=row[f"val_{self.monitor}"], best_epoch=row["epoch"], since_best=0)
        else:
            st["since_best"] += 1
        row["is_best"] = bool(improved)
        self.rows.append(row)
        if st["epoch"] >= self.spec.epochs:
            st["stopped"] = "completed"
        elif patience is not None and st["since_best"] >= patience:
            st["stopped"] = "early_stopping"
        return improved

    def loop(self, stop_after: int | None, progress: bool) -> RunResult:
        """Train until done, early-stopped or ``stop_after`` epochs in this call; curves at the end."""
        done, stopped = 0, ""
        try:
            while not self.state["stopped"] and self.state["epoch"] < self.spec.epochs:
                if stop_after is not None and done >= stop_after:
                    stopped = "interrupted"
                    break
                row = _run_epoch(self.ctx, self.spec, self.data, self.state["epoch"] + 1, self.scheduler,
                                 self.loss_fn, progress)
                self.save(self._record(row))
                done += 1
                if done % CURVE_EVERY == 0:
                    plot_curves(self.run_dir, self.rows, self.monitor, title=self.spec.name)
        finally:
            if done and done % CURVE_EVERY:
                plot_curves(self.run_dir, self.rows, self.monitor, title=self.spec.name)
        st = self.state
        return RunResult(self.run_dir, int(st["epoch"]), int(st["best_epoch"]), float(st["best_metric"]),
                         self.monitor, stopped or st["stopped"] or "completed")


def _run_epoch(
    ctx: StepContext, spec: TrainSpec, data: MixedData, epoch: int, scheduler, loss_fn, progress: bool
) -> dict[str, Any]:
    """Train one epoch, validate, step the scheduler; return the ``metrics.csv`` row."""
    train_loader, val_loader = _loaders(spec, data, epoch, ctx.device)
    lr = ctx.optimizer.param_groups[0]["lr"]
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(train_loader), desc=f"{spec.name} epoch {epoch}/{spec.epochs}", unit="batch", leave=False)
    try:
        train = train_epoch(ctx, train_loader, bar)
    except TrainingError as exc:
        raise TrainingError(f"epoch {epoch}, {exc}") from None
    finally:
        if bar is not None:
            bar.close()
    val = validate(ctx.model, val_loader, loss_fn, spec.task, data.classes, ctx.device)
    if not math.isfinite(val["loss"]):
        raise TrainingError(f"epoch {epoch}, validation loss is {val['loss']}")
    if scheduler is not None:
        scheduler.step()
    row: dict[str, Any] = {"epoch": epoch, "train_loss": train["train_loss"], "val_loss": val.pop("loss")}
    monitor = monitor_name(spec.task)
    row[f"val_{monitor}"] = val.pop(monitor)
    row.update({f"val_{k}": v for k, v in val.items()})
    row.update(lr=lr, n_train=train["n_train"], train_images_per_s=train["train_images_per_s"])
    row["epoch_time_s"] = time.perf_counter() - start
    return row
