"""Optimiser and learning-rate schedule of every training run (2D trainer and 3D volume trainer alike).

Built from :class:`~xraylab.train.spec.OptimizerSpec` and :class:`~xraylab.train.spec.SchedulerSpec`; the schedule
is stepped once per epoch, after it.
"""

from __future__ import annotations

from typing import Iterable

import torch

from xraylab.train.spec import OptimizerSpec, SchedulerSpec


def build_optimizer(o: OptimizerSpec, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """Adam / AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019) or SGD with Nesterov momentum (nnU-Net's)."""
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.momentum > 0,
                               weight_decay=o.weight_decay)
    cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
    return cls(params, lr=o.lr, weight_decay=o.weight_decay)


def build_scheduler(s: SchedulerSpec, optimizer: torch.optim.Optimizer, epochs: int):
    """The per-epoch schedule, or None for a fixed rate. ``poly`` is nnU-Net's: after ``e`` epochs the rate is
    lr0 (1 - e / epochs)^exponent (Isensee et al., Nat. Methods 2021)."""
    if s.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=s.min_lr)
    if s.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.name == "poly":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda e: max(0.0, 1.0 - e / epochs) ** s.exponent)
    return None
