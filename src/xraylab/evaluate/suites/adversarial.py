"""Adversarial suite: FGSM and PGD (L-inf) over an epsilon sweep, segmentation and classification.

The attacks are the shared trainer's :mod:`xraylab.train.adversarial` (one implementation for
adversarial training and evaluation). Segmentation models are attacked through the mean binary
cross-entropy of their logits against the true masks, classifiers through cross-entropy against
the true class. Epsilon is in image-intensity units (images in [0, 1]). Rows carry ``attack``
and ``epsilon``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from xraylab.evaluate import aggregate, plots
from xraylab.evaluate.data import load_rows
from xraylab.evaluate.engine import classification_rows, segmentation_rows
from xraylab.evaluate.models import EvalModel
from xraylab.evaluate.report import Section, Table
from xraylab.evaluate.spec import AdversarialSuite
from xraylab.evaluate.suites.base import Context

NAME = "adversarial"


def _seg_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, y.float())


def _cls_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


def make_perturb(model: EvalModel, attack: str, eps: float, cfg: AdversarialSuite, seed: int, device):
    """A ``perturb(x, y)`` callable running ``attack`` with budget ``eps`` against ``model``."""
    from xraylab.train.adversarial import fgsm, pgd

    loss = _seg_loss if model.is_segmentation else _cls_loss
    gen = torch.Generator(device=torch.device(device)).manual_seed(seed)
    step = cfg.pgd_step_ratio * eps / cfg.pgd_steps

    def perturb(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            if attack == "fgsm":
                return fgsm(model.module, x, y, loss, eps)
            return pgd(model.module, x, y, loss, eps, step, cfg.pgd_steps, norm="linf", generator=gen)

    return perturb


def run(ctx: Context, cfg: AdversarialSuite) -> pd.DataFrame:
    rows = load_rows(cfg.dataset, cfg.split, cfg.max_images)
    frames = []
    for model in ctx.pool.select(cfg.models, segmentation=None):
        for attack in cfg.attacks:
            for eps in cfg.epsilons:
                perturb = make_perturb(model, attack, eps, cfg, ctx.seed, ctx.device)
                common = dict(batch_size=ctx.batch_size, device=ctx.device, perturb=perturb, attack=attack, epsilon=eps)
                if model.is_segmentation:
                    frames.append(segmentation_rows(model, rows, cfg.dataset, NAME, dice_empty=cfg.dice_empty,
                                                    hd_empty=cfg.hd_empty, spacing_mm=cfg.spacing_mm,
                                                    distances=cfg.distances, **common))
                else:
                    frames.append(classification_rows(model, rows, cfg.dataset, NAME, **common))
    return pd.concat(frames, ignore_index=True)


def report(df: pd.DataFrame, cfg: AdversarialSuite, fig_dir: Path) -> Section:
    tabs, figs = [], []
    for metric, cls, label, stem in (
        ("dice", "mean", "Dice (fraction)", "segmentation"),
        ("correct", None, "Accuracy (fraction)", "classification"),
    ):
        d = df[df["metric"] == metric]
        if d.empty:
            continue
        t = aggregate.epsilon_table(d, metric, cls)
        t.columns = [f"{c:.4g}" for c in t.columns]
        tabs.append(Table(f"adversarial_{stem}", t, f"{label} vs ε (image-intensity units) per model and attack",
                          best=aggregate.best_per_column(t, True), best_note="per ε, higher is better"))
        curves = aggregate.epsilon_table(d, metric, cls).T
        order = list(dict.fromkeys(m for m, _ in curves.columns))
        styles = {
            c: {"ls": "--" if c[1] == "pgd" else "-",
                "color": plots.MODEL_COLOURS[order.index(c[0]) % len(plots.MODEL_COLOURS)],
                "marker": "s" if c[1] == "pgd" else "o"}
            for c in curves.columns
        }
        figs.append((plots.line_plot(curves, "ε (L∞ budget, image intensity in [0, 1])", label,
                                     f"{stem.capitalize()} under FGSM (solid) and PGD (dashed)",
                                     fig_dir / f"adversarial_{stem}.png", styles),
                     f"{label} vs ε for each model and attack"))
    text = (f"Attacks from `xraylab.train.adversarial`; PGD: {cfg.pgd_steps} steps of {cfg.pgd_step_ratio:g}·ε/steps "
            "with a random start (seeded).")
    return Section(title="Adversarial suite (FGSM / PGD)", text=text, tables=tabs, figures=figs)
