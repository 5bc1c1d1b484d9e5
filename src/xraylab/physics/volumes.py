"""The two volumes the projector marches through: density and a packed material × structure code.

``density``: float32 ``[I, J, K]`` mass density, g/cm³ (:func:`xraylab.physics.materials.hu_to_density`).
``code``: uint8 (or int16 when more codes are needed) ``[I, J, K]``; ``code = channel · 7 + material`` where
``material`` indexes :data:`~xraylab.physics.materials.MATERIALS` and ``channel`` is 0 (no requested structure)
or 1 … L, one channel per label id that any requested structure needs (overlapping groups such as ``lungs``
and ``left_lung`` are sums over channels).

Both are built slab by slab (bounded temporaries) from a :class:`~xraylab.io.ct.CTVolume`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from xraylab.io.ct import CTVolume
from xraylab.io.structures import exclusion_ids, resolve_structure
from xraylab.physics.materials import (
    BLOOD_DENSITY,
    BLOOD_HU,
    CONTRAST,
    MATERIALS,
    METAL,
    METALS,
    SCHNEIDER_HU,
    SCHNEIDER_RHO,
    MaterialConfig,
    assign_materials,
    blood_pool_ids,
    bone_label_ids,
    hu_to_density,
    iodine_hu_per_mg_ml,
    iodine_mg_ml,
    material_names,
)
from xraylab.physics.raymarch import HAVE_NUMBA, numba

_SLAB_VOXELS = 4_000_000  # voxels per build slab (≈ 100 MB of float/int64 temporaries)


@dataclass
class ProjectorVolumes:
    """Density and code volumes of one CT for a list of structures (see the module docstring).

    Attributes:
        density: float32 ``[I, J, K]`` g/cm³ (CPU, contiguous).
        code: uint8 / int16 ``[I, J, K]`` packed code (CPU, contiguous).
        members: structure name → its label ids.
        channel_of: label id → channel (1 … L).
        n_channels: L + 1 (channel 0 = no structure).
        material_names: the attenuation material of each material id
            (:func:`~xraylab.physics.materials.material_names`).
        material_present: whether any voxel has each material id (metal and contrast channels are left out of a
            projection when absent, so such CTs render exactly as with five materials).
        blocks: the uniform-block grid of ``density`` and ``code`` (:mod:`xraylab.physics.occupancy`), or None
            until :meth:`uniform_blocks` builds it (the volume cache stores it beside the volumes).
    """

    density: np.ndarray
    code: np.ndarray
    members: dict[str, list[int]] = field(default_factory=dict)
    channel_of: dict[int, int] = field(default_factory=dict)
    n_channels: int = 1
    material_names: list[str] = field(default_factory=lambda: material_names(MaterialConfig()))
    material_present: list[bool] = field(default_factory=lambda: [True] * 5 + [False, False])
    blocks: np.ndarray | None = field(default=None, repr=False)

    def uniform_blocks(self) -> np.ndarray:
        """The uniform-block grid (uint8, see :mod:`xraylab.physics.occupancy`), built on first use."""
        if self.blocks is None:
            from xraylab.physics.occupancy import uniform_blocks

            self.blocks = uniform_blocks(self.density, self.code)
        return self.blocks

    def output_materials(self) -> list[tuple[int, str]]:
        """``(material id, attenuation name)`` of the channels a projection carries: the five tissues always,
        metal and contrast when present."""
        return [(i, n) for i, n in enumerate(self.material_names) if i < METAL or self.material_present[i]]

    @property
    def n_codes(self) -> int:
        """Number of distinct codes, ``n_channels · len(MATERIALS)``."""
        return self.n_channels * len(MATERIALS)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Lookup tables code → material id and code → structure channel, int64 ``[n_codes]`` each."""
        codes = np.arange(self.n_codes, dtype=np.int64)
        return codes % len(MATERIALS), codes // len(MATERIALS)


def structure_channels(ct: CTVolume, structures: Sequence[str]) -> tuple[dict[str, list[int]], list[int]]:
    """Label ids of every requested structure and the ordered list of all needed ids (channel k+1 ↔ ids[k]).

    The needed ids include those of the structures a radiographic lung field leaves out
    (:func:`xraylab.io.structures.exclusion_ids`), so the projector can find the rays that cross them.

    Raises :class:`~xraylab.errors.StructureError` for a structure on a CT without labels or an unknown name.
    """
    members: dict[str, list[int]] = {}
    needed: list[int] = []
    for s in structures:
        if ct.labels is None:
            from xraylab.errors import StructureError

            raise StructureError(f"{ct.source or ct.name}: structure {s!r} requested but the CT has no label map")
        source = f"label map of {ct.source or ct.name}"
        ids = resolve_structure(s, ct.structures, source=source)
        members[s] = ids
        needed += [i for i in ids if i not in needed]
        for ex_ids in exclusion_ids(s, ct.structures, source).values():  # a lung field: the organs it leaves out
            needed += [i for i in ex_ids if i not in needed]
    return members, needed


def build_volumes(
    ct: CTVolume, structures: Sequence[str] = (), materials: MaterialConfig | None = None
) -> ProjectorVolumes:
    """Density and packed code volumes of ``ct`` for ``structures`` (CPU), built in slabs along I."""
    cfg = materials or MaterialConfig()
    members, needed = structure_channels(ct, structures)
    n_channels = len(needed) + 1
    n_codes = n_channels * len(MATERIALS)
    code_dtype = np.uint8 if n_codes <= 256 else np.int16
    if n_codes > np.iinfo(np.int16).max:
        from xraylab.errors import StructureError

        raise StructureError(f"{ct.source or ct.name}: too many structure labels requested ({len(needed)})")
    ni, nj, nk = ct.shape
    bones = bone_label_ids(ct.structures)
    blood, c_ref = contrast_pool(ct, cfg)
    chan_lut = np.zeros(1, dtype=np.int64)
    if ct.labels is not None:
        top = max([int(ct.labels.max())] + needed) + 1
        chan_lut = np.zeros(top, dtype=np.int64)
        chan_lut[needed] = np.arange(1, len(needed) + 1)
    if HAVE_NUMBA and ct.hu.device.type == "cpu":
        density, code = _build_numba(ct, cfg, bones, chan_lut, code_dtype, blood)
    else:
        density, code = _build_torch(ct, cfg, bones, chan_lut, code_dtype, blood)
    channel_of = {lab: k + 1 for k, lab in enumerate(needed)}
    counts = np.bincount((code.reshape(-1) % len(MATERIALS)).astype(np.int64), minlength=len(MATERIALS))
    return ProjectorVolumes(density, code, members, channel_of, n_channels, material_names(cfg, c_ref),
                            [bool(c) for c in counts])


def contrast_pool(ct: CTVolume, cfg: MaterialConfig) -> tuple[list[int], float]:
    """Blood-pool label ids that hold iodine (empty for ``never``, or when ``auto``/``remove`` finds no enhancement:
    the median HU of the labelled blood pool at or below ``contrast_min_hu``) and the reference iodine concentration
    (mg/mL; the median over enhanced voxels, 10 when none) that names the contrast material."""
    if cfg.contrast == "never" or ct.labels is None:
        return [], 10.0
    ids = blood_pool_ids(ct.structures)
    if not ids:
        return [], 10.0
    pool = torch.isin(ct.labels, torch.tensor(ids, dtype=ct.labels.dtype, device=ct.labels.device))
    hu = ct.hu[pool].to(torch.float32)
    if hu.numel() == 0 or (cfg.contrast in ("auto", "remove") and float(hu.median()) <= cfg.contrast_min_hu):
        return [], 10.0
    enhanced = hu[(hu >= cfg.contrast_min_hu) & (hu < cfg.metal_hu)]
    c_ref = float(np.median(iodine_mg_ml(enhanced.cpu().numpy(), iodine_hu_per_mg_ml()))) if enhanced.numel() else 10.0
    return ids, round(c_ref, 1)


def _build_torch(
    ct: CTVolume, cfg: MaterialConfig, bones: list[int], chan_lut: np.ndarray, code_dtype, blood: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Reference build with the torch functions of :mod:`xraylab.physics.materials`, slab by slab."""
    ni, nj, nk = ct.shape
    density = np.empty((ni, nj, nk), dtype=np.float32)
    code = np.empty((ni, nj, nk), dtype=code_dtype)
    lut = torch.from_numpy(chan_lut)
    step = max(1, _SLAB_VOXELS // max(1, nj * nk))
    for a in range(0, ni, step):
        b = min(a + step, ni)
        hu = ct.hu[a:b].to(torch.float32).cpu()
        labels = ct.labels[a:b].cpu() if ct.labels is not None else None
        rho = hu_to_density(hu, cfg.density_model)
        remove = cfg.contrast == "remove"
        mat = assign_materials(hu, cfg, labels, bones, contrast_ids=blood or None, remove_contrast=remove)
        mat = mat.to(torch.int64)
        per_mg = iodine_hu_per_mg_ml() if blood else 1.0
        c = torch.clamp(hu - BLOOD_HU, min=0.0) / per_mg  # mg/mL of iodine where the voxel is contrast
        rho = torch.where(mat == CONTRAST, BLOOD_DENSITY + c / 1000.0, rho)
        if remove and blood and labels is not None:  # virtual non-contrast: unenhanced blood
            pool = torch.isin(labels, torch.tensor(blood, dtype=labels.dtype))
            unenhanced = pool & (hu >= cfg.contrast_min_hu) & (hu < cfg.metal_hu)
            rho = torch.where(unenhanced, torch.tensor(BLOOD_DENSITY, dtype=rho.dtype), rho)
        rho = torch.where(mat == METAL, torch.tensor(METALS[cfg.metal], dtype=rho.dtype), rho)
        density[a:b] = rho.numpy()
        if labels is not None:
            mat += lut[labels.to(torch.int64)] * len(MATERIALS)
        code[a:b] = mat.numpy().astype(code_dtype)
    return density, code


def _build_numba(
    ct: CTVolume, cfg: MaterialConfig, bones: list[int], chan_lut: np.ndarray, code_dtype, blood: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The same build in one compiled pass over the voxels (no temporaries)."""
    global _BUILD_KERNEL
    if _BUILD_KERNEL is None:
        _BUILD_KERNEL = _make_build_kernel()
    hu = np.ascontiguousarray(ct.hu.numpy(), dtype=np.float32).reshape(-1)
    has_labels = ct.labels is not None
    labels = np.ascontiguousarray(ct.labels.numpy()).reshape(-1) if ct.labels is not None else np.zeros(1, np.int16)
    n_lut = max(len(chan_lut), (max(bones) + 1) if bones else 1, (max(blood) + 1) if blood else 1)
    if has_labels:
        n_lut = max(n_lut, int(labels.max(initial=0)) + 1)
    bone_lut = np.zeros(n_lut, dtype=np.uint8)
    blood_lut = np.zeros(n_lut, dtype=np.uint8)
    blood_lut[blood] = 1
    force = cfg.force_bone_from_labels and has_labels and len(bones) > 0
    if force:
        bone_lut[bones] = 1
    lut = np.zeros(n_lut, dtype=np.int64)
    lut[: len(chan_lut)] = chan_lut
    xp = np.asarray(SCHNEIDER_HU, dtype=np.float32)
    fp = np.asarray(SCHNEIDER_RHO, dtype=np.float32)
    thr = np.asarray([cfg.air_max_hu, cfg.lung_max_hu, cfg.adipose_max_hu, cfg.bone_min_hu, cfg.metal_hu,
                      cfg.contrast_min_hu], dtype=np.float32)
    # metal density, iodine mg/mL per HU, blood HU and density, material count
    extra = np.asarray([METALS[cfg.metal], 1.0 / (iodine_hu_per_mg_ml() if blood else 1.0), BLOOD_HU,
                        BLOOD_DENSITY, len(MATERIALS)], dtype=np.float32)
    density = np.empty(hu.shape, dtype=np.float32)
    code = np.empty(hu.shape, dtype=code_dtype)
    mode = (2 if cfg.contrast == "remove" else 1) if blood else 0  # 0 no contrast, 1 iodinated, 2 removed
    _BUILD_KERNEL(hu, labels, has_labels, xp, fp, cfg.density_model == "deepdrr", thr, bone_lut, force,
                  len(bones) >= 10, lut, density, code, blood_lut, mode, extra)
    return density.reshape(ct.shape), code.reshape(ct.shape)


_BUILD_KERNEL = None


def _make_build_kernel():  # pragma: no cover - compiled
    @numba.njit(parallel=True, cache=True)
    def _build(hu, labels, has_labels, xp, fp, deepdrr, thr, bone_lut, force, restrict, chan_lut, density, code,
               blood_lut, contrast, extra):
        n_mat = int(extra[4])
        n_xp = xp.shape[0]
        for v in numba.prange(hu.shape[0]):
            x = hu[v]
            if deepdrr:  # materials.hu_to_density, "deepdrr"
                rho = min(np.float32(0.001029) * x + np.float32(1.030), np.float32(0.0005886) * x + np.float32(1.03))
            else:  # materials.hu_to_density, "schneider": piecewise linear, clamped below, extrapolated above
                xc = max(x, xp[0])
                k = 0
                while k < n_xp - 2 and xp[k + 1] <= xc:
                    k += 1
                rho = fp[k] + (xc - xp[k]) * (fp[k + 1] - fp[k]) / (xp[k + 1] - xp[k])
            density[v] = max(rho, np.float32(0.0))
            m = 3  # materials.assign_materials
            if x < thr[2]:
                m = 2
            if x < thr[1]:
                m = 1
            if x < thr[0]:
                m = 0
            if x >= thr[3]:
                m = 4
            ch = 0
            if has_labels:
                lab = labels[v]
                if force:
                    if bone_lut[lab]:
                        m = 4
                    elif restrict and m == 4:
                        m = 3
                ch = chan_lut[lab]
                if contrast > 0 and blood_lut[lab] and x >= thr[5] and x < thr[4]:  # materials.assign_materials
                    if contrast == 1:  # iodinated blood
                        m = 6
                        density[v] = extra[3] + max(x - extra[2], np.float32(0.0)) * extra[1] / np.float32(1000.0)
                    else:  # contrast removed: unenhanced blood
                        m = 3
                        density[v] = extra[3]
            if x >= thr[4]:
                m = 5
                density[v] = extra[0]
            code[v] = ch * n_mat + m

    return _build
