"""``xraylab label CT --out DIR``: a label map for a CT that has none, by atlas propagation (+ HU lungs).

Writes ``DIR/labels.nii.gz`` (int16, on the CT's grid), ``DIR/structures.csv`` (id,structure) and
``DIR/label_sources.json`` (per structure: where its label came from; per atlas: registration info). A generate
spec then uses them as any label map: ``cts: [{path: CT, labels: DIR/labels.nii.gz, structure_table:
DIR/structures.csv}]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("label")
    def label(
        ct: Path = typer.Argument(..., help="CT without labels: NIfTI/NRRD/MHA file or DICOM series folder (HU)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder for labels.nii.gz, structures.csv and "
                                 "label_sources.json (created; --overwrite replaces one xraylab made)."),
        atlas: List[str] = typer.Option(["default"], "--atlas", help="Labelled CT to propagate from: 'default' (the "
                                        "embedded chest CT) or CT,LABELS[,TABLE] paths (repeatable; several atlases "
                                        "vote per voxel)."),
        structures: Optional[str] = typer.Option(None, "--structures", help="Comma list of structures or groups to "
                                                 "carry over (default: cardiomediastinum, clavicles, ribs, spine, "
                                                 "shoulders and the organs below the diaphragm)."),
        lungs: str = typer.Option("threshold", "--lungs", help="threshold: lungs from the HU values (more exact "
                                  "than registration); atlas: keep the propagated lungs."),
        spacing_mm: float = typer.Option(3.0, "--spacing-mm", min=1.0, max=8.0, help="Registration voxel size, mm."),
        iterations: int = typer.Option(100, "--iterations", min=0, max=1000, help="Demons iterations per level "
                                       "(0: affine only)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT (only a folder xraylab made)."),
    ) -> None:
        """Label an unlabelled CT by registering labelled CTs onto it (affine + demons, SimpleITK) and carrying
        their labels over; lungs from the HU labeller. Prints the voxel count of each structure."""
        import json

        import numpy as np
        import SimpleITK as sitk

        from xraylab.errors import ConfigError
        from xraylab.io.atomic import atomic_path, write_text
        from xraylab.io.ct import is_default_ct_name, load_ct, load_default_ct
        from xraylab.io.label_propagation import DEFAULT_ATLAS_STRUCTURES, atlas_names, label_ct
        from xraylab.io.ownership import write_marker
        from xraylab.io.structures import expand_structure_list
        from xraylab.render.write import check_render_out

        check_render_out(out, overwrite, [ct])
        atlases = []
        for a in atlas:
            if is_default_ct_name(a):
                atlases.append(load_default_ct())
                continue
            parts = [p.strip() for p in a.split(",")]
            if len(parts) not in (2, 3):
                raise ConfigError(f"--atlas {a!r}: give 'default' or CT,LABELS[,TABLE]")
            atlases.append(load_ct(parts[0], parts[1], parts[2] if len(parts) == 3 else None, segment="never"))
        groups = expand_structure_list([structures]) if structures else list(DEFAULT_ATLAS_STRUCTURES)
        names = atlas_names(atlases[0].structures, groups)
        target = load_ct(ct, segment="never")
        typer.echo(f"registering {len(atlases)} atlas(es) onto {ct} ...", err=True)
        labelled = label_ct(target, atlases, names, lungs=lungs, spacing_mm=spacing_mm, iterations=iterations)
        assert labelled.labels is not None
        lab = labelled.labels.numpy().transpose(2, 1, 0)  # [I, J, K] → SimpleITK's [K, J, I]
        img = sitk.GetImageFromArray(lab.astype(np.int16))
        img.CopyInformation(target.to_sitk())
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "labels.nii.gz") as tmp:
            sitk.WriteImage(img, str(tmp.with_suffix(".nii.gz")))
            tmp.with_suffix(".nii.gz").replace(tmp)
        rows = "".join(f"{k},{v}\n" for k, v in sorted(labelled.structures.items()))
        write_text(out / "structures.csv", "id,structure\n" + rows)
        info = {"ct": str(ct), "label_source": labelled.meta["label_source"],
                "structures": labelled.meta["label_sources"], "registration": labelled.meta["label_propagation"]}
        write_text(out / "label_sources.json", json.dumps(info, indent=2, default=float) + "\n")
        write_marker(out, "label", {"ct": str(ct), "atlases": len(atlases)})
        counts = {v: int((lab == k).sum()) for k, v in sorted(labelled.structures.items())}
        typer.echo(" ".join(f"{k}:{n}" for k, n in counts.items() if n))
        typer.echo(f"wrote {out / 'labels.nii.gz'}, structures.csv, label_sources.json")
