"""Bad inputs through the command line, as a hostile user would give them.

Each case runs ``xraylab.cli.main`` in-process (argv patched, the working folder a fresh temp folder) and asserts:
a non-zero exit status, exactly one line on stderr that starts ``xraylab: error:`` and names the file or field,
no traceback (an exception escaping ``main`` fails the test), and no new file outside the temp folder (the
escape targets below do not appear, the repository's top level gains nothing).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

from xraylab import cli
from xraylab.data.manifest import write_manifest
from xraylab.io.images import write_mask_png, write_png16

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- running the CLI in-process
def run_cli(args, capsys, monkeypatch) -> tuple[int, str, str]:
    """``xraylab ARGS`` in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["xraylab", *map(str, args)])
    capsys.readouterr()
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- tiny inputs
def _ct(path: Path, arr_kji: np.ndarray, spacing=(2.0, 2.0, 2.0)) -> Path:
    img = sitk.GetImageFromArray(arr_kji)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def _body(shape=(10, 12, 14)) -> np.ndarray:
    a = np.full(shape, -1000, np.int16)
    a[2:8, 3:9, 3:11] = 40
    return a


def _dicom_series(folder: Path, skip: int | None = None, n: int = 6, step: float = 2.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    uid = "1.2.826.0.1.3680043.2.1125.77"
    for k in range(n):
        if k == skip:
            continue
        sl = sitk.GetImageFromArray((np.full((8, 8), -1000) + 300 * k).astype(np.int16))
        sl.SetSpacing((1.0, 1.0))
        for key, val in {"0020|000e": uid, "0020|000d": uid + ".9", "0008|0060": "CT", "0020|0013": str(k + 1),
                         "0020|0032": f"0\\0\\{k * step}", "0020|0037": "1\\0\\0\\0\\1\\0",
                         "0028|1052": "0", "0028|1053": "1"}.items():
            sl.SetMetaData(key, val)
        writer.SetFileName(str(folder / f"s{k:03d}.dcm"))
        writer.Execute(sl)
    return folder


def _dataset(folder: Path, n: int = 6, bad: dict | None = None) -> Path:
    """6 images 16×16 with a ``disc`` mask; rows split train/val; ``bad`` overrides cells of row 0."""
    rows = []
    yy, xx = np.mgrid[0:16, 0:16]
    for i in range(n):
        img = np.clip(0.2 + 0.05 * i + ((yy - 8) ** 2 + (xx - 8) ** 2 <= 16) * 0.5, 0, 1)
        write_png16(folder / "images" / f"i{i}.png", img)
        write_mask_png(folder / "masks" / f"i{i}.png", (yy - 8) ** 2 + (xx - 8) ** 2 <= 16)
        rows.append({"image_id": f"i{i}", "subject_id": f"s{i}", "split": "train" if i < 4 else "val",
                     "image": f"images/i{i}.png", "mask:disc": f"masks/i{i}.png", "label": "a" if i % 2 else "b"})
    df = pd.DataFrame(rows)
    for k, v in (bad or {}).items():
        df.loc[0, k] = v
    write_manifest(folder, df)
    return folder


def _train_spec(folder: Path, data: Path, **over) -> Path:
    spec = {"name": "t", "task": "segmentation", "data": [{"name": "real", "path": str(data)}], "image_size": 16,
            "model": {"name": "unet", "kwargs": {"depth": 3}}, "loss": {"name": "dice"}, "epochs": 1,
            "batch_size": 4}
    spec.update(over)
    p = folder / f"train_{len(list(folder.glob('train_*.yaml')))}.yaml"
    p.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return p


def _gen_spec(folder: Path, **over) -> Path:
    spec = {"name": "g", "seed": 1, "cts": ["default"], "structures": ["lungs"], "preset": "chest_pa",
            "geometry": {"rows": 16, "cols": 16}, "sweep": {"grid": {"geometry.rotation_deg": [0, 10]}},
            "render": {"downsample": 8, "n_points": 16}, "output": {"size": 16, "contact_sheet": 0}}
    spec.update(over)
    p = folder / f"gen_{len(list(folder.glob('gen_*.yaml')))}.yaml"
    p.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return p


def _foreign_lock(folder: Path) -> Path:
    """A writer lock held by a live process (pid 1, always running) on this host."""
    lock = folder / ".xraylab" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(f'{{"pid": 1, "host": "{socket.gethostname()}", "started": "earlier", '
                    '"command": "xraylab generate other.yaml"}', encoding="utf-8")
    return lock


def _file(path: Path) -> Path:
    path.write_text("not a folder\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the cases
# Each builds its inputs in the temp folder W and returns (argv, text the one stderr line must contain).
def c_ct_missing(w):
    return ["render", "missing.nii.gz", "-o", "o"], "missing.nii.gz"


def c_downsample_zero(w):
    return ["render", "default", "-o", "o", "--downsample", "0"], "--downsample 0"


def c_downsample_negative(w):
    return ["render", _ct(w / "ct.nii.gz", _body()), "-o", "o", "--downsample", "-2"], "--downsample -2"


def c_downsample_text(w):
    return ["render", "default", "-o", "o", "--downsample", "abc"], "'--downsample'"


def c_device_unknown(w):
    return ["render", "default", "-o", "o", "--downsample", "8", "--device", "banana"], "--device 'banana'"


def c_device_cuda_missing(w):
    import torch

    if torch.cuda.is_available():
        return ["render", "default", "-o", "o", "--downsample", "8", "--device", "cuda:99"], "--device 'cuda:99'"
    return ["render", "default", "-o", "o", "--downsample", "8", "--device", "cuda"], "--device 'cuda'"


def c_png_as_ct(w):
    write_png16(w / "xray.png", np.full((20, 24), 0.5))
    return ["render", w / "xray.png", "-o", "o"], "xray.png: not a 3D volume"


def c_radiograph_dcm_as_ct(w):
    img = sitk.GetImageFromArray(np.full((20, 24), 500, np.int16))
    sitk.WriteImage(img, str(w / "cxr.dcm"))
    return ["render", w / "cxr.dcm", "-o", "o"], "cxr.dcm: not a 3D volume"


def c_all_air_ct(w):
    return ["render", _ct(w / "air.nii.gz", np.full((10, 12, 14), -1000, np.int16)), "-o", "o"], \
        "air.nii.gz: every voxel is air"


def c_dicom_missing_slice(w):
    return ["render", _dicom_series(w / "series", skip=3), "-o", "o"], "series: uneven DICOM slice spacing: gap of 4 mm"


def c_structure_absent_from_labels(w):
    ct = _ct(w / "ct.nii.gz", _body())
    lab = np.zeros((10, 12, 14), np.uint8)
    lab[2:8, 3:9, 3:11] = 1  # only "heart" has voxels; clavicula_left (id 2) is named in the table but absent
    _ct(w / "seg.nii.gz", lab)
    (w / "table.csv").write_text("id,structure\n1,heart\n2,clavicula_left\n", encoding="utf-8")
    return ["render", ct, "--labels", w / "seg.nii.gz", "--structure-table", w / "table.csv", "-o", "o",
            "--structures", "left_clavicle"], "ct.nii.gz: requested structure(s) left_clavicle have no voxel"


def c_render_out_is_file(w):
    return ["render", _ct(w / "ct.nii.gz", _body()), "-o", _file(w / "taken"), "--rows", "8", "--cols", "8",
            "--preset", "ideal"], "taken"


def c_unknown_command(w):
    return ["rendr", "default"], "No such command 'rendr'"


def c_generate_out_is_file(w):
    return ["generate", _gen_spec(w), "-o", _file(w / "taken"), "-q"], "taken: --out is a file"


def c_generate_locked(w):
    out = w / "ds"
    _foreign_lock(out)
    return ["generate", _gen_spec(w), "-o", out, "-q", "--workers", "1"], "another xraylab process is writing"


def c_generate_manifest_escape(w):
    root = w / "cts"
    root.mkdir()
    (w / "outside.nii.gz").write_bytes(b"")
    (w / "m.yaml").write_text(yaml.safe_dump({"root": str(root), "cases": [
        {"id": "a", "ct": "../outside.nii.gz"}]}), encoding="utf-8")
    return ["generate", _gen_spec(w, cts=[{"manifest": str(w / "m.yaml")}]), "-o", "ds", "-q"], \
        "case a: ct: path '../outside.nii.gz' leads outside"


def c_generate_structure_absent_from_labels(w):
    ct = _ct(w / "ct.nii.gz", _body())
    lab = np.zeros((10, 12, 14), np.uint8)
    lab[2:8, 3:9, 3:11] = 1  # clavicula_left (id 2) is in the table but has no voxel
    _ct(w / "seg.nii.gz", lab)
    (w / "table.csv").write_text("id,structure\n1,heart\n2,clavicula_left\n", encoding="utf-8")
    cts = [{"path": str(ct), "labels": str(w / "seg.nii.gz"), "structure_table": str(w / "table.csv")}]
    return ["generate", _gen_spec(w, cts=cts, structures=["left_clavicle"], render={"n_points": 16}), "-o", "ds",
            "-q", "--workers", "1"], "ct.nii.gz: requested structure(s) left_clavicle have no voxel"


def c_generate_bad_workers(w):
    return ["generate", _gen_spec(w), "-o", "ds", "-q", "--workers", "0"], "--workers 0"


def c_generate_bad_shard(w):
    return ["generate", _gen_spec(w), "-o", "ds", "-q", "--shard", "3/2"], "--shard"


def c_generate_device_cuda(w):
    return ["generate", _gen_spec(w), "-o", "ds", "-q", "--device", "cuda:7"], "--device 'cuda:7'"


def c_generate_downsample_zero(w):
    return ["generate", _gen_spec(w), "-o", "ds", "-q", "--set", "render.downsample=0"], "downsample"


def c_train_name_escape(w):
    return ["train", _train_spec(w, _dataset(w / "d"), name="../../../outside_run"), "--no-progress"], \
        "name '../../../outside_run'"


def c_train_lr_overflow(w):
    return ["train", _train_spec(w, _dataset(w / "d"), optimizer={"lr": 1e38}), "--no-progress"], "optimizer.lr"


def c_train_lr_negative(w):
    return ["train", _train_spec(w, _dataset(w / "d")), "--set", "optimizer.lr=-0.1", "--no-progress"], "optimizer.lr"


def c_train_lr_huge_set(w):
    return ["train", _train_spec(w, _dataset(w / "d")), "--set", "optimizer.lr=1e10", "--no-progress"], "optimizer.lr"


def c_train_min_lr_above_lr(w):
    return ["train", _train_spec(w, _dataset(w / "d"), optimizer={"lr": 0.001},
                                 scheduler={"name": "cosine", "min_lr": 0.1}), "--no-progress"], "min_lr"


def c_train_weight_decay(w):
    return ["train", _train_spec(w, _dataset(w / "d"), optimizer={"weight_decay": 50}), "--no-progress"], \
        "optimizer.weight_decay"


def c_train_manifest_row_escape(w):
    data = _dataset(w / "d", bad={"image": "../../etc/passwd"})
    return ["train", _train_spec(w, data), "--no-progress", "-o", "run"], "column image: path '../../etc/passwd'"


def c_train_manifest_absolute_mask(w):
    data = _dataset(w / "d", bad={"mask:disc": "/etc/passwd"})
    return ["train", _train_spec(w, data), "--no-progress", "-o", "run"], "column mask:disc: path '/etc/passwd'"


def c_train_out_is_file(w):
    return ["train", _train_spec(w, _dataset(w / "d")), "--no-progress", "-o", _file(w / "taken")], \
        "taken: --out is a file"


def c_train_locked(w):
    _foreign_lock(w / "run")
    return ["train", _train_spec(w, _dataset(w / "d")), "--no-progress", "-o", w / "run"], \
        "another xraylab process is writing this folder (pid 1"


def c_train_device_cuda(w):
    return ["train", _train_spec(w, _dataset(w / "d")), "--device", "cuda:9", "--no-progress"], "--device 'cuda:9'"


def c_train_spec_missing(w):
    return ["train", w / "nope.yaml"], "nope.yaml"


def c_train_data_syntax(w):
    return ["train", _train_spec(w, _dataset(w / "d")), "--data", "justafolder"], "--data 'justafolder'"


def c_degrade_no_manifest(w):
    (w / "empty").mkdir()
    return ["degrade", w / "empty", "--out", "o"], "manifest.parquet: dataset manifest not found"


def c_degrade_levels(w):
    return ["degrade", _dataset(w / "d"), "--out", "o", "--levels", "a,b"], "--levels"


def c_degrade_mask_escape(w):
    data = _dataset(w / "d", bad={"mask:disc": "masks/../../../secret.png"})
    return ["degrade", data, "--out", "o"], "column mask:disc"


def c_degrade_locked(w):
    out = w / "o"
    _foreign_lock(out)
    return ["degrade", _dataset(w / "d"), "--out", out, "--corruptions", "gaussian_noise", "--levels", "1"], \
        "another xraylab process is writing"


def c_import_missing_root(w):
    return ["import", "folder", w / "nowhere", "--out", "o", "-q"], "nowhere: source folder not found"


def c_import_images_dir_escape(w):
    (w / "src").mkdir()
    return ["import", "folder", w / "src", "--out", "o", "-q", "--images-dir", "../../.."], "--images-dir"


def c_import_out_is_file(w):
    _dataset(w / "src")  # images/ and masks/ as the folder layout expects
    return ["import", "folder", w / "src", "--out", _file(w / "taken"), "-q", "--size", "16"], "taken"


def c_evaluate_missing_checkpoint(w):
    return ["evaluate", "--model", w / "none.pt", "--data", _dataset(w / "d"), "--out", "ev"], "none.pt"


def c_evaluate_device(w):
    return ["evaluate", "--model", w / "none.pt", "--data", _dataset(w / "d"), "--out", "ev", "--device", "gpu0"], \
        "--device 'gpu0'"


def c_evaluate_row_escape(w):
    data = _dataset(w / "d", bad={"image": "../outside.png"})
    return ["evaluate", "--model", w / "none.pt", "--data", data, "--out", "ev"], "column image: path '../outside.png'"


# ------------------------------------------------------------------ hardening II: tracebacks, runaways, silence
def _labelled_ct(w: Path, table_text: bytes) -> list:
    ct = _ct(w / "ct.nii.gz", _body())
    lab = (_body() > 0).astype(np.uint8)
    _ct(w / "seg.nii.gz", lab)
    (w / "table.csv").write_bytes(table_text)
    return [ct, "--labels", w / "seg.nii.gz", "--structure-table", w / "table.csv"]


def c_generate_rows_text_in_spec(w):
    return ["generate", _gen_spec(w, geometry={"rows": "x", "cols": 16}), "-o", "ds", "-q"], "geometry.rows 'x'"


def c_generate_set_rows_text(w):
    return ["generate", _gen_spec(w), "-o", "ds", "-q", "--set", "geometry.rows=abc"], "geometry.rows 'abc'"


def c_table_id_not_integer(w):
    return ["render", *_labelled_ct(w, b"id,structure\n1,heart\nx,lung\n"), "-o", "o", "--structures", "heart"], \
        "table.csv: line 3: id 'x' is not an integer"


def c_table_not_utf8(w):
    return ["render", *_labelled_ct(w, b"id,structure\n1,h\xe9art\n"), "-o", "o", "--structures", "heart"], \
        "table.csv: structure table is not UTF-8"


def c_set_grid_phase_nan(w):
    return ["render", "default", "-o", "o", "--downsample", "8", "--rows", "8", "--cols", "8", "--set",
            "grid.phase_mm=.nan"], "grid.phase_mm: Input should be a finite number"


def c_set_grid_phase_inf(w):
    return ["render", "default", "-o", "o", "--downsample", "8", "--rows", "8", "--cols", "8", "--set",
            "grid.phase_mm=.inf"], "grid.phase_mm: Input should be a finite number"


def c_evaluate_bare_tensor_checkpoint(w):
    import torch

    torch.save(torch.zeros(3), w / "T.pt")
    return ["evaluate", "--model", w / "T.pt", "--data", _dataset(w / "d"), "--out", "ev"], "holds a Tensor"


def c_train_resume_bare_tensor_checkpoint(w):
    import torch

    (w / "run" / "checkpoints").mkdir(parents=True)
    torch.save(torch.zeros(3), w / "run" / "checkpoints" / "last.pt")
    return ["train", _train_spec(w, _dataset(w / "d")), "--no-progress", "-o", w / "run", "--resume"], \
        "holds a Tensor"


def c_train_resume_without_a_run(w):
    return ["train", _train_spec(w, _dataset(w / "d")), "--no-progress", "-o", w / "fresh", "--resume"], \
        "no run to continue"


def c_checkpoint_garbage(w):
    (w / "G.pt").write_bytes(b"definitely not a zip file")
    return ["evaluate", "--model", w / "G.pt", "--data", _dataset(w / "d"), "--out", "ev"], \
        "not a complete .pt file written by `xraylab train`"


def c_yaml_alias_bomb(w):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, cur in zip("abcdef", "bcdefg"):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    (w / "bomb.yaml").write_text("\n".join(lines + ["name: g"]) + "\n", encoding="utf-8")
    return ["generate", w / "bomb.yaml", "-o", "ds", "-q"], "expands to more than"


def c_yaml_alias_cycle(w):
    (w / "cyc.yaml").write_text("a: &a [1, *a]\nname: g\n", encoding="utf-8")
    return ["generate", w / "cyc.yaml", "-o", "ds", "-q"], "cyc.yaml"


def c_yaml_duplicate_keys(w):
    (w / "dup.yaml").write_text("name: g\nseed: 1\nname: h\n", encoding="utf-8")
    return ["generate", w / "dup.yaml", "-o", "ds", "-q"], "duplicate key 'name'"


def c_spec_too_large(w):
    (w / "huge.yaml").write_text("name: g\n" + "#" * (2 << 20) + "\n", encoding="utf-8")
    return ["train", w / "huge.yaml"], "more than a spec can be"


def c_sweep_step_tiny(w):
    sweep = {"grid": {"geometry.rotation_deg": {"start": 0, "stop": 10, "step": 1e-9}}}
    return ["generate", _gen_spec(w, sweep=sweep), "-o", "ds", "-q"], "more than 1,000,000"


def c_sweep_product_huge(w):
    grid = {f"geometry.{k}": {"start": 0, "stop": 999, "step": 1} for k in ("rotation_deg", "tilt_deg")}
    return ["generate", _gen_spec(w, sweep={"grid": grid, "samples": 2}), "-o", "ds", "-q"], "2,000,000 images"


def c_render_n_points_huge(w):
    return ["render", "default", "-o", "o", "--downsample", "8", "--rows", "8", "--cols", "8", "--n-points",
            "100000000"], "--n-points) 100000000"


def c_render_n_points_negative(w):
    return ["render", "default", "-o", "o", "--downsample", "8", "--rows", "8", "--cols", "8", "--n-points", "-5"], \
        "--n-points) -5"


def c_ct_values_not_hu(w):
    a = _body().astype(np.float32)
    a[a > 0] = 1e30
    return ["render", _ct(w / "hot.nii.gz", a), "-o", "o", "--rows", "8", "--cols", "8"], \
        "hot.nii.gz: values up to 1e+30 are not Hounsfield units"


def c_ct_spacing_micro(w):
    return ["render", _ct(w / "tiny.nii.gz", _body(), spacing=(1e-6, 2.0, 2.0)), "-o", "o"], \
        "tiny.nii.gz: voxel size 1e-06"


def c_ct_two_slices(w):
    a = np.full((2, 12, 14), -1000, np.int16)
    a[:, 3:9, 3:11] = 40
    return ["render", _ct(w / "two.nii.gz", a), "-o", "o"], "two.nii.gz: only 2 voxel(s)"


def c_realism_unknown_lungs(w):
    d = _dataset(w / "d")
    return ["realism", d, d, "--out", "rep", "--lungs", "banana"], "mask:banana"


def c_pipeline_workdir_references_itself(w):
    (w / "p.yaml").write_text(yaml.safe_dump({"name": "p", "workdir": "${workdir}/x", "steps": [
        {"name": "g", "generate": {"spec": str(_gen_spec(w))}}]}), encoding="utf-8")
    return ["run", w / "p.yaml"], "workdir: '${workdir}/x': the work folder cannot reference"


def c_ct_four_dimensional(w):
    img = sitk.JoinSeries([sitk.GetImageFromArray(_body()) for _ in range(2)])
    sitk.WriteImage(img, str(w / "phases.nii.gz"))
    return ["render", w / "phases.nii.gz", "-o", "o"], "a 4-D series (e.g. 4D-CT phases): give one 3D phase"


def c_import_volumes_voxel_tiny(w):
    return ["import", "volumes", _ct(w / "ct.nii.gz", _body()), "--out", "v", "--classes", "heart",
            "--voxel-mm", "0.001"], "--voxel-mm) 0.001 is finer than any CT"


def c_import_images_symlink_loop(w):
    (w / "src" / "masks" / "disc").mkdir(parents=True)
    (w / "src" / "images").symlink_to(w / "src" / "images")
    return ["import", "folder", w / "src", "--out", "o", "-q"], "points back at itself"


def c_import_mask_folder_is_a_file(w):
    src = _dataset(w / "src")
    import shutil

    shutil.rmtree(src / "masks")
    (src / "masks").mkdir()
    (src / "masks" / "heart").write_text("not a folder\n", encoding="utf-8")
    return ["import", "folder", src, "--out", "o", "-q", "--size", "16"], "masks/heart: a file where"


def c_import_orphan_mask(w):
    src = _dataset(w / "src")
    (src / "masks" / "i0.png").rename(src / "masks" / "zz.png")
    import shutil

    (src / "masks" / "disc").mkdir()
    for p in sorted((src / "masks").glob("*.png")):
        shutil.move(str(p), src / "masks" / "disc" / p.name)
    shutil.copy(src / "masks" / "disc" / "zz.png", src / "masks" / "disc" / "i0.png")
    return ["import", "folder", src, "--out", "o", "-q", "--size", "16"], \
        "zz.png: mask of structure 'disc' has no image"


def c_train_unknown_model_kwarg(w):
    return ["train", _train_spec(w, _dataset(w / "d")), "--no-progress", "--set", "model.kwargs.banana=1"], \
        "unknown option(s) banana; known:"


def c_import_volumes_unknown_class(w):
    (w / "src" / "c1").mkdir(parents=True)
    _ct(w / "src" / "c1" / "ct.nii.gz", _body())
    _ct(w / "src" / "c1" / "labels.nii.gz", (_body() > 0).astype(np.uint8))
    return ["import", "volumes", w / "src", "--out", "v", "--classes", "liver,banana"], \
        "unknown class(es) banana (--classes)"


def c_degrade_zero_byte_image(w):
    data = _dataset(w / "d")
    (data / "images" / "i2.png").write_bytes(b"")
    return ["degrade", data, "--out", "o", "--corruptions", "gaussian_noise", "--levels", "1"], \
        "i2.png: cannot read image"


def c_import_image_too_large(w):
    from PIL import Image

    (w / "src" / "images").mkdir(parents=True)
    Image.new("L", (8200, 8200)).save(w / "src" / "images" / "huge.png")
    return ["import", "folder", w / "src", "--out", "o", "-q", "--size", "16"], \
        "huge.png: image is 8200×8200 pixels (67 MP), more than 64 MP"


def c_ct_nifti_pixdim_zero(w):
    import nibabel as nib

    img = nib.Nifti1Image(_body().astype(np.int16), np.eye(4))
    img.header["pixdim"][1:4] = [0.0, 2.0, 2.0]
    nib.save(img, str(w / "flat.nii.gz"))
    return ["render", w / "flat.nii.gz", "-o", "o"], "flat.nii.gz: CT header gives voxel size 0 × 2 × 2 mm"


def c_import_metadata_row_without_image(w):
    src = _dataset(w / "src")
    (src / "items.json").write_text('[{"image": "i0.png", "patient": "a"}, {"image": "ghost.png", "patient": "b"}]',
                                    encoding="utf-8")
    return ["import", "folder", src, "--out", "o", "-q", "--size", "16"], "items.json: lists 1 image(s) not in"


def c_import_patient_is_a_mapping(w):
    src = _dataset(w / "src")
    (src / "items.json").write_text('[{"image": "i0.png", "patient": {"id": 3}}]', encoding="utf-8")
    return ["import", "folder", src, "--out", "o", "-q", "--size", "16"], "'patient' is a dict, not a subject id"


def c_import_split_above_one(w):
    return ["import", "folder", _dataset(w / "src"), "--out", "o", "-q", "--split", "train=0.8,val=0.5"], \
        "fractions sum to 1.3, more than 1"


def c_dicom_corrupt_slice_is_named(w):
    series = _dicom_series(w / "series")
    bad = series / "s003.dcm"
    bad.write_bytes(bad.read_bytes()[:300])
    return ["render", series, "-o", "o"], "s003.dcm: DICOM file that cannot be read as a slice"


def c_generate_ct_values_not_hu(w):
    a = _body().astype(np.float32)
    a[a > 0] = 2e9
    cts = [{"path": str(_ct(w / "hot.nii.gz", a))}]
    return ["generate", _gen_spec(w, cts=cts, structures=[], preset="ideal"), "-o", "ds", "-q", "--workers", "1"], \
        "allow-odd-ct"


def c_generate_split_above_one(w):
    return ["generate", _gen_spec(w, split={"train": 0.8, "val": 0.5, "test": 0.2}), "-o", "ds", "-q"], \
        "sum to 1.5, more than 1"


CASES = {name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("c_") and callable(fn)}


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_and_writes_nothing_outside(case, sandbox, capsys, monkeypatch):
    before_repo = set(os.listdir(REPO))
    before_tmp = set(os.listdir(sandbox.parent))
    argv, needle = CASES[case](sandbox)
    code, _out, err = run_cli(argv, capsys, monkeypatch)
    lines = err.strip().splitlines()
    assert code != 0, f"{case}: exit status 0; stderr: {err}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"{case}: expected one stderr line, got:\n{err}"
    assert lines[0].startswith("xraylab: error: "), lines[0]
    assert needle in lines[0], f"{case}: {needle!r} not in {lines[0]!r}"
    assert set(os.listdir(REPO)) <= before_repo, f"{case}: new files in the repository"
    assert set(os.listdir(sandbox.parent)) <= before_tmp | {"w"}, f"{case}: wrote beside the temp working folder"
    assert not (sandbox.parent.parent / "outside_run").exists()


# --------------------------------------------------------------------------- operating-system errors, injected
@pytest.mark.parametrize("code, advice", [
    (errno.ENOSPC, "the disk is full; free space"),
    (errno.EROFS, "read-only; choose an --out on a writable disk"),
    (errno.EACCES, "permission denied"),
    (errno.EDQUOT, "quota"),
])
def test_os_errors_while_writing_are_one_line_naming_the_path(code, advice, sandbox, capsys, monkeypatch):
    import xraylab.io.atomic as atomic

    _dataset(sandbox / "src")

    def failing_replace(src, dst):
        raise OSError(code, os.strerror(code))  # as the kernel reports it: no file name

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    rc, _, err = run_cli(["import", "folder", sandbox / "src", "--out", "o", "-q", "--size", "16"], capsys,
                         monkeypatch)
    lines = err.strip().splitlines()
    assert rc == cli.OS_ERROR_EXIT and len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("xraylab: error: ") and advice in lines[0]
    assert str(sandbox / "o") in lines[0] or "o/" in lines[0]  # names the file being written


def test_disk_full_while_rendering_names_the_output_folder(sandbox, capsys, monkeypatch):
    import pathlib

    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # write() errors carry no file name

    monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    rc, _, err = run_cli(["render", "default", "-o", "out_r", "--downsample", "8", "--rows", "8", "--cols", "8"],
                         capsys, monkeypatch)
    lines = err.strip().splitlines()
    assert rc == cli.OS_ERROR_EXIT and len(lines) == 1
    assert "out_r" in lines[0] and "the disk is full" in lines[0]
    assert not (sandbox / "out_r").exists() and not list(sandbox.glob(".out_r.partial-*"))


# --------------------------------------------------------------------------- interrupts and library warnings
def test_ctrl_c_prints_one_line_and_exits_130(sandbox, capsys, monkeypatch):
    import xraylab.render as render_mod

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(render_mod, "write_view", interrupted)
    code, _, err = run_cli(["render", "default", "-o", "o", "--downsample", "8", "--rows", "8", "--cols", "8"],
                           capsys, monkeypatch)
    assert code == 130
    assert err.strip().splitlines() == ["xraylab: interrupted"]


def test_timm_import_warning_is_hidden_from_users():
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cli.quiet_library_warnings()
        warnings.warn("`torch.jit.interface` is deprecated. Please use `torch.compile` instead.", FutureWarning,
                      stacklevel=1)
        warnings.warn("something the user should see", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something the user should see"]


def test_allow_odd_lets_a_two_slice_ct_through_generate(sandbox, capsys, monkeypatch):
    a = np.full((2, 12, 14), -1000, np.int16)
    a[:, 3:9, 3:11] = 40
    ct = _ct(sandbox / "two.nii.gz", a)
    refused = _gen_spec(sandbox, cts=[{"path": str(ct)}], structures=[], preset="ideal")
    code, _, err = run_cli(["generate", refused, "-o", "ds", "-q", "--workers", "1"], capsys, monkeypatch)
    assert code == 2 and "only 2 voxel(s)" in err
    allowed = _gen_spec(sandbox, cts=[{"path": str(ct), "allow_odd": True}], structures=[], preset="ideal",
                        render={"downsample": 1, "n_points": 16})
    code, _, err = run_cli(["generate", allowed, "-o", "ds2", "-q", "--workers", "1"], capsys, monkeypatch)
    assert code == 0, err
    assert (sandbox / "ds2" / "manifest.parquet").is_file()
