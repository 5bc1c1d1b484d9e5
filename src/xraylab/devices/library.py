"""The device library: six kinds of chest device, each placed along the anatomy of a labelled CT.

Dimensions are the usual adult sizes (French size Fr = outer diameter × 3 mm): endotracheal tube 7.5 mm ID
(≈ 10.2 mm OD), PVC with a BaSO4 stripe; nasogastric tube 16 Fr (5.3 mm OD), PVC with a stripe; central venous
catheter 7 Fr (2.3 mm OD), silicone loaded with 20 % BaSO4; ECG electrodes with a stainless-steel snap and a copper
lead in PVC insulation; a pacemaker (titanium can ≈ 48 × 42 × 8 mm around a lithium-iodine battery) with an MP35N
coil lead in silicone ending in a platinum–iridium tip; sternal wires (stainless steel, 0.7 mm: size 7) looped
around the sternum. Materials: :mod:`xraylab.physics.attenuation`. Simplifications: a device adds its material to
the ray and displaces nothing (a tube in the trachea replaces air, one in the oesophagus overlaps soft tissue by its
wall volume, < 0.2 g/cm² on any ray); the battery is LiI at half its bulk density (2.0 g/cm³) for the cell's
mixed content; the lead's coil is a solid MP35N wire of the coil's metal cross-section (a 1.2 mm coil with a
0.8 mm bore: radius 0.45 mm).

Positions (the clinical rules a reader checks):

* ``ett``: tip 30–70 mm above the carina (the lowest trachea slice) when ``correct``; ``high`` 80–110 mm above it,
  or ``right_bronchus``: past the carina into the right main bronchus;
* ``ngt``: along the oesophagus into the stomach, tip in the stomach (``correct``); ``esophagus``: tip in the
  oesophagus; ``bronchial``: down the trachea into the right lower lobe;
* ``cvc``: right internal jugular → right brachiocephalic vein → SVC, tip in the lower SVC (``correct``);
  ``right_atrium`` (tip 25–40 mm below the SVC, in the heart) or ``contralateral`` (into the left brachiocephalic
  vein);
* ``ecg``: 3 or 5 electrodes on the anterior chest wall (infraclavicular and lower chest), leads running out;
* ``pacemaker``: can under the skin below the left clavicle, lead through the left brachiocephalic vein and the SVC
  to the right ventricular apex (``correct``) or ending in the right atrium (``dislodged``);
* ``sternal_wires``: 5–7 loops around the sternum (``intact``; ``fractured``: one loop broken).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from xraylab.devices.anatomy import Anatomy
from xraylab.devices.shapes import Device, Ellipsoid, Primitive, Tube
from xraylab.devices.spec import KINDS

Builder = Callable[[Anatomy, np.random.Generator, bool], Device]


# --------------------------------------------------------------------------- curves
def resample(points: np.ndarray, step_mm: float = 3.0) -> np.ndarray:
    """The polyline through ``points`` ``[P, 3]`` resampled every ``step_mm`` (ends kept)."""
    p = np.asarray(points, dtype=np.float64)
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    keep = np.r_[True, seg > 1e-9]
    p = p[keep]
    if len(p) < 2:
        return p
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
    t = np.r_[np.arange(0.0, s[-1], step_mm), s[-1]]
    return np.stack([np.interp(t, s, p[:, k]) for k in range(3)], 1)


def smooth(points: np.ndarray, width: int = 5, step_mm: float = 3.0) -> np.ndarray:
    """Resampled ``points`` with a moving average of ``width`` samples (ends pinned): a catheter's gentle curve."""
    p = resample(points, step_mm)
    if len(p) <= width or width < 2:
        return p
    k = np.ones(width) / width
    pad = width // 2
    ext = np.r_[np.repeat(p[:1], pad, 0), p, np.repeat(p[-1:], pad, 0)]
    out = np.stack([np.convolve(ext[:, j], k, mode="valid") for j in range(3)], 1)[: len(p)]
    out[0], out[-1] = p[0], p[-1]
    return out


def along(points: np.ndarray, distance_mm: float) -> np.ndarray:
    """The point ``distance_mm`` along the polyline from its first point (clamped to its ends)."""
    p = resample(points, 0.5)
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
    i = int(np.clip(np.searchsorted(s, distance_mm), 0, len(p) - 1))
    return p[i]


def upto(points: np.ndarray, distance_mm: float) -> np.ndarray:
    """The polyline from its first point to ``distance_mm`` along it."""
    p = resample(points, 0.5)
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
    n = int(np.clip(np.searchsorted(s, distance_mm), 1, len(p) - 1))
    return p[: n + 1]


def _tube(points: np.ndarray, od_mm: float, id_mm: float, material: str, density: float,
          stripe: tuple[str, float, float] | None = None, stripe_dir=(0.0, -1.0, 0.0)) -> list[Primitive]:
    """A hollow tube along ``points`` (+ a solid stripe ``(material, density, radius)`` on its anterior wall)."""
    pts = tuple(map(tuple, np.asarray(points, dtype=float)))
    parts: list[Primitive] = [Tube(pts, od_mm / 2, material, density, lumen_mm=id_mm / 2)]
    if stripe is not None:
        mat, rho, r = stripe
        off = np.asarray(stripe_dir, dtype=float) * (od_mm / 2 - r)
        parts.append(Tube(tuple(map(tuple, np.asarray(points) + off)), r, mat, rho))
    return parts


def _nearest(anat: Anatomy, name: str, point: np.ndarray) -> np.ndarray:
    p = anat.points(name)
    return p[int(np.argmin(np.linalg.norm(p - point, axis=1)))]


def _finish(kind: str, parts: list[Primitive], status: str, tip: np.ndarray, tip_structure: str | None,
            **extra: float) -> Device:
    params: dict[str, object] = {"status": status, "tip_mm": [round(float(v), 2) for v in tip]}
    if tip_structure:
        params["tip_structure"] = tip_structure
    params.update({k: round(float(v), 2) for k, v in extra.items()})
    return Device(kind, parts, params)


# --------------------------------------------------------------------------- devices
def ett(anat: Anatomy, rng: np.random.Generator, misplaced: bool) -> Device:
    """Endotracheal tube (see the module doc)."""
    cl = anat.centreline("trachea")  # superior → inferior
    carina = cl[-1]
    top = cl[0] + np.array([0.0, -15.0, 60.0])  # towards the mouth, above the CT's top if it ends there
    up = cl[::-1]  # carina → top
    length = float(np.linalg.norm(np.diff(up, axis=0), axis=1).sum())
    status = "correct" if not misplaced else str(rng.choice(["high", "right_bronchus"]))
    if status == "right_bronchus":
        bron = carina + np.array([-12.0, 4.0, -14.0])
        tip = carina + np.array([-22.0, 8.0, -30.0])
        path = np.vstack([top[None], cl, bron[None], tip[None]])
        above, where = -float(np.linalg.norm(tip - carina)), None
    else:
        h = float(rng.uniform(30.0, 70.0) if status == "correct" else rng.uniform(80.0, 110.0))
        h = min(h, length)
        tip = along(up, h)
        keep = cl[cl[:, 2] > tip[2]]
        path = np.vstack([top[None], keep, tip[None]])
        above, where = h, "trachea"
    pts = smooth(path)
    parts = _tube(pts, 10.2, 7.5, "pvc", 1.38, stripe=("pvc_baso4", 2.11, 0.5))
    return _finish("ett", parts, status, pts[-1], where, tip_above_carina_mm=above)


def ngt(anat: Anatomy, rng: np.random.Generator, misplaced: bool) -> Device:
    """Nasogastric tube (see the module doc)."""
    eso = anat.centreline("esophagus")
    top = eso[0] + np.array([0.0, -10.0, 60.0])
    status = "correct" if not misplaced else str(rng.choice(["esophagus", "bronchial"]))
    if status == "bronchial":
        tr = anat.centreline("trachea")
        lobe = "lung_lower_lobe_right" if anat.has("lung_lower_lobe_right") else "lung_right"  # HU-derived lungs
        tip = _nearest(anat, lobe, tr[-1] + np.array([-30.0, 20.0, -60.0]))
        path, where = np.vstack([top[None], tr, (tr[-1] + np.array([-15.0, 8.0, -20.0]))[None], tip[None]]), lobe
    elif status == "esophagus":
        frac = float(rng.uniform(0.3, 0.7))
        n = max(2, int(len(eso) * frac))
        path, where = np.vstack([top[None], eso[:n]]), "esophagus"
    else:
        gej = eso[-1]
        tip = _nearest(anat, "stomach", anat.centroid("stomach") + rng.normal(0.0, 5.0, 3))
        path, where = np.vstack([top[None], eso, (0.5 * (gej + tip))[None], tip[None]]), "stomach"
    pts = smooth(path)
    parts = _tube(pts, 5.33, 3.4, "pvc", 1.38, stripe=("pvc_baso4", 2.11, 0.4))
    return _finish("ngt", parts, status, pts[-1], where)


def cvc(anat: Anatomy, rng: np.random.Generator, misplaced: bool) -> Device:
    """Central venous catheter by the right internal jugular vein (see the module doc)."""
    bcv = anat.centreline("brachiocephalic_vein_right")
    svc = anat.centreline("superior_vena_cava")
    top = bcv[0] + np.array([-5.0, 0.0, 50.0])
    status = "correct" if not misplaced else str(rng.choice(["right_atrium", "contralateral"]))
    if status == "contralateral":
        left = anat.centreline("brachiocephalic_vein_left")
        left = left[np.argsort(left[:, 0])]  # medial → lateral (patient's left is +x)
        path, where = np.vstack([top[None], bcv, svc[:1], left]), "brachiocephalic_vein_left"
    elif status == "right_atrium":
        deep = svc[-1] + np.array([0.0, 0.0, -float(rng.uniform(25.0, 40.0))])
        path, where = np.vstack([top[None], bcv, svc, deep[None]]), "heart"
    else:
        down = svc[::-1]  # inferior → superior: the tip 0–20 mm above the cavo-atrial junction
        tip = along(down, float(rng.uniform(0.0, 20.0)))
        keep = svc[svc[:, 2] > tip[2]]
        path, where = np.vstack([top[None], bcv, keep, tip[None]]), "superior_vena_cava"
    pts = smooth(path, width=3)
    parts = _tube(pts, 2.33, 1.0, "silicone_baso4", 1.35)
    return _finish("cvc", parts, status, pts[-1], where)


def ecg(anat: Anatomy, rng: np.random.Generator, misplaced: bool) -> Device:
    """ECG electrodes with leads on the anterior chest wall (``misplaced`` is ignored)."""
    cr, cl = anat.centroid("clavicula_right"), anat.centroid("clavicula_left")
    low = anat.extreme("heart", (0.0, 0.0, -1.0))[2] - 20.0
    sites = [(cr[0], cr[2] - 20.0), (cl[0], cl[2] - 20.0), (cl[0] + 10.0, low)]
    if rng.random() < 0.5:
        sites += [(cr[0] - 10.0, low), (0.5 * (cr[0] + cl[0]) + 20.0, 0.5 * (cr[2] + low))]
    parts: list[Primitive] = []
    placed = []
    for x, z in sites:
        x, z = x + rng.normal(0, 8.0), z + rng.normal(0, 8.0)
        skin = anat.skin(x, z)
        if skin is None:
            continue
        stud = skin + np.array([0.0, -3.0, 0.0])  # the snap sits on the gel pad, in front of the skin
        parts.append(Ellipsoid(tuple(stud), (3.0, 1.5, 3.0), "stainless_steel", 8.0))
        side = 1.0 if x > 0.5 * (cr[0] + cl[0]) else -1.0
        lead = smooth(np.array([stud, stud + [side * 40.0, -15.0, 30.0], stud + [side * 140.0, -30.0, 110.0]]))
        parts += _tube(lead, 2.0, 0.5, "pvc", 1.38)
        parts.append(Tube(tuple(map(tuple, lead)), 0.25, "Cu", 8.96))
        placed.append(stud)
    tip = np.mean(placed, 0) if placed else anat.centroid("heart")
    return _finish("ecg", parts, "placed", tip, None, electrodes=len(placed))


def pacemaker(anat: Anatomy, rng: np.random.Generator, misplaced: bool) -> Device:
    """Pacemaker can and right-ventricular lead (see the module doc)."""
    clav = anat.centroid("clavicula_left")
    x, z = clav[0] + rng.normal(0, 5.0), clav[2] - 35.0 + rng.normal(0, 5.0)
    skin = anat.skin(x, z)
    can = (skin if skin is not None else np.array([x, anat.centroid("heart")[1] - 80.0, z])) + [0.0, 8.0, 0.0]
    parts: list[Primitive] = [Ellipsoid(tuple(can), (24.0, 4.0, 21.0), "titanium", 4.506, shell_mm=0.5),
                              Ellipsoid(tuple(can), (18.0, 2.5, 14.0), "lii", 2.0)]
    left = anat.centreline("brachiocephalic_vein_left")
    left = left[np.argsort(-left[:, 0])]  # lateral → medial
    svc = anat.centreline("superior_vena_cava")
    ra = anat.extreme("heart", (-0.9, 0.0, -0.45))
    apex = anat.extreme("heart", (0.55, -0.45, -0.7))
    status = "correct" if not misplaced else "dislodged"
    entry = can + np.array([-20.0, 0.0, 18.0])
    vein = clav + np.array([-5.0, 15.0, -5.0])
    path = [can[None], entry[None], vein[None], left, svc, ra[None]]
    if status == "correct":
        path.append((0.5 * (ra + apex) + np.array([0.0, -10.0, -5.0]))[None])
        path.append(apex[None])
    pts = smooth(np.vstack(path), width=5)
    inner = _nearest(anat, "heart", pts[-1])
    pts[-1] = inner
    parts += _tube(pts, 2.0, 1.2, "silicone", 1.15)
    parts.append(Tube(tuple(map(tuple, pts)), 0.45, "mp35n", 8.43))  # the coil's metal: π(0.6² − 0.4²) mm²
    parts.append(Ellipsoid(tuple(pts[-1]), (1.2, 1.2, 1.2), "pt_ir", 21.5))
    return _finish("pacemaker", parts, status, pts[-1], "heart")


def sternal_wires(anat: Anatomy, rng: np.random.Generator, misplaced: bool) -> Device:
    """Median-sternotomy wires around the sternum (see the module doc)."""
    pts = anat.points("sternum")
    zs = np.unique(np.round(pts[:, 2], 3))[::-1]  # superior → inferior slices
    n = int(rng.integers(5, 8))
    body = zs[int(0.15 * len(zs)):] if len(zs) > 4 else zs
    levels = body[np.linspace(0, len(body) - 1, min(n, len(body))).round().astype(int)]
    broken = int(rng.integers(len(levels))) if misplaced else -1
    parts: list[Primitive] = []
    for i, z in enumerate(levels):
        sl = pts[np.round(pts[:, 2], 3) == z]
        c = sl.mean(0)
        hx = 0.5 * (sl[:, 0].max() - sl[:, 0].min()) + 3.0
        hy = 0.5 * (sl[:, 1].max() - sl[:, 1].min()) + 2.0
        th = np.linspace(0, 2 * np.pi, 33)
        if i == broken:
            th = th[th < 1.6 * np.pi]
        loop = np.stack([c[0] + hx * np.cos(th), c[1] + hy * np.sin(th), np.full_like(th, c[2])], 1)
        knot = c + np.array([0.0, -hy - 4.0, 0.0])
        loop = np.vstack([loop, knot[None]]) if i != broken else loop
        parts.append(Tube(tuple(map(tuple, loop)), 0.35, "stainless_steel", 8.0))
    tip = pts.mean(0)
    return _finish("sternal_wires", parts, "fractured" if broken >= 0 else "intact", tip, "sternum",
                   wires=len(levels))


#: kind → builder, and the structures each needs in the label map
DEVICE_KINDS: dict[str, Builder] = {
    "ett": ett, "ngt": ngt, "cvc": cvc, "ecg": ecg, "pacemaker": pacemaker, "sternal_wires": sternal_wires,
}
#: the structures a kind is anchored to (its misplacements may need more: see each builder)
REQUIRED_STRUCTURES: dict[str, tuple[str, ...]] = {
    "ett": ("trachea",),
    "ngt": ("esophagus", "stomach", "trachea"),
    "cvc": ("brachiocephalic_vein_right", "brachiocephalic_vein_left", "superior_vena_cava"),
    "ecg": ("clavicula_left", "clavicula_right", "heart"),
    "pacemaker": ("clavicula_left", "brachiocephalic_vein_left", "superior_vena_cava", "heart"),
    "sternal_wires": ("sternum",),
}

assert tuple(DEVICE_KINDS) == KINDS, "xraylab.devices.spec.KINDS lists the library's kinds in order"
