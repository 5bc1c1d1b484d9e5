"""One training epoch and one validation pass.

A training step: batch ``[B, C, H, W]`` → augmentation (strategy of the spec, on the batch's device)
→ with probability ``adversarial.ratio`` the batch is replaced by its FGSM/PGD version (attack run
with the model in eval mode, so that BatchNorm statistics see no extra batches) → task loss, plus
``consistency_weight`` × the disagreement between predictions on the clean and the augmented view
(RTDA) → backward and optimizer step (gradient scaling under CUDA mixed precision).

Randomness comes from the generators in :class:`StepContext`. Divergence raises
:class:`~xraylab.errors.TrainingError` before the optimizer step: a non-finite loss, or a loss above
``DIVERGENCE_FACTOR`` × the run's first loss (``StepContext.first_loss``, at least ``DIVERGENCE_FLOOR``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from xraylab.errors import TrainingError
from xraylab.train.adversarial import fgsm, pgd
from xraylab.train.augment import Augment
from xraylab.train.losses import consistency_loss
from xraylab.train.metrics import make_meter
from xraylab.train.spec import AdversarialSpec

DIVERGENCE_FACTOR = 100.0  # a loss this many times the run's first loss means the run diverged
DIVERGENCE_FLOOR = 0.01  # ... of a first loss at least this large (a near-zero first loss is no yardstick)


@dataclass
class StepContext:
    """Everything one training step needs."""

    model: nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    task: str
    augment: Augment
    adversarial: AdversarialSpec
    aug_generator: torch.Generator
    adv_generator: torch.Generator
    use_amp: bool = False
    first_loss: float | None = None  # the run's first training loss (kept in last.pt), the divergence yardstick

    def autocast(self):
        if self.use_amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.float16)
        return contextlib.nullcontext()


def _attack(ctx: StepContext, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    adv = ctx.adversarial
    was_training = ctx.model.training
    ctx.model.eval()
    try:
        if adv.attack == "fgsm":
            return fgsm(ctx.model, x, y, ctx.loss_fn, adv.eps)
        step = adv.step if adv.step is not None else adv.eps / 4.0
        return pgd(ctx.model, x, y, ctx.loss_fn, adv.eps, step, adv.steps, adv.norm, generator=ctx.adv_generator)
    finally:
        ctx.model.train(was_training)


def train_step(ctx: StepContext, x: torch.Tensor, y: torch.Tensor) -> float:
    """One optimisation step on a batch; returns the loss value."""
    seg = ctx.task == "segmentation"
    x_aug, m_aug = ctx.augment(x, y if seg else None, ctx.aug_generator)
    target = m_aug if seg and m_aug is not None else y
    geometry_changed = seg and m_aug is not None and not torch.equal(m_aug, y)
    adv = ctx.adversarial
    if adv.attack != "none" and adv.eps > 0:
        u = torch.rand((), generator=ctx.adv_generator, device=ctx.adv_generator.device).item()
        if u < adv.ratio:
            x_aug = _attack(ctx, x_aug, target)
    ctx.optimizer.zero_grad(set_to_none=True)
    with ctx.autocast():
        logits = ctx.model(x_aug)
        loss = ctx.loss_fn(logits, target)
        if adv.consistency_weight > 0 and x_aug is not x and not geometry_changed:
            loss = loss + adv.consistency_weight * consistency_loss(ctx.model(x), logits, ctx.task)
    value = float(loss.detach())
    if not torch.isfinite(loss.detach()):
        raise TrainingError(f"loss is {value}")
    if ctx.first_loss is None:
        ctx.first_loss = value
    elif value > DIVERGENCE_FACTOR * max(ctx.first_loss, DIVERGENCE_FLOOR):
        raise TrainingError(f"loss {value:.4g} is over {DIVERGENCE_FACTOR:g}× the run's first loss "
                            f"{ctx.first_loss:.4g}")
    ctx.scaler.scale(loss).backward()
    ctx.scaler.step(ctx.optimizer)
    ctx.scaler.update()
    return value


def train_epoch(ctx: StepContext, loader, progress: Any | None = None) -> dict[str, float]:
    """Run one epoch; returns ``train_loss`` (sample-weighted mean), ``train_images_per_s``, ``n_train``."""
    ctx.model.train()
    total, n = 0.0, 0
    start = time.perf_counter()
    for step, (x, y, _) in enumerate(loader):
        x = x.to(ctx.device, non_blocking=True)
        y = y.to(ctx.device, non_blocking=True)
        try:
            value = train_step(ctx, x, y)
        except TrainingError as exc:
            raise TrainingError(f"step {step}: {exc}") from None
        total += value * x.shape[0]
        n += x.shape[0]
        if progress is not None:
            elapsed = max(time.perf_counter() - start, 1e-9)
            progress.update(1)
            progress.set_postfix(loss=f"{total / n:.4f}", img_s=f"{n / elapsed:.1f}")
    elapsed = max(time.perf_counter() - start, 1e-9)
    return {"train_loss": total / max(n, 1), "train_images_per_s": n / elapsed, "n_train": n}


@torch.no_grad()
def validate(
    model: nn.Module,
    loader,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    task: str,
    classes: list[str],
    device: torch.device,
) -> dict[str, float]:
    """Validation loss and metrics (``mean_dice`` + ``dice:<s>``, or ``balanced_accuracy`` + ``accuracy``)."""
    model.eval()
    meter = make_meter(task, classes)
    total, n = 0.0, 0
    for x, y, _ in loader:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        logits = model(x).float()
        total += float(loss_fn(logits, y)) * x.shape[0]
        n += x.shape[0]
        meter.update(logits, y)
    out = {"loss": total / max(n, 1)}
    out.update(meter.compute())
    return out
