"""3D segmentation training on a volume dataset (MONAI DynUNet / UNet), nnU-Net-like.

* patches of ``spec.patch`` voxels, a third of them (``foreground_fraction``) centred on a random foreground
  voxel, the rest anywhere (nnU-Net's oversampling); volumes smaller than a patch are zero-padded;
* the augmentation strategy (:mod:`xraylab.volumes.augment`) on every patch, with the dataset's voxel spacing;
* Dice + cross-entropy loss (MONAI ``DiceCELoss``, nnU-Net's loss), poly learning-rate decay;
* validation on whole ``val`` volumes with MONAI ``sliding_window_inference``; the checkpoint with the highest
  mean validation Dice (over annotated classes) is ``checkpoints/best.pt`` (RAMP §3.5).

Run folder: ``spec.yaml``, ``metrics.csv`` (epoch, loss, val_dice, lr, seconds), ``checkpoints/best.pt``,
``result.json`` (written last: a run with it and the same spec is skipped on re-run).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from xraylab.data.volume_dataset import Volume, load_volume, read_rows, require_volume_dataset
from xraylab.errors import ConfigError
from xraylab.train.optim import build_optimizer, build_scheduler
from xraylab.volumes.metrics import mean_dice
from xraylab.volumes.spec import VolumeModelSpec, VolumeTrainSpec


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_model(m: VolumeModelSpec, n_out: int) -> torch.nn.Module:
    """MONAI ``DynUNet`` (nnU-Net's conv-instance-norm-LeakyReLU U-Net) or ``UNet`` with ``n_out`` outputs."""
    from monai.networks.nets import DynUNet, UNet

    levels = len(m.filters)
    if m.name == "dynunet":
        return DynUNet(spatial_dims=3, in_channels=1, out_channels=n_out, kernel_size=[3] * levels,
                       strides=[1] + [2] * (levels - 1), upsample_kernel_size=[2] * (levels - 1),
                       filters=list(m.filters), norm_name="instance", dropout=m.dropout or None,
                       act_name=("leakyrelu", {"negative_slope": 0.01, "inplace": True}),
                       deep_supervision=False)
    return UNet(spatial_dims=3, in_channels=1, out_channels=n_out, channels=list(m.filters),
                strides=[2] * (levels - 1), num_res_units=2, norm="instance", dropout=m.dropout)


def check_patch(patch: Sequence[int], levels: int) -> None:
    """Each patch side must be divisible by 2^(levels - 1) (the network's total stride)."""
    f = 2 ** (levels - 1)
    if any(int(p) % f for p in patch):
        raise ConfigError(f"patch {list(patch)}: every side must be a multiple of {f} for {levels} levels")


def sample_patch(vol: Volume, patch: Sequence[int], fg_fraction: float,
                 rs: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``[1, *patch]`` image / label patch (zero-padded where the volume is smaller)."""
    assert vol.labels is not None
    img, lab = vol.image, vol.labels
    pad = [max(0, p - n) for p, n in zip(patch, img.shape)]
    if any(pad):
        spec = [v for d in reversed(pad) for v in (d // 2, d - d // 2)]
        img, lab = F.pad(img, spec), F.pad(lab, spec)
    shape = img.shape
    fg = torch.nonzero(lab > 0) if rs.random() < fg_fraction else None
    starts = []
    for ax in range(3):
        hi = shape[ax] - patch[ax]
        if fg is not None and len(fg):
            c = int(fg[int(rs.integers(len(fg))), ax])
            s = int(np.clip(c - patch[ax] // 2, 0, hi))
        else:
            s = int(rs.integers(hi + 1))
        starts.append(s)
    sl = tuple(slice(s, s + p) for s, p in zip(starts, patch))
    return img[sl][None], lab[sl][None]


def predict(model: torch.nn.Module, image: torch.Tensor, patch: Sequence[int], overlap: float,
            sw_batch_size: int, device: torch.device) -> torch.Tensor:
    """Argmax labels ``[I, J, K]`` of one volume ``[I, J, K]`` by MONAI sliding-window inference."""
    from monai.inferers import sliding_window_inference

    with torch.no_grad():
        x = image[None, None].to(device)
        logits = sliding_window_inference(x, list(patch), sw_batch_size, model, overlap=overlap, mode="gaussian")
        assert isinstance(logits, torch.Tensor)
        return logits.argmax(1)[0].cpu()


def annotated_classes(row: dict[str, Any], classes: Sequence[str]) -> list[int]:
    """1-based ids of the classes the row's source annotates (RAMP: unannotated classes leave the mean)."""
    return [c for c, n in enumerate(classes, start=1) if bool(row.get(f"annotated:{n}", True))]


class VolumeStore:
    """The volumes of some manifest rows, read on first use and kept in a least-recently-used cache.

    ``max_cached`` volumes stay in memory (a 1.5 mm abdominal CT is ~150 MB as float32, so a paper-sized
    training set cannot all be held); labels are remapped to the run's class ids with ``remap``.
    """

    def __init__(self, folder: str, rows: list[dict[str, Any]], remap: torch.Tensor, max_cached: int = 48):
        self.folder, self.rows, self.remap, self.max_cached = folder, rows, remap, max_cached
        self._cache: dict[int, Volume] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Volume:
        v = self._cache.pop(i, None)
        if v is None:
            v = load_volume(self.folder, self.rows[i])
            assert v.labels is not None
            v.labels = self.remap[v.labels.long()]
            if len(self._cache) >= self.max_cached:
                self._cache.pop(next(iter(self._cache)))
        self._cache[i] = v  # most recently used last
        return v

    def __iter__(self):
        return (self[i] for i in range(len(self)))


@dataclass
class VolumeFitResult:
    run_dir: Path
    best_epoch: int
    best_val_dice: float
    epochs_done: int
    seconds: float


def spec_hash(spec: VolumeTrainSpec) -> str:
    return hashlib.sha256(json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def fit_volume(spec: VolumeTrainSpec, run_dir: str | Path, log: Callable[[str], None] | None = None) -> VolumeFitResult:
    """Train ``spec`` into ``run_dir`` (skipped when a finished run of the same spec is there)."""
    run_dir = Path(run_dir)
    done = run_dir / "result.json"
    h = spec_hash(spec)
    if done.is_file():
        r = json.loads(done.read_text())
        if r.get("spec_hash") == h:
            return VolumeFitResult(run_dir, r["best_epoch"], r["best_val_dice"], r["epochs_done"], r["seconds"])
    if spec.data is None:
        raise ConfigError(f"{spec.name}: no dataset; set data: DIR in the spec or pass --data ct=DIR")
    info = require_volume_dataset(spec.data)
    classes = list(spec.classes or info["classes"])
    unknown = [c for c in classes if c not in info["classes"]]
    if unknown:
        raise ConfigError(f"{spec.name}: classes {unknown} are not in the dataset's {info['classes']}")
    remap = torch.zeros(len(info["classes"]) + 1, dtype=torch.uint8)
    for i, c in enumerate(classes, start=1):
        remap[info["classes"].index(c) + 1] = i
    check_patch(spec.patch, len(spec.model.filters))
    device = resolve_device(spec.device)
    if spec.cpu_threads:
        torch.set_num_threads(spec.cpu_threads)
    torch.manual_seed(spec.seed)
    rs = np.random.default_rng(spec.seed)
    g = torch.Generator().manual_seed(spec.seed)

    train = VolumeStore(spec.data, read_rows(spec.data, "train"), remap)
    val = VolumeStore(spec.data, read_rows(spec.data, "val"), remap)
    if not len(train) or not len(val):
        raise ConfigError(f"{spec.data}: need train and val volumes (have {len(train)} train, {len(val)} val)")
    spacing = train[0].spacing
    from xraylab.volumes.augment import make_volume_augmentation

    aug = make_volume_augmentation(spec.augmentation.strategy, spacing, **spec.augmentation.options)
    from monai.losses import DiceCELoss

    n_out = len(classes) + 1
    model = build_model(spec.model, n_out).to(device)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = build_optimizer(spec.optimizer, model.parameters())
    sched = build_scheduler(spec.scheduler, opt, spec.epochs)
    use_amp = spec.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    config = {"model": spec.model.model_dump(mode="json"), "classes": classes, "n_out": n_out,
              "patch": list(spec.sw_roi or spec.patch), "sw_overlap": spec.sw_overlap,
              "sw_batch_size": spec.sw_batch_size,
              "strategy": spec.augmentation.strategy, "options": spec.augmentation.options,
              "voxel_mm": list(spacing), "dataset": str(spec.data)}
    lines = ["epoch,loss,val_dice,lr,seconds"]
    best, best_epoch, t0 = -1.0, 0, time.time()
    for epoch in range(1, spec.epochs + 1):
        lr = float(opt.param_groups[0]["lr"])
        model.train()
        losses = []
        for _ in range(spec.steps_per_epoch):
            pairs = [sample_patch(train[int(rs.integers(len(train)))], spec.patch, spec.foreground_fraction, rs)
                     for _ in range(spec.batch_size)]
            x = torch.stack([p[0] for p in pairs])
            y = torch.stack([p[1] for p in pairs])
            x, y_aug, _ = aug(x, y, g)
            assert y_aug is not None
            x, y = x.to(device), y_aug.to(device)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=use_amp):
                loss = loss_fn(model(x), y.long())
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(float(loss.detach()))
        vd = float("nan")
        if epoch % spec.val_every == 0 or epoch == spec.epochs:
            model.eval()
            scores = []
            for v in val:
                assert v.labels is not None
                pred = predict(model, v.image, spec.sw_roi or spec.patch, spec.sw_overlap, spec.sw_batch_size, device)
                scores.append(mean_dice(pred, v.labels, annotated_classes(v.row, classes)))
            vd = float(np.nanmean(scores))
            if vd > best:
                best, best_epoch = vd, epoch
                torch.save({"state_dict": model.state_dict(), "config": config, "epoch": epoch, "val_dice": vd},
                           run_dir / "checkpoints" / "best.pt")
        if sched is not None:
            sched.step()
        lines.append(f"{epoch},{np.mean(losses):.5f},{vd:.5f},{lr:.6g},{time.time() - t0:.1f}")
        (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
        if log:
            log(f"  {spec.name} epoch {epoch}/{spec.epochs}: loss {np.mean(losses):.4f}, val Dice {vd:.4f}")
    secs = time.time() - t0
    res = {"spec_hash": h, "best_epoch": best_epoch, "best_val_dice": best, "epochs_done": spec.epochs,
           "seconds": secs}
    done.write_text(json.dumps(res, indent=2) + "\n")
    return VolumeFitResult(run_dir, best_epoch, best, spec.epochs, secs)


def load_checkpoint(path: str | Path, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Model (eval mode, on ``device``) and config of a run folder or ``best.pt`` file."""
    p = Path(path)
    if p.is_dir():
        p = p / "checkpoints" / "best.pt"
    if not p.is_file():
        raise ConfigError(f"{p}: no checkpoint; train the model first (xraylab train SPEC)")
    ck = torch.load(p, map_location="cpu", weights_only=False)
    cfg = ck.get("config") if isinstance(ck, dict) else None
    if not cfg or "n_out" not in cfg:
        raise ConfigError(f"{p}: not a 3D volume checkpoint (no config); give a run made by a segmentation_3d spec")
    model = build_model(VolumeModelSpec(**cfg["model"]), cfg["n_out"])
    model.load_state_dict(ck["state_dict"])
    return model.to(device).eval(), cfg
