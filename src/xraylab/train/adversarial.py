"""Gradient attacks on the task loss: FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018).

Both take images ``x`` ``[B, C, H, W]`` in [0, 1], targets ``y`` in the form ``loss_fn`` expects, and a
budget ``eps`` in image units; they return a detached perturbed copy clamped to [0, 1] that lies in
the ε-ball around ``x`` (L∞ or L2 per image). The model's parameters get no gradient and its
train/eval mode is left as the caller set it; gradients are enabled inside, so the attacks also
work under ``torch.no_grad()``. ``eps = 0`` returns ``x`` unchanged.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> torch.Tensor:
    with torch.enable_grad():  # callers may run under torch.no_grad()
        x = x.detach().requires_grad_(True)
        loss = loss_fn(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _l2_normalise(g: torch.Tensor) -> torch.Tensor:
    norm = g.flatten(1).norm(dim=1).clamp_min(1e-12)
    return g / norm.view(-1, *([1] * (g.ndim - 1)))


def _project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    n = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    factor = torch.clamp(eps / n, max=1.0)
    return delta * factor.view(-1, *([1] * (delta.ndim - 1)))


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, eps: float) -> torch.Tensor:
    """One signed-gradient step of size ``eps`` (L∞) that increases ``loss_fn(model(x), y)``."""
    if eps <= 0:
        return x.detach().clone()
    grad = _input_grad(model, x, y, loss_fn)
    return (x.detach() + eps * grad.sign()).clamp(0.0, 1.0)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: LossFn,
    eps: float,
    step: float,
    steps: int,
    norm: str = "linf",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient ascent: ``steps`` steps of size ``step`` inside the ``norm`` ε-ball.

    ``norm``: ``"linf"`` (signed-gradient steps) or ``"l2"`` (normalised-gradient steps, per image).
    ``generator``: when given, start from a uniform random point of the L∞ ball (random start,
    drawn on ``generator``'s device and moved to ``x``'s); otherwise start at ``x``.
    """
    if norm not in ("linf", "l2"):
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
    x0 = x.detach()
    if eps <= 0 or steps <= 0:
        return x0.clone()
    if generator is not None:
        u = torch.rand(x0.shape, generator=generator, device=generator.device, dtype=x0.dtype).to(x0.device)
        delta = _project((2.0 * u - 1.0) * eps, eps, norm)
    else:
        delta = torch.zeros_like(x0)
    for _ in range(steps):
        xa = (x0 + delta).clamp(0.0, 1.0)
        grad = _input_grad(model, xa, y, loss_fn)
        direction = grad.sign() if norm == "linf" else _l2_normalise(grad)
        delta = _project(xa - x0 + step * direction, eps, norm)
    return (x0 + delta).clamp(0.0, 1.0).detach()
