"""FGSM/PGD: ε-ball, [0, 1] range, ε = 0 no-op, PGD stronger than FGSM, no parameter gradients."""

from __future__ import annotations

import pytest
import torch

from xraylab.train.adversarial import fgsm, pgd
from xraylab.train.losses import build_loss
from xraylab.train.models import build_model


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = build_model("small_cnn", "classification", 1, 3).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(8, 1, 32, 32, generator=g)
    y = torch.randint(0, 3, (8,), generator=g)
    return model, x, y, build_loss("ce", "classification")


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_the_eps_ball_and_in_range(setup, norm):
    model, x, y, loss = setup
    eps = 0.05 if norm == "linf" else 0.5
    xa = pgd(model, x, y, loss, eps, eps / 4, 8, norm=norm, generator=torch.Generator().manual_seed(2))
    d = (xa - x).flatten(1)
    assert not torch.equal(xa, x)
    size = d.abs().amax(1) if norm == "linf" else d.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    assert xa.min() >= 0 and xa.max() <= 1
    assert not xa.requires_grad


def test_pgd_raises_the_loss_more_than_fgsm(setup):
    model, x, y, loss = setup
    eps = 0.03
    with torch.no_grad():  # the attacks enable gradients themselves
        clean = loss(model(x), y)
        l_fgsm = loss(model(fgsm(model, x, y, loss, eps)), y)
        l_pgd = loss(model(pgd(model, x, y, loss, eps, eps / 4, 10)), y)
    assert clean < l_fgsm < l_pgd


def test_segmentation_attack_raises_dice_loss():
    torch.manual_seed(0)
    model = build_model("unet", "segmentation", 1, 2, depth=3).eval()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 1, 32, 32, generator=g)
    y = (torch.rand(2, 2, 32, 32, generator=g) > 0.5).float()
    loss = build_loss("dice_bce", "segmentation")
    with torch.no_grad():
        assert loss(model(pgd(model, x, y, loss, 0.03, 0.01, 3)), y) > loss(model(x), y)


def test_eps_zero_is_a_no_op_and_parameters_get_no_gradient(setup):
    model, x, y, loss = setup
    assert torch.equal(fgsm(model, x, y, loss, 0.0), x)
    assert torch.equal(pgd(model, x, y, loss, 0.0, 0.01, 5, generator=torch.Generator().manual_seed(0)), x)
    pgd(model, x, y, loss, 0.03, 0.01, 2)
    assert all(p.grad is None for p in model.parameters())


def test_random_start_is_reproducible_from_the_generator(setup):
    model, x, y, loss = setup
    a = pgd(model, x, y, loss, 0.03, 0.01, 2, generator=torch.Generator().manual_seed(5))
    b = pgd(model, x, y, loss, 0.03, 0.01, 2, generator=torch.Generator().manual_seed(5))
    c = pgd(model, x, y, loss, 0.03, 0.01, 2, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
