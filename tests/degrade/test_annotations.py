"""Burnt-in annotations (``burnt_in``): identity, exact added-pixel masks, growth with level, placement outside the
lungs, determinism, channels and shapes, the ``synthetic`` strategy option, default pools and ``xraylab degrade``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import ImageFont

from xraylab.degrade import annotations, registry
from xraylab.degrade.annotations import FIELD_MM, BurntIn, burn_in, text_coverage
from xraylab.degrade.pipelines import make_augmentation
from xraylab.degrade.rng import make_generator
from xraylab.errors import ConfigError

SEEDS = range(12)


@pytest.fixture(scope="module")
def xray(xray_image) -> torch.Tensor:
    """The 256 x 256 synthetic radiograph, two samples (the second mirrored)."""
    return torch.cat([xray_image, xray_image.flip(-1)], 0)


def _bbox(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive, of a 2D bool mask."""
    rows = torch.nonzero(mask.any(1)).flatten()
    cols = torch.nonzero(mask.any(0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def test_registered_as_an_opt_in_xray_corruption_with_four_levels():
    op = registry.get("burnt_in")
    assert isinstance(op, BurntIn) and op.modalities == ("xray",) and not op.spatial
    assert op.levels == [1, 2, 3, 4] and op.adds == "burnt_in" and op.opt_in
    assert "burnt_in" in registry.names("xray") and "burnt_in" not in registry.defaults("xray")
    assert registry.defaults("ct") == registry.names("ct")
    # the layout has a slot for every item the table can ask for
    t = op.table
    assert max(t["markers"]) <= annotations.MAX_MARKERS and max(t["text_blocks"]) <= annotations.MAX_BLOCKS
    assert max(t["text_lines"]) <= annotations.MAX_LINES and max(t["rulers"]) <= annotations.MAX_LINEAR


def test_severity_zero_is_identity_with_an_empty_mask(xray):
    y, added = burn_in(xray, 0, make_generator(0))
    assert torch.equal(y, xray) and y.data_ptr() != xray.data_ptr()
    assert added.shape == (2, 1, 256, 256) and added.dtype == torch.bool and not added.any()


@pytest.mark.parametrize("level", [1, 2, 3, 4, 2.5])
def test_pixels_change_only_inside_the_mask_and_the_corruption_agrees(xray, level):
    for seed in (0, 1, 2):
        y, added = burn_in(xray, level, make_generator(seed))
        assert added.any()
        outside = ~added.expand_as(xray)
        assert torch.equal(y[outside], xray[outside])  # bit for bit
        changed = (y != xray).any(1, keepdim=True)
        assert not (changed & ~added).any()
        assert changed[added].float().mean() > 0.9  # the mask is what was drawn, not a loose box
        assert torch.equal(registry.get("burnt_in").apply(xray, level, make_generator(seed)), y)


def test_mask_area_grows_with_level(xray):
    area = [np.mean([float(burn_in(xray, lv, make_generator(s))[1].float().mean()) for s in SEEDS])
            for lv in (1, 2, 3, 4)]
    assert all(a < b for a, b in zip(area, area[1:])), area
    assert area[0] > 2e-4  # a 12 mm letter on a 430 mm field covers a few hundredths of a percent


def test_level_one_marker_lies_in_an_upper_lateral_corner_outside_the_lungs():
    for h, w in ((256, 256), (300, 200), (180, 320)):
        x = torch.full((1, 1, h, w), 0.3)
        for seed in range(40):
            _, added = burn_in(x, 1, make_generator(seed))
            m = added[0, 0]
            assert m.any()
            assert not m[int(0.3 * h) : int(0.7 * h), int(0.3 * w) : int(0.7 * w)].any()  # central 40 % box
            top, left, bottom, right = _bbox(m)
            assert bottom < 0.35 * h, (h, w, seed)  # upper part of the image
            assert right < 0.25 * w or left > 0.75 * w, (h, w, seed)  # near a side
            assert float(burn_in(x, 1, make_generator(seed))[0][0, 0][m].max()) >= 0.95  # lead: near white


def test_marker_size_in_mm_follows_the_longer_side_and_field_mm():
    def cap_px(h, w, field_mm=FIELD_MM, seed=3):
        _, added = burn_in(torch.zeros(1, 1, h, w), 1, make_generator(seed), field_mm=field_mm)
        top, _, bottom, _ = _bbox(added[0, 0])
        return bottom - top + 1

    expected = 12.0 * 320 / FIELD_MM  # the 12 mm letter of level 1, about 8.9 px
    for shape in ((320, 320), (320, 200), (200, 320)):
        assert abs(cap_px(*shape) - expected) <= 2.0, shape
    assert abs(cap_px(640, 640) - 2 * expected) <= 3.0  # twice the pixels, twice the size: same look
    assert abs(cap_px(320, 320, field_mm=FIELD_MM / 2) - 2 * expected) <= 3.0
    with pytest.raises(ConfigError, match="field_mm"):
        BurntIn(0.0)


def test_same_seed_same_output_other_seed_other_layout(xray):
    a, ma = burn_in(xray, 3, make_generator(5))
    b, mb = burn_in(xray, 3, make_generator(5))
    assert torch.equal(a, b) and torch.equal(ma, mb)
    c, mc = burn_in(xray, 3, make_generator(6))
    assert not torch.equal(ma, mc)
    assert not torch.equal(ma[0], ma[1])  # each sample of a batch has its own layout


def test_one_seed_gives_one_layout_at_every_level(xray):
    """Draws do not depend on the severity: the level-1 marker sits where the level-2 marker sits."""
    for seed in SEEDS:
        m = [burn_in(xray[:1], lv, make_generator(seed))[1][0, 0] for lv in (1, 2, 3)]
        assert (m[0] & m[1]).any() and (m[0] & m[2]).any()


def test_fractional_counts_add_an_item_with_the_fractional_probability():
    x = torch.zeros(1, 1, 128, 128)
    drawn = [bool(burn_in(x, 0.5, make_generator(s))[1].any()) for s in range(60)]
    assert 15 <= sum(drawn) <= 45  # a marker with probability 0.5


def test_one_and_three_channels_and_dtypes(xray):
    rgb = xray.repeat(1, 3, 1, 1)
    y1, m1 = burn_in(xray, 4, make_generator(2))
    y3, m3 = burn_in(rgb, 4, make_generator(2))
    assert y3.shape == rgb.shape and m3.shape == (2, 1, 256, 256) and torch.equal(m1, m3)
    assert torch.equal(y3[:, :1], y1) and torch.equal(y3[:, 1:2], y1) and torch.equal(y3[:, 2:], y1)
    y64, m64 = burn_in(xray.double(), 4, make_generator(2))
    assert y64.dtype == torch.float64 and torch.equal(m64, m1)
    assert 0.0 <= float(y64.min()) and float(y64.max()) <= 1.0


def test_non_square_images(xray_image):
    for h, w in ((96, 160), (200, 120)):
        x = torch.nn.functional.interpolate(xray_image, size=(h, w), mode="area")
        for lv in (1, 4):
            y, added = burn_in(x, lv, make_generator(lv))
            assert y.shape == x.shape and added.shape == (1, 1, h, w) and added.any()
            assert torch.equal(y[~added.expand_as(x)], x[~added.expand_as(x)])


def test_text_size_and_the_bitmap_font_fallback(monkeypatch):
    cov = text_coverage(["AP SUPINE"], 20.0)
    assert cov.shape[0] == pytest.approx(20, abs=2) and cov.shape[1] > 5 * cov.shape[0]
    assert 0.0 <= cov.min() and cov.max() <= 1.0
    bold = text_coverage(["L"], 20.0, bold=True)
    assert bold.sum() > text_coverage(["L"], 20.0).sum() * 1.1
    # Pillow without a sized default font: the bitmap font, scaled to the same cap height
    monkeypatch.setattr(annotations, "_font", lambda size: ImageFont.load_default_imagefont())
    old = text_coverage(["AP SUPINE"], 20.0)
    assert old.shape[0] == pytest.approx(20, abs=3) and old.shape[1] > 4 * old.shape[0]


def test_other_corruptions_report_an_empty_added_mask(xray):
    op = registry.get("tube_current")
    y, added = op.apply_with_added(xray, 2, make_generator(1))
    assert torch.equal(y, op.apply(xray, 2, make_generator(1)))
    assert added.shape == (2, 1, 256, 256) and not added.any()


# ---------------------------------------------------------------------------------------- augmentation
def test_synthetic_strategy_applies_the_annotations_when_asked(xray_image):
    x = torch.nn.functional.interpolate(xray_image, size=(128, 128), mode="area").repeat(4, 1, 1, 1)
    mask = (x > 0.5).to(torch.uint8)
    aug = make_augmentation("synthetic", p_clean=0.0, burnt_in=1.0)
    y, m, recs = aug(x, mask, make_generator(0))
    assert y.shape == x.shape and m.shape == mask.shape and set(m.unique().tolist()) <= {0, 1}
    for rec in recs:
        burnt = [r for r in rec if r["op"] == "burnt_in"]
        assert len(burnt) == 1 and burnt[0]["stage"] == "corruption"
        assert 1.0 <= burnt[0]["severity"] <= 4.0
        assert registry.get("burnt_in").params(burnt[0]["severity"]) == burnt[0]["params"]
    # off by default, and off is exactly the behaviour without the option (no draw is spent on it)
    plain = make_augmentation("synthetic")(x, mask, make_generator(1))
    zero = make_augmentation("synthetic", burnt_in=0.0)(x, mask, make_generator(1))
    assert torch.equal(plain[0], zero[0]) and torch.equal(plain[1], zero[1]) and plain[2] == zero[2]
    assert not any(r["op"] == "burnt_in" for rec in plain[2] for r in rec)
    with pytest.raises(ConfigError, match="burnt_in"):
        make_augmentation("synthetic", burnt_in=1.5)


def test_default_pools_leave_burnt_in_out_unless_named(xray_image):
    x = torch.nn.functional.interpolate(xray_image, size=(24, 24), mode="area").repeat(60, 1, 1, 1)
    ops = lambda recs: {r["op"] for rec in recs for r in rec}  # noqa: E731
    for strategy in ("physics", "medmnistc"):
        assert "burnt_in" not in ops(make_augmentation(strategy, p_clean=0.0)(x, None, make_generator(1))[2])
    named = make_augmentation("medmnistc", p_clean=0.0, pool="burnt_in")(x[:3], None, make_generator(1))[2]
    assert ops(named) == {"burnt_in"}


# ---------------------------------------------------------------------------------------- xraylab degrade
@pytest.fixture()
def small_dataset(tmp_path, xray_image):
    from xraylab.data.manifest import write_manifest
    from xraylab.io.images import sha256_file, write_mask_png, write_png16

    root = tmp_path / "src"
    img = torch.nn.functional.interpolate(xray_image, size=(96, 96), mode="area")[0, 0].numpy()
    rows = []
    for i in range(2):
        write_png16(root / f"images/s{i}.png", np.roll(img, 5 * i, axis=1))
        mask = np.zeros((96, 96), bool)
        mask[20:60, 10:40] = True
        write_mask_png(root / f"masks/s{i}_lung.png", mask)
        rows.append({"image_id": f"s{i}", "subject_id": f"p{i}", "split": "test", "image": f"images/s{i}.png",
                     "mask:lung": f"masks/s{i}_lung.png"})
    df = pd.DataFrame(rows)
    df["sha256:mask:lung"] = [sha256_file(root / p) for p in df["mask:lung"]]
    write_manifest(root, df)
    return root


def test_degrade_writes_a_mask_of_the_burnt_in_pixels(small_dataset, tmp_path):
    from xraylab.data.degrade_job import DegradeJob, run_degrade
    from xraylab.io.images import read_image, read_mask, sha256_file

    out = tmp_path / "out"
    df = run_degrade(DegradeJob(small_dataset, out, corruptions=["burnt_in", "beam_energy"], levels=[1, 4], seed=2,
                                contact_sheet=False))
    assert len(df) == 2 * (1 + 2 * 2) and {"mask:burnt_in", "sha256:mask:burnt_in"} <= set(df.columns)
    for _, row in df.iterrows():
        drawn = read_mask(out / row["mask:burnt_in"])
        assert drawn.shape == (96, 96) and row["sha256:mask:burnt_in"] == sha256_file(out / row["mask:burnt_in"])
        assert row["mask:lung"] == f"masks/{row['source_image_id']}_lung.png"  # structure masks copied unchanged
        if row["corruption"] != "burnt_in":
            assert not drawn.any()
            continue
        assert drawn.any()
        clean = read_image(small_dataset / f"images/{row['source_image_id']}.png")
        img = read_image(out / row["image"])
        assert np.array_equal(img[~drawn], clean[~drawn])  # 16-bit round trip: untouched outside the mask
        assert (img[drawn] != clean[drawn]).mean() > 0.9
        g = make_generator(annotations_seed(2, row["source_image_id"], int(row["severity"])))
        _, expected = burn_in(torch.from_numpy(clean)[None, None], float(row["severity"]), g)
        assert np.array_equal(drawn, expected[0, 0].numpy())
    # the default plan is what it was before burnt_in: no annotations, no mask column for them
    plain = run_degrade(DegradeJob(small_dataset, tmp_path / "plain", levels=[1], contact_sheet=False))
    assert "burnt_in" not in set(plain["corruption"]) and "mask:burnt_in" not in plain.columns
    assert set(plain["corruption"]) == {"none", *registry.defaults("xray")}


def annotations_seed(seed: int, image_id: str, level: int) -> int:
    from xraylab.seeding import derive_seed

    return derive_seed(seed, image_id, "burnt_in", level)


def test_degrade_refuses_a_source_that_already_has_the_column(small_dataset, tmp_path):
    from xraylab.data.degrade_job import DegradeJob, run_degrade
    from xraylab.data.manifest import read_manifest, write_manifest

    df = read_manifest(small_dataset)
    df["mask:burnt_in"] = df["mask:lung"]
    write_manifest(small_dataset, df)
    with pytest.raises(ConfigError, match="mask:burnt_in"):
        run_degrade(DegradeJob(small_dataset, tmp_path / "o", corruptions=["burnt_in"], contact_sheet=False))
