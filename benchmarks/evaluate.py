"""Benchmark: HD95 on 1,000 pairs of 256 x 256 masks, xraylab vs MONAI, in the same run.

Target (issue 7): xraylab's time <= 1.2x MONAI's (MONAI: about 340-400 pairs/s on 2 cores).
Masks: a random ellipse (the ground truth) and a perturbed copy (shifted, rescaled, with a
few boundary bumps) as the prediction -- the shapes a segmentation model produces.

Usage: .venv/bin/python benchmarks/evaluate.py [--pairs 1000] [--size 256] [--repeats 3] [--threads N]
Prints throughput (pairs/s) for both and the largest absolute difference of the values.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch


def make_pairs(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boolean ``[n, 1, size, size]`` prediction and ground-truth masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    pred = np.zeros((n, 1, size, size), bool)
    gt = np.zeros_like(pred)
    for i in range(n):
        cy, cx = rng.uniform(0.3, 0.7, 2) * size
        ry, rx = rng.uniform(0.05, 0.25, 2) * size
        th = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dy * np.cos(th) + dx * np.sin(th)) / ry
        v = (-dy * np.sin(th) + dx * np.cos(th)) / rx
        gt[i, 0] = u * u + v * v <= 1
        sy, sx = rng.normal(0, 0.03 * size, 2)
        k = rng.uniform(0.85, 1.15)
        u2 = ((dy - sy) * np.cos(th) + (dx - sx) * np.sin(th)) / (ry * k)
        v2 = (-(dy - sy) * np.sin(th) + (dx - sx) * np.cos(th)) / (rx * k)
        p = u2 * u2 + v2 * v2 <= 1
        for _ in range(rng.integers(0, 4)):  # bumps: small discs on the boundary
            by, bx = rng.uniform(0, size, 2)
            p |= (yy - by) ** 2 + (xx - bx) ** 2 <= rng.uniform(2, 8) ** 2
        pred[i, 0] = p
    return pred, gt


def time_it(fn, repeats: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, np.asarray(out, dtype=np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for both (default: torch's choice); "
                    "on a busy machine MONAI's tensor ops run far faster with 1")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from monai.metrics import compute_hausdorff_distance

    from xraylab.evaluate.metrics import hd95

    pred, gt = make_pairs(args.pairs, args.size)
    tp, tg = torch.from_numpy(pred), torch.from_numpy(gt)
    print(
        f"{args.pairs} pairs of {args.size}x{args.size} masks; "
        f"torch threads: {torch.get_num_threads()}; best of {args.repeats}"
    )

    def monai_run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compute_hausdorff_distance(tp, tg, include_background=True, percentile=95).numpy()

    t_x, v_x = time_it(lambda: hd95(tp, tg, empty="monai"), args.repeats)
    t_m, v_m = time_it(monai_run, args.repeats)
    print(f"xraylab hd95 : {t_x:7.3f} s  {args.pairs / t_x:8.1f} pairs/s")
    print(f"MONAI   hd95 : {t_m:7.3f} s  {args.pairs / t_m:8.1f} pairs/s")
    print(f"time ratio xraylab / MONAI: {t_x / t_m:.2f} (target <= 1.2)")
    print(f"max |xraylab - MONAI|: {np.nanmax(np.abs(v_x - v_m)):.2e} pixels; mean HD95 {np.nanmean(v_x):.2f} pixels")


if __name__ == "__main__":
    main()
