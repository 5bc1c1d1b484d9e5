"""``xraylab degrade``: degraded dataset writing, manifest columns, masks, resume, --list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import typer
from typer.testing import CliRunner

from xraylab.commands.degrade import register
from xraylab.data.manifest import read_dataset_json, read_manifest, write_manifest
from xraylab.degrade import registry
from xraylab.errors import ConfigError
from xraylab.io.images import read_image, read_mask, sha256_file, write_mask_png, write_png8, write_png16


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command so typer keeps "degrade" as a sub-command name
    def _noop() -> None:
        pass

    return app


def _invoke(*args: str):
    return CliRunner().invoke(_app(), ["degrade", *args])


@pytest.fixture()
def gray_dataset(tmp_path, xray_image):
    root = tmp_path / "src"
    img = torch.nn.functional.interpolate(xray_image, size=(48, 48), mode="area")[0, 0].numpy()
    rows = []
    for i in range(3):
        arr = np.roll(img, 4 * i, axis=1)
        write_png16(root / f"images/s{i}.png", arr)
        mask = np.zeros((48, 48), bool)
        mask[10:30, 8 + i : 28 + i] = True
        write_mask_png(root / f"masks/s{i}_lung.png", mask)
        rows.append({"image_id": f"s{i}", "subject_id": f"p{i}", "split": "test", "image": f"images/s{i}.png",
                     "mask:lung": f"masks/s{i}_lung.png", "label": i % 2})
    df = pd.DataFrame(rows)
    df["sha256:mask:lung"] = [sha256_file(root / p) for p in df["mask:lung"]]
    write_manifest(root, df)
    return root


def test_list_prints_every_corruption_with_levels():
    res = _invoke("--list")
    assert res.exit_code == 0, res.output
    for name in registry.names():
        assert name in res.output
    assert "levels 1,2,3,4,5" in res.output and "levels 1,2,3,4 " in res.output


def test_all_mode_writes_manifest_masks_and_sheet(gray_dataset, tmp_path):
    out = tmp_path / "out"
    res = _invoke(str(gray_dataset), "--out", str(out), "--corruptions", "acquisition_geometry,tube_current",
                  "--levels", "1,4", "--seed", "3")
    assert res.exit_code == 0, res.output
    df = read_manifest(out)
    assert len(df) == 3 * (1 + 2 * 2)
    for col in ("image_id", "subject_id", "split", "image", "mask:lung", "label", "corruption", "severity",
                "source_image_id", "sha256:image", "sha256:mask:lung"):
        assert col in df.columns
    assert df["image_id"].is_unique
    assert set(df["corruption"]) == {"none", "acquisition_geometry", "tube_current"}
    assert df["severity"].dtype.kind == "i" and set(df["severity"]) == {0, 1, 4}
    assert (df.loc[df.corruption == "none", "severity"] == 0).all()
    for row in df.itertuples():
        assert (out / row.image).is_file() and (out / row[df.columns.get_loc("mask:lung") + 1]).is_file()
    src = read_manifest(gray_dataset).set_index("image_id")
    for _, row in df.iterrows():
        s = src.loc[row["source_image_id"]]
        assert row["label"] == s["label"] and row["subject_id"] == s["subject_id"]
        img = read_image(out / row["image"])
        assert img.shape == (48, 48)
        if row["corruption"] == "none":
            assert sha256_file(out / row["image"]) == sha256_file(gray_dataset / s["image"])
        if row["corruption"] == "acquisition_geometry":  # spatial: re-sampled mask, bigger by M^2
            assert row["mask:lung"] != s["mask:lung"]
            scale = registry.get("acquisition_geometry").params(row["severity"])["scale"]
            ratio = read_mask(out / row["mask:lung"]).sum() / read_mask(gray_dataset / s["mask:lung"]).sum()
            assert ratio == pytest.approx(scale**2, rel=0.15)
        else:  # intensity: the same mask file, copied
            assert row["mask:lung"] == s["mask:lung"]
            assert row["sha256:mask:lung"] == s["sha256:mask:lung"]
        assert row["sha256:mask:lung"] == sha256_file(out / row["mask:lung"])
    assert (out / "contact_sheet.png").stat().st_size > 1000
    info = read_dataset_json(out)
    assert info["corruptions"] == {"acquisition_geometry": [1, 4], "tube_current": [1, 4]} and info["seed"] == 3


def test_rerun_resumes_and_is_reproducible(gray_dataset, tmp_path):
    out = tmp_path / "out"
    args = (str(gray_dataset), "--out", str(out), "--corruptions", "anti_scatter_grid", "--levels", "2,3")
    assert _invoke(*args).exit_code == 0
    first = read_manifest(out)
    victim = out / first.loc[first.corruption == "anti_scatter_grid", "image"].iloc[0]
    digest = sha256_file(victim)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "images").iterdir() if p != victim}
    victim.unlink()
    (out / "images" / ".half.png.123.tmp").write_bytes(b"partial")  # a crashed writer's leftover
    assert _invoke(*args).exit_code == 0
    assert sha256_file(victim) == digest  # regenerated identically (seed derived per image)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # the rest was kept
    assert not (out / "images" / ".half.png.123.tmp").exists()
    pd.testing.assert_frame_equal(read_manifest(out), first)


def test_random_mode_draws_one_per_image(gray_dataset, tmp_path):
    out = tmp_path / "rnd"
    res = _invoke(str(gray_dataset), "--out", str(out), "--mode", "random", "--no-clean", "--seed", "1")
    assert res.exit_code == 0, res.output
    df = read_manifest(out)
    assert len(df) == 3 and set(df["source_image_id"]) == {"s0", "s1", "s2"}
    assert set(df["corruption"]) <= set(registry.names("xray"))
    assert df["severity"].between(1, 4).all()


def test_rgb_dataset_records_delta_e(tmp_path, derm_image):
    root = tmp_path / "derm"
    arr = torch.nn.functional.interpolate(derm_image, size=(40, 40), mode="area")[0].permute(1, 2, 0).numpy()
    write_png8(root / "images/d0.png", arr)
    row = {"image_id": "d0", "subject_id": "d0", "split": "test", "image": "images/d0.png"}
    write_manifest(root, pd.DataFrame([row]))
    out = tmp_path / "dout"
    res = _invoke(str(root), "--out", str(out), "--corruptions", "color_reproduction,resolution")
    assert res.exit_code == 0, res.output
    df = read_manifest(out).set_index(["corruption", "severity"])
    de = [df.loc[("color_reproduction", lv), "delta_e2000"] for lv in (1, 2, 3, 4)]
    assert all(a < b for a, b in zip(de, de[1:])) and de[0] > 0.5
    assert np.isnan(df.loc[("none", 0), "delta_e2000"])
    assert read_image(out / df.loc[("resolution", 2), "image"]).shape == (40, 40, 3)


def test_bad_input_raises_typed_errors(gray_dataset, tmp_path):
    res = _invoke(str(gray_dataset), "--out", str(tmp_path / "o"), "--corruptions", "beam_energy", "--levels", "5")
    assert isinstance(res.exception, ConfigError) and "levels" in str(res.exception)
    res = _invoke(str(gray_dataset), "--out", str(tmp_path / "o"), "--corruptions", "color_reproduction")
    assert isinstance(res.exception, ConfigError)
    res = _invoke(str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert "manifest" in str(res.exception)
    res = _invoke(str(gray_dataset))
    assert isinstance(res.exception, ConfigError) and "--out" in str(res.exception)


def test_resuming_with_another_seed_is_refused(gray_dataset, tmp_path):
    out = tmp_path / "o"
    assert _invoke(str(gray_dataset), "--out", str(out), "--corruptions", "beam_energy", "--levels", "1").exit_code == 0
    assert read_dataset_json(out)["complete"] is True
    res = _invoke(str(gray_dataset), "--out", str(out), "--corruptions", "beam_energy", "--seed", "9")
    assert isinstance(res.exception, ConfigError) and "seed: 0 → 9" in str(res.exception)
    assert "--overwrite" in str(res.exception)
    # another corruption list is another job too; --overwrite starts afresh
    res = _invoke(str(gray_dataset), "--out", str(out), "--corruptions", "tube_current", "--levels", "1")
    assert isinstance(res.exception, ConfigError) and "corruptions" in str(res.exception)
    res = _invoke(str(gray_dataset), "--out", str(out), "--corruptions", "tube_current", "--levels", "1", "--overwrite")
    assert res.exit_code == 0, res.output
    assert set(read_manifest(out)["corruption"]) == {"none", "tube_current"}
    assert not list((out / "images").glob("*beam_energy*"))  # the old job's files went with it


def test_refuses_a_non_empty_folder_that_is_not_a_degraded_dataset(gray_dataset, tmp_path):
    out = tmp_path / "home"
    out.mkdir()
    (out / ".keep.tmp").write_text("user file", encoding="utf-8")
    res = _invoke(str(gray_dataset), "--out", str(out), "--corruptions", "gaussian_noise", "--levels", "1")
    assert res.exit_code != 0 and "not an xraylab dataset" in str(res.exception or res.output)
    assert (out / ".keep.tmp").is_file() and sorted(p.name for p in out.iterdir()) == [".keep.tmp"]
    res = _invoke(str(gray_dataset), "--out", str(out), "--corruptions", "gaussian_noise", "--overwrite")
    assert res.exit_code != 0 and "not an xraylab dataset" in str(res.exception or res.output)
    assert sorted(p.name for p in out.iterdir()) == [".keep.tmp"]  # never deleted, even with --overwrite


def test_killed_item_is_redone_from_its_record(gray_dataset, tmp_path):
    """Per-item records: an item without a record (killed before its record) is rewritten, the others are kept."""
    from xraylab.data.writer import RECORDS_DIR

    out = tmp_path / "out"
    args = (str(gray_dataset), "--out", str(out), "--corruptions", "acquisition_geometry", "--levels", "2")
    assert _invoke(*args).exit_code == 0
    first = read_manifest(out)
    records = sorted((out / RECORDS_DIR).glob("*.json"))
    assert [p.stem for p in records] == sorted(first["image_id"])
    victim = "s1__acquisition_geometry_L2"
    (out / RECORDS_DIR / f"{victim}.json").unlink()  # killed after its files, before its record
    (out / "masks" / victim / "lung.png").write_bytes(b"torn")  # (a torn file under the final name cannot
    # happen with atomic writes; it stands for an older, different write and must be replaced)
    (out / "masks" / victim / ".lung.png.4242.tmp").write_bytes(b"partial")
    (out / "manifest.parquet").unlink()
    (out / "dataset.json").unlink()
    kept = {p: p.stat().st_mtime_ns for p in (out / RECORDS_DIR).glob("*.json")}
    assert _invoke(*args).exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # complete items were not rewritten
    assert not list(out.rglob("*.tmp"))
    again = read_manifest(out)
    pd.testing.assert_frame_equal(again, first)
    row = again.set_index("image_id").loc[victim]
    assert sha256_file(out / row["mask:lung"]) == row["sha256:mask:lung"]
    assert read_dataset_json(out)["complete"] is True
