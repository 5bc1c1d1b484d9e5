"""Explicit random streams for the degradations (never the global torch RNG).

Every draw is made on the *generator's* device and then moved to the image's
device, so one CPU ``torch.Generator`` gives bit-identical noise fields for a
CPU and a CUDA image (the CPU/CUDA equivalence the contract test checks).
"""

from __future__ import annotations

from typing import Sequence

import torch

from xraylab.seeding import derive_seed  # noqa: F401  (the degradations' seeds; defined in xraylab.seeding)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def fresh_generator() -> torch.Generator:
    """A CPU generator seeded from OS entropy (used when a caller passes ``generator=None``)."""
    g = torch.Generator(device="cpu")
    g.seed()
    return g


def randn(shape: Sequence[int], g: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal samples of ``shape`` with ``like``'s dtype and device."""
    return torch.randn(tuple(shape), generator=g, device=g.device, dtype=torch.float32).to(like.device, like.dtype)


def rand(shape: Sequence[int], g: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) samples of ``shape`` with ``like``'s dtype and device."""
    return torch.rand(tuple(shape), generator=g, device=g.device, dtype=torch.float32).to(like.device, like.dtype)


def uniform(g: torch.Generator, lo: float, hi: float) -> float:
    """One uniform draw in [lo, hi) as a Python float."""
    u = torch.rand((), generator=g, device=g.device).item()
    return float(lo + (hi - lo) * u)


def bernoulli(g: torch.Generator, p: float) -> bool:
    """One Bernoulli(p) draw."""
    return bool(torch.rand((), generator=g, device=g.device).item() < p)


def randint(g: torch.Generator, lo: int, hi: int) -> int:
    """One integer draw in [lo, hi] (inclusive)."""
    return int(torch.randint(int(lo), int(hi) + 1, (), generator=g, device=g.device).item())


def sign(g: torch.Generator) -> float:
    """+1.0 or -1.0 with equal probability."""
    return 1.0 if bernoulli(g, 0.5) else -1.0


def choice(g: torch.Generator, n: int, k: int) -> list[int]:
    """``k`` distinct indices from ``range(n)`` without replacement, in draw order."""
    perm = torch.randperm(int(n), generator=g, device=g.device)
    return [int(i) for i in perm[:k].tolist()]


def poisson(rate: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Poisson samples with mean ``rate`` (drawn on the generator's device)."""
    out = torch.poisson(rate.detach().to(g.device, torch.float32), generator=g)
    return out.to(rate.device, rate.dtype)
