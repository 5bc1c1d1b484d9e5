"""Augmentation strategies: RAMP sampler statistics, Table 1 stages, label handling, records."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from xraylab.degrade import ramp, registry
from xraylab.degrade.ct import FAMILIES
from xraylab.degrade.pipelines import AUGMENTATIONS, make_augmentation
from xraylab.degrade.rng import make_generator
from xraylab.errors import ConfigError

N_DRAWS = 6000


def _plans(p_ramp=0.85, k=(2, 3, 4), pool=ramp.CT_POOL, seed=0, n=N_DRAWS):
    g = make_generator(seed)
    return [ramp.sample_corruptions(g, p_ramp, k, list(pool)) for _ in range(n)]


def test_ramp_sampler_fraction_and_k_distribution():
    plans = _plans()
    frac = np.mean([bool(p) for p in plans])
    sd = np.sqrt(0.85 * 0.15 / N_DRAWS)
    assert abs(frac - 0.85) < 4 * sd, frac
    ks = Counter(len(p) for p in plans if p)
    n_aug = sum(ks.values())
    assert set(ks) == {2, 3, 4}
    for k in (2, 3, 4):
        assert abs(ks[k] / n_aug - 1 / 3) < 4 * np.sqrt(2 / 9 / n_aug), ks
    # without replacement, uniform over the 13-operator pool, severities over [1, 5]
    assert all(len({name for name, _ in p}) == len(p) for p in plans)
    counts = Counter(name for p in plans for name, _ in p)
    assert set(counts) == set(ramp.CT_POOL) and len(counts) == 13
    expected = sum(counts.values()) / 13
    assert max(abs(c - expected) for c in counts.values()) < 5 * np.sqrt(expected)
    sev = np.array([s for p in plans for _, s in p])
    assert sev.min() >= 1.0 and sev.max() <= 5.0 and abs(sev.mean() - 3.0) < 0.05


def test_ramp_sampler_is_configurable_for_ablations():
    assert abs(np.mean([bool(p) for p in _plans(p_ramp=0.5, n=3000)]) - 0.5) < 0.04
    assert {len(p) for p in _plans(k=(3,), n=500) if p} == {3}
    cfg = ramp.RampConfig(exclude=("noise",))
    pool = cfg.corruption_pool()
    assert not set(FAMILIES["noise"]) & set(pool) and len(pool) == 13 - len(FAMILIES["noise"])
    drawn = {n for p in _plans(pool=pool, n=500) for n, _ in p}
    assert drawn == set(pool)
    assert _plans(p_ramp=0.0, n=200) == [[]] * 200


def test_every_strategy_runs_and_records_per_sample(xray_image, derm_image):
    x = torch.nn.functional.interpolate(xray_image, size=(48, 48), mode="area").repeat(3, 1, 1, 1)
    rgb = torch.nn.functional.interpolate(derm_image, size=(48, 48), mode="area").repeat(3, 1, 1, 1)
    mask = (x > 0.5).float()
    for strategy in AUGMENTATIONS.names():
        img = rgb if strategy == "dermoscopy" else x
        y, m, recs = make_augmentation(strategy)(img, mask, make_generator(0))
        assert y.shape == img.shape and m.shape == mask.shape and len(recs) == 3
        for rec in recs:
            for r in rec:
                assert {"stage", "op", "params"} <= set(r)
                if r["stage"] == "corruption":
                    op = registry.get(r["op"])
                    assert op.params(r["severity"]) == r["params"]
    _, _, recs = make_augmentation("none")(x, mask, make_generator(0))
    assert recs == [[], [], []]


def test_strategies_draw_from_their_pools(xray_image):
    x = torch.nn.functional.interpolate(xray_image, size=(24, 24), mode="area").repeat(40, 1, 1, 1)
    ops = lambda recs: {r["op"] for rec in recs for r in rec}  # noqa: E731
    trad = ops(make_augmentation("traditional", p_clean=0.0)(x, None, make_generator(1))[2])
    assert trad == {"gaussian_blur", "gaussian_noise", "high_brightness", "low_brightness"}
    phys = ops(make_augmentation("physics", p_clean=0.0)(x, None, make_generator(1))[2])
    assert phys <= set(registry.names("xray")) and not phys & trad and len(phys) >= 5
    art = make_augmentation("ramp_artifact")(x, None, make_generator(1))[2]
    assert ops(art) <= {"ct_ghosting", "ct_stripe", "ct_bias_field", "ct_motion_blur"}
    assert {len(r) for r in art} <= {0, 1, 2}
    geo = make_augmentation("ramp_geometric")(x, None, make_generator(1))[2]
    assert ops(geo) <= {"flip", "elastic"} and ops(geo)
    inten = make_augmentation("ramp_intensity")(x, None, make_generator(1))[2]
    assert ops(inten) == {"gamma", "window", "histogram_warp", "local_contrast", "sharpen"}
    single = make_augmentation("medmnistc", modality="dermoscopy", p_clean=0.0, pool="gaussian_noise,resolution")
    assert ops(single(x.repeat(1, 3, 1, 1), None, make_generator(2))[2]) == {"gaussian_noise", "resolution"}


def test_levels_are_discrete_or_continuous(xray_image):
    x = torch.nn.functional.interpolate(xray_image, size=(16, 16), mode="area").repeat(30, 1, 1, 1)
    recs = make_augmentation("physics", p_clean=0.0)(x, None, make_generator(3))[2]
    assert {r[0]["severity"] for r in recs} <= {1.0, 2.0, 3.0, 4.0}
    recs = make_augmentation("physics", p_clean=0.0, discrete=False)(x, None, make_generator(3))[2]
    sev = [r[0]["severity"] for r in recs]
    assert all(0 <= s <= 4 for s in sev) and any(s != round(s) for s in sev)


def test_p_clean_fraction():
    x = torch.rand(1000, 1, 4, 4, generator=make_generator(0))
    _, _, recs = make_augmentation("traditional", p_clean=0.3)(x, None, make_generator(4))
    frac = np.mean([not r for r in recs])
    assert abs(frac - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 1000)


def test_ramp_masks_follow_spatial_ops_only(ct_slice):
    x = torch.nn.functional.interpolate(ct_slice, size=(64, 64), mode="area").repeat(12, 1, 1, 1)
    labels = torch.zeros(12, 1, 64, 64, dtype=torch.long)
    labels[:, :, 5:25, 10:50] = 1
    labels[:, :, 40:60, 30:40] = 4
    y, m, recs = make_augmentation("ramp")(x, labels, make_generator(5))
    assert m.dtype == torch.long and set(m.unique().tolist()) <= {0, 1, 4}
    seen = set()
    for i, rec in enumerate(recs):
        spatial = [r for r in rec if r["stage"] == "spatial"]
        seen.update(r["op"] for r in spatial)
        if not spatial:
            assert torch.equal(m[i], labels[i])
        elif [r["op"] for r in spatial] == ["flip"]:
            axes = [a + 1 for a in spatial[0]["params"]["axes"]]
            assert torch.equal(m[i], labels[i].flip(axes))
    assert "flip" in seen


def test_ramp_spatial_ops_move_image_and_mask_together():
    """Flip and elastic deformation keep a bright square and its label aligned."""
    x = torch.zeros(1, 1, 64, 64)
    x[..., 20:40, 10:30] = 1.0
    mask = (x > 0.5).to(torch.uint8)
    g = make_generator(0)
    y, m, _ = ramp.random_flip(x, mask, g, 1.0)
    assert torch.equal((y > 0.5).to(torch.uint8), m)
    y, m, rec = ramp.elastic(x, mask, make_generator(1), alpha=400.0, sigma=6.0)
    assert not torch.equal(m, mask)  # it really deformed
    agree = ((y > 0.5).to(torch.uint8) == m).float().mean()
    assert agree > 0.99
    y0, m0, _ = ramp.elastic(x, mask, make_generator(1), alpha=0.0, sigma=6.0)
    assert torch.equal(m0, mask) and torch.allclose(y0, x, atol=1e-5)


def test_ramp_intensity_transforms_follow_table1():
    g = make_generator(0)
    ramp_x = torch.linspace(0, 1, 101).view(1, 1, 1, 101)
    for _ in range(20):
        out, rec = ramp.histogram_warp(ramp_x, g, 3, 0.2)
        assert (out[..., 1:] >= out[..., :-1] - 1e-6).all()  # monotonic
        assert float(out[..., 0]) == pytest.approx(0, abs=1e-6) and float(out[..., -1]) == pytest.approx(1, abs=1e-5)
        _, rec = ramp.multi_gamma(ramp_x, g, (0.6, 1.6), (0.7, 1.3))
        assert 0.6 <= rec["params"]["gamma1"] <= 1.6 and 0.7 <= rec["params"]["gamma2"] <= 1.3
        _, rec = ramp.window_shift(ramp_x, g, (-0.15, 0.15), (0.7, 1.3))
        assert abs(rec["params"]["center_shift"]) <= 0.15 and 0.7 <= rec["params"]["width_scale"] <= 1.3
        _, rec = ramp.local_contrast(torch.rand(1, 1, 8, 16, 16, generator=g), g, 4, 0.35)
        assert 0 <= rec["params"]["blend"] <= 0.35
        _, rec = ramp.sharpen(ramp_x, g, (0.5, 2.5), (0.2, 1.5))
        assert 0.5 <= rec["params"]["sigma"] <= 2.5 and 0.2 <= rec["params"]["strength"] <= 1.5
    # per-operation trigger rates match Table 1
    cfg = ramp.RampConfig()
    x = torch.rand(1, 1, 8, 8, generator=g)
    counts: Counter = Counter()
    n = 1500
    for _ in range(n):
        counts.update(r["op"] for r in ramp.intensity_stage(x, g, cfg)[1])
    for op, p in (
        ("gamma", 0.45), ("window", 0.45), ("histogram_warp", 0.40), ("local_contrast", 0.35), ("sharpen", 0.30)
    ):
        assert abs(counts[op] / n - p) < 4 * np.sqrt(p * (1 - p) / n), (op, counts[op] / n)


def test_augmentation_is_deterministic_and_validates_options(ct_volume):
    x = ct_volume.repeat(2, 1, 1, 1, 1)
    a = make_augmentation("ramp", k=[2], p_ramp=1.0)
    y1, _, r1 = a(x, None, make_generator(9))
    y2, _, r2 = a(x, None, make_generator(9))
    assert torch.equal(y1, y2) and r1 == r2
    assert all(len([r for r in rec if r["stage"] == "corruption"]) == 2 for rec in r1)
    with pytest.raises(ConfigError, match="unknown augmentation strategy"):
        make_augmentation("autoaugment")
    with pytest.raises(ConfigError, match="p_ramp"):
        make_augmentation("ramp", p_ramp=1.5)
    with pytest.raises(ConfigError, match="unknown RAMP option"):
        make_augmentation("ramp", p_rampp=0.5)
    with pytest.raises(ConfigError, match="unknown option"):
        make_augmentation("physics", strength=3)
    with pytest.raises(ConfigError, match="unknown corruption"):
        make_augmentation("ramp", pool=["ct_gaussian_noise", "nope"])


def test_synthetic_strategy_moves_masks_with_images_and_keeps_sides():
    import torch

    from xraylab.degrade.pipelines import make_augmentation

    aug = make_augmentation("synthetic", p_clean=0.0, p_affine=1.0, p_elastic=0.0, p_traditional=0.0)
    img = torch.zeros(6, 1, 64, 64)
    mask = torch.zeros(6, 2, 64, 64)
    img[:, :, 20:44, 6:26] = 1.0      # a bright block on the image's left ...
    mask[:, 0, 20:44, 6:26] = 1.0     # ... is structure 0
    img[:, :, 20:44, 38:58] = 0.5
    mask[:, 1, 20:44, 38:58] = 1.0    # structure 1 on the image's right
    g = torch.Generator().manual_seed(3)
    out, m, recs = aug(img, mask, g)
    assert out.shape == img.shape and m.shape == mask.shape
    assert all(any(r.get("op") == "affine" for r in rec) for rec in recs)
    cols = torch.arange(64.0)
    for b in range(6):
        c0 = (m[b, 0].sum(0) * cols).sum() / m[b, 0].sum()
        c1 = (m[b, 1].sum(0) * cols).sum() / m[b, 1].sum()
        assert c0 < 32 < c1  # no flip: left stays left
        assert not torch.equal(m[b], mask[b])  # the affine moved the masks
    again, _, _ = make_augmentation("synthetic", p_clean=0.0, p_affine=1.0, p_elastic=0.0, p_traditional=0.0)(
        img, mask, torch.Generator().manual_seed(3))
    assert torch.equal(again, out)
