"""Trainer overhead: images/s of one training epoch through ``xraylab.train`` vs a bare PyTorch loop.

Both run in the same process on the same data (a synthetic PNG dataset written to a temporary
folder), the same model (smp U-Net, resnet18 encoder), loss (Dice), optimiser (Adam) and batch size,
with the same DataLoader settings. Target (issue 6): trainer overhead <= 10 %. Reference bare-loop
figures on 2 cores: ~3.8 images/s at depth 5, 256 x 256, batch 8; ~18 images/s at depth 4, 128 x 128.

    .venv/bin/python benchmarks/train.py                       # depth 5, 256 x 256, batch 8, 32 images
    .venv/bin/python benchmarks/train.py --depth 4 --size 128 --images 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xraylab.data.manifest import write_manifest
from xraylab.io.images import write_mask_png, write_png16


def make_dataset(folder: Path, n_train: int, size: int, seed: int = 0) -> Path:
    """``n_train`` training images + 2 validation images with a disc mask, ``size`` x ``size`` pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    rows = []
    for k in range(n_train + 2):
        cy, cx = rng.uniform(0.3, 0.7, 2) * size
        r = rng.uniform(0.1, 0.25) * size
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        img = 0.2 + 0.1 * rng.random((size, size)) + 0.5 * mask
        iid = f"b{k:04d}"
        write_png16(folder / "images" / f"{iid}.png", np.clip(img, 0, 1))
        write_mask_png(folder / "masks" / f"{iid}.png", mask)
        split = "train" if k < n_train else "val"
        rows.append({"image_id": iid, "subject_id": iid, "split": split, "image": f"images/{iid}.png",
                     "mask:disc": f"masks/{iid}.png"})
    write_manifest(folder, pd.DataFrame(rows))
    return folder


def trainer_epoch(data_dir: Path, run_dir: Path, args) -> float:
    """Images/s of the training phase of one ``fit`` epoch (as recorded in metrics.csv)."""
    from xraylab.train.spec import parse_spec
    from xraylab.train.trainer import fit

    spec = parse_spec({
        "name": "bench", "seed": 0, "task": "segmentation", "data": [{"name": "real", "path": str(data_dir)}],
        "image_size": args.size,
        "model": {"name": "unet", "kwargs": {"depth": args.depth, "encoder_name": args.encoder}},
        "loss": {"name": "dice"}, "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 1,
        "batch_size": args.batch, "num_workers": args.workers, "device": args.device,
    })
    fit(spec, run_dir, progress=False)
    return float(pd.read_csv(run_dir / "metrics.csv")["train_images_per_s"].iloc[0])


def bare_epoch(data_dir: Path, args) -> float:
    """Images/s of a plain loop: DataLoader -> model -> Dice loss -> Adam step, nothing else."""
    from torch.utils.data import DataLoader

    from xraylab.data.datasets import ManifestDataset
    from xraylab.train.losses import soft_dice_loss
    from xraylab.train.mixing import load_mixed_data
    from xraylab.train.models import build_model
    from xraylab.train.spec import parse_spec

    spec = parse_spec({
        "task": "segmentation", "data": [{"name": "real", "path": str(data_dir)}], "image_size": args.size,
        "model": {"name": "unet", "kwargs": {"depth": args.depth}},
    })
    table = load_mixed_data(spec).train
    ds = ManifestDataset(table, "segmentation", ["mask:disc"], args.size, 1)
    loader = DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                        generator=torch.Generator().manual_seed(0))
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(0)
    model = build_model("unet", "segmentation", 1, 1, depth=args.depth, encoder_name=args.encoder).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    n, start = 0, time.perf_counter()
    for x, y, _ in loader:
        x, y = x.to(device), y.to(device)
        opt.zero_grad(set_to_none=True)
        loss = soft_dice_loss(model(x), y)
        loss.backward()
        opt.step()
        n += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="image side in pixels")
    ap.add_argument("--depth", type=int, default=5, help="U-Net depth (3-5)")
    ap.add_argument("--batch", type=int, default=8, help="batch size (images)")
    ap.add_argument("--images", type=int, default=32, help="training images in the epoch")
    ap.add_argument("--encoder", default="resnet18", help="smp encoder name")
    ap.add_argument("--workers", type=int, default=0, help="data-loader workers")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=2, help="alternating trainer/bare measurements")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data_dir = make_dataset(tmp / "data", args.images, args.size)
        bare_epoch(data_dir, argparse.Namespace(**{**vars(args), "images": args.batch}))  # warm-up (imports, allocator)
        trainer, bare = [], []
        for r in range(args.repeats):
            trainer.append(trainer_epoch(data_dir, tmp / f"run{r}", args))
            bare.append(bare_epoch(data_dir, args))
    t, b = float(np.median(trainer)), float(np.median(bare))
    print(f"U-Net depth {args.depth} ({args.encoder}), {args.size} x {args.size}, batch {args.batch}, "
          f"{args.images} images/epoch, {torch.get_num_threads()} threads, workers {args.workers}")
    print(f"  trainer   : {t:7.2f} images/s   (runs: {', '.join(f'{v:.2f}' for v in trainer)})")
    print(f"  bare loop : {b:7.2f} images/s   (runs: {', '.join(f'{v:.2f}' for v in bare)})")
    print(f"  overhead  : {100.0 * (b - t) / b:+6.1f} %   (target <= 10 %)")


if __name__ == "__main__":
    main()
