"""Property tests (hypothesis): any shape, any values, any severity in range -> contract holds."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xraylab.degrade import registry
from xraylab.degrade.pipelines import make_augmentation
from xraylab.degrade.rng import make_generator

NAMES = registry.names()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw):
    name = draw(st.sampled_from(NAMES))
    op = registry.get(name)
    b = draw(st.integers(1, 2))
    c = 3 if op.channels == 3 else draw(st.sampled_from([1, 3]))
    nd = 3 if (op.volumetric and draw(st.booleans())) else 2
    spatial = tuple(draw(st.integers(3, 24)) for _ in range(nd))
    sev = draw(st.floats(0.0, float(op.n_levels), allow_nan=False))
    seed = draw(st.integers(0, 2**31 - 1))
    kind = draw(st.sampled_from(["uniform", "constant", "binary"]))
    g = make_generator(seed)
    if kind == "uniform":
        x = torch.rand((b, c) + spatial, generator=g)
    elif kind == "constant":
        x = torch.full((b, c) + spatial, draw(st.floats(0.0, 1.0)))
    else:
        x = (torch.rand((b, c) + spatial, generator=g) > 0.5).float()
    return op, x, sev, seed


@SETTINGS
@given(cases())
def test_any_input_keeps_shape_range_and_is_deterministic(case):
    op, x, sev, seed = case
    y = op.apply(x, sev, make_generator(seed))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.isfinite(y).all()
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert torch.equal(y, op.apply(x, sev, make_generator(seed)))
    if sev == 0.0:
        assert torch.equal(y, x)


@SETTINGS
@given(
    strategy=st.sampled_from(["ramp", "ramp_geometric", "ramp_intensity", "ramp_artifact", "traditional", "physics"]),
    size=st.tuples(st.integers(4, 20), st.integers(4, 20)),
    seed=st.integers(0, 2**31 - 1),
    volume=st.booleans(),
)
def test_augmentation_keeps_labels_discrete_and_aligned(strategy, size, seed, volume):
    volume = volume and strategy.startswith("ramp")
    spatial = ((5,) if volume else ()) + size
    g = make_generator(seed)
    x = torch.rand((2, 1) + spatial, generator=g)
    mask = (torch.rand((2, 2) + spatial, generator=g) > 0.6).to(torch.uint8) * 2
    aug = make_augmentation(strategy, p_clean=0.0)
    y, m, recs = aug(x, mask, make_generator(seed))
    assert y.shape == x.shape and m.shape == mask.shape and m.dtype == mask.dtype
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert set(m.unique().tolist()) <= {0, 2}
    for i, rec in enumerate(recs):
        moved = any(r["stage"] == "spatial" or r["op"] == "acquisition_geometry" for r in rec)
        if not moved:
            assert torch.equal(m[i], mask[i])
