"""The README's devices figure: one PA view of the embedded CT bare; with six devices placed correctly (as rendered,
then with each device's mask outlined); and with them misplaced (outlined).

Run:  .venv/bin/python docs/make_devices_figure.py [--size 320]    → docs/figures/devices.png (~20 s on 2 cores)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "figures" / "devices.png"
COLOURS = {"ett": "#e6194b", "ngt": "#3cb44b", "cvc": "#4363d8", "ecg": "#f58231", "pacemaker": "#911eb4",
           "sternal_wires": "#42d4f4"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=320, help="detector pixels per side (default 320)")
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import ndimage

    from xraylab.devices import KINDS, place
    from xraylab.physics.presets import resolve_preset
    from xraylab.render import load_scene

    scene = load_scene("default", downsample=2)
    geom, physics = resolve_preset("chest_pa", [], {"rows": a.size, "cols": a.size})
    panels = [("no devices", [], False)]
    for misplaced in (False, True):
        devs = place(scene.anatomy, list(KINDS), seed=a.seed, misplaced=misplaced)
        status = ", ".join(f"{d.kind} {d.params['status']}" for d in devs if d.kind in ("ett", "ngt", "cvc",
                                                                                           "pacemaker"))
        if not misplaced:
            panels.append(("six devices as rendered", devs, False))
        panels.append((("misplaced: " if misplaced else "masks: ") + status, devs, True))
    fig, axes = plt.subplots(1, 4, figsize=(19, 5.6))
    for ax, (title, devs, outline) in zip(axes, panels):
        r = scene.render(geom, physics, seed=0, devices=devs)
        ax.imshow(r.layers["image"][0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        for d in devs if outline else ():
            m = r.projection.paths[d.kind][0, 0].numpy() > 0
            edge = m & ~ndimage.binary_erosion(m)
            yy, xx = np.nonzero(edge)
            ax.scatter(xx, yy, s=0.4, c=COLOURS[d.kind], label=d.kind)
        ax.set_title(title, fontsize=8, wrap=True)
        ax.axis("off")
    handles = [plt.Line2D([], [], color=c, lw=3, label=k) for k, c in COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=9, frameon=False)
    fig.suptitle("xraylab devices on the embedded chest CT (chest_pa, outlines = device masks)", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=90)
    print(OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
