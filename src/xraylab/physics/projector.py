"""Ray-traced projection of a CT into per-material line integrals and per-structure path lengths.

For every detector pixel a ray runs from the source point to the pixel centre.
DiffDRR's ray parametrisation (``diffdrr.renderers``: plane intersections for
Siddon's method, the volume entry/exit parameters, the normalised sampling
coordinates) is the engine; on top of it one pass samples, per ray segment, the
density and a packed *material × structure* code, and accumulates

* ``material/<m>``: ∫ρ dl over the voxels of material m, in g/cm², and
* ``path/<s>``: the length of the ray inside structure s, in mm (unit density,
  so that air-filled structures such as the lungs have a path length too).

DiffDRR's own ``DRR`` output is a min–max normalised density integral, not a
physical quantity; this module works in physical units throughout.

Renderers: ``siddon`` — exact: each segment between consecutive voxel-boundary
crossings lies in one voxel (nearest lookup), its length weights the sum.
``trilinear`` — the fused ray march of :mod:`xraylab.physics.raymarch`: ``n_points``
midpoint samples per ray between its entry into and exit from the volume, density
interpolated trilinearly, the material × structure code by nearest neighbour, all
channels accumulated in one pass (a compiled numba kernel on CPU; the same march in
torch on other devices and whenever a gradient is needed).

Memory stays bounded at any detector size: the numba march needs only its outputs,
the torch paths process rays in chunks sized from ``memory_budget_mb``. Poses are
batched: all rays of all poses form one stream with per-ray source points.

Differentiable rendering: :meth:`Projector.project` with a ``pose`` of tensors
(see :meth:`xraylab.physics.geometry.Geometry.rays_ct`) runs the torch march under
autograd; gradients flow to the pose (rotation, tilt, translation, source and
detector positions).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from diffdrr.renderers import _get_alpha_minmax, _get_alphas

from xraylab.io.ct import CTVolume
from xraylab.io.structures import RADIOGRAPHIC_EXTENT, exclusion_ids
from xraylab.physics import raymarch
from xraylab.physics.geometry import Geometry
from xraylab.physics.materials import MATERIALS, MaterialConfig
from xraylab.physics.occupancy import BLOCK_SHIFT
from xraylab.physics.volumes import ProjectorVolumes, build_volumes

_EPS = 1e-8
_VOXEL_SHIFT = 0.5  # voxel centres at integer indices
MAX_SUPERSAMPLE = 4  # rays per pixel along each axis: at most 16 rays per detector pixel


MIN_SAMPLES_PER_RAY, MAX_SAMPLES_PER_RAY = 2, 8192  # one cap for render and generate (n_points)


def auto_supersample(ct: CTVolume, geometry: Geometry) -> int:
    """Rays per pixel along each axis so that the ray spacing at the isocenter is no coarser than the CT's
    smallest voxel spacing: ⌈(pitch · SOD / SID) / min(spacing)⌉, clipped to 1…:data:`MAX_SUPERSAMPLE`.

    E.g. the default CT (0.70 mm in-plane) with the ``chest_pa`` detector (43 cm, SID 1800, SOD 1650) at 256²:
    pitch 1.68 mm → 1.54 mm at the isocenter → 3; at 512² → 0.77 mm → 2; at 1024² → 1.
    """
    at_iso = geometry.pitch_mm * geometry.sod_mm / geometry.sid_mm
    s = int(math.ceil(at_iso / float(min(ct.spacing)) - 1e-6))
    return max(1, min(MAX_SUPERSAMPLE, s, 8192 // max(geometry.rows, geometry.cols)))


@dataclass
class Projection:
    """Result of :meth:`Projector.project` for B poses on an H × W detector.

    Attributes:
        materials: material name → ``[B, 1, H, W]`` float32 density line integral ∫ρ dl, g/cm².
        paths: structure name → ``[B, 1, H, W]`` float32 path length inside the structure, mm.
        geometries: the B geometries, in order.
    """

    materials: dict[str, torch.Tensor]
    paths: dict[str, torch.Tensor]
    geometries: list[Geometry] = field(default_factory=list)

    def masks(self, threshold_mm: float = 0.0) -> dict[str, torch.Tensor]:
        """Binary projected masks ``[B, 1, H, W]`` (bool): path length > ``threshold_mm``."""
        return {k: v > threshold_mm for k, v in self.paths.items()}

    def total_density(self) -> torch.Tensor:
        """Σ over materials of ∫ρ dl, ``[B, 1, H, W]`` g/cm²."""
        return torch.stack(list(self.materials.values())).sum(0)

    def layers(self) -> dict[str, torch.Tensor]:
        """Flat dict ``material/<m>`` and ``path/<s>`` → tensors (the ``layers.npz`` naming)."""
        out = {f"material/{k}": v for k, v in self.materials.items()}
        out.update({f"path/{k}": v for k, v in self.paths.items()})
        return out


class Projector:
    """Projects one CT for any number of geometries.

    Args:
        ct: the CT volume (HU) with optional labels.
        structures: structure or group names to render path lengths and masks for.
        materials: HU → density / material settings.
        renderer: ``"siddon"`` (exact) or ``"trilinear"`` (fast fused march).
        n_points: samples per ray for the trilinear renderer (every ray the same count).
        step_mm: instead of ``n_points``, a sampling step in mm: each ray gets ⌈chord / step_mm⌉ samples.
            With neither (``n_points=None``): ``step_mm`` = the smallest voxel spacing.
        device: torch device for the volumes and the ray tracing.
        memory_budget_mb: approximate peak working memory per chunk of rays (torch paths).
        backend: ``"auto"`` (numba on CPU without gradients, and for ``density_only`` with gradients — values from
            the compiled march, gradients from :mod:`xraylab.physics.density_march`; else torch), ``"numba"`` (the
            same, refusing the other gradient cases) or ``"torch"`` (the torch march always).
        volumes: prebuilt :class:`~xraylab.physics.volumes.ProjectorVolumes` of ``ct`` for ``structures``.
        supersample: rays per detector pixel along each axis (s² rays per pixel, averaged), or ``"auto"``:
            :func:`auto_supersample` per geometry — enough rays that their spacing at the isocenter is no coarser
            than the CT's smallest voxel, so a detector coarser than the CT integrates its detail instead of
            point-sampling (aliasing) it. Material line integrals and structure path lengths are averaged over
            the pixel; a structure's path (and mask) is kept where it covers at least half of the pixel's rays.
            The exponential of the averaged line integral neglects the sub-pixel spread of attenuation
            (the exponential edge-gradient effect), as other DRR renderers do.
    """

    def __init__(
        self,
        ct: CTVolume,
        structures: Sequence[str] = (),
        materials: MaterialConfig | None = None,
        renderer: Literal["siddon", "trilinear"] = "siddon",
        n_points: int | None = 500,
        step_mm: float | None = None,
        device: torch.device | str = "cpu",
        memory_budget_mb: float = 512.0,
        backend: Literal["auto", "numba", "torch"] = "auto",
        volumes: ProjectorVolumes | None = None,
        supersample: int | Literal["auto"] = 1,
    ):
        if renderer not in ("siddon", "trilinear"):
            raise ValueError(f"renderer must be 'siddon' or 'trilinear', not {renderer!r}")
        if backend not in ("auto", "numba", "torch"):
            raise ValueError(f"backend must be 'auto', 'numba' or 'torch', not {backend!r}")
        self.ct = ct
        self.renderer = renderer
        self.device = torch.device(device)
        self.memory_budget_mb = memory_budget_mb
        self.material_config = materials or MaterialConfig()
        self.structures = list(structures)
        self.backend = backend
        if supersample != "auto" and not (isinstance(supersample, int) and 1 <= supersample <= MAX_SUPERSAMPLE):
            raise ValueError(f"supersample must be 'auto' or an integer 1..{MAX_SUPERSAMPLE}, not {supersample!r}")
        self.supersample = supersample
        t0 = time.perf_counter()
        vol = volumes or build_volumes(ct, self.structures, self.material_config)
        self.volumes = vol
        self.build_seconds = time.perf_counter() - t0
        self._members = vol.members
        # rays a radiographic lung field leaves out: excluded structure → label ids, resolved once
        self._exclusions = {s: exclusion_ids(s, ct.structures) for s in self._members}
        self._channel_of = vol.channel_of
        self._n_label_channels = vol.n_channels
        if step_mm is not None and step_mm <= 0:
            raise ValueError(f"step_mm must be > 0, not {step_mm}")
        if n_points is not None and not MIN_SAMPLES_PER_RAY <= n_points <= MAX_SAMPLES_PER_RAY:
            from xraylab.errors import ConfigError

            raise ConfigError(f"n_points (--n-points) {n_points}: give {MIN_SAMPLES_PER_RAY}–{MAX_SAMPLES_PER_RAY} "
                              "samples per ray (or leave it out: two per smallest voxel)")
        if step_mm is None and not n_points:
            step_mm = float(min(ct.spacing))
        self.step_mm = float(step_mm) if step_mm is not None else 0.0
        self.n_points = int(n_points) if n_points else self.max_samples()
        mat_of, chan_of = vol.tables()
        self._mat_of_np, self._chan_of_np = mat_of, chan_of
        self._dims = torch.tensor(ct.shape, dtype=torch.float32, device=self.device)
        self._affine_inv = torch.linalg.inv(ct.affine).to(self.device)
        self._iso_default = ct.center_mm
        self._torch_cache: dict[str, torch.Tensor] = {}

    def max_samples(self) -> int:
        """Samples of the longest ray through the volume (its diagonal) at ``step_mm`` (``n_points`` if fixed)."""
        if not self.step_mm:
            return self.n_points
        extent = [n * s for n, s in zip(self.ct.shape, self.ct.spacing)]
        return max(1, int(math.ceil(math.sqrt(sum(e * e for e in extent)) / self.step_mm)))

    # ------------------------------------------------------------------ device tensors (lazy)
    def _tensor(self, name: str) -> torch.Tensor:
        """Device copies of the volumes in the layouts the torch paths need, made on first use."""
        if name not in self._torch_cache:
            vol = self.volumes  # numpy arrays, possibly read-only memory maps: every branch copies
            if name == "density_grid":  # grid_sample wants [N, C, D, H, W] with D ↔ K, H ↔ J, W ↔ I
                t = torch.from_numpy(np.ascontiguousarray(vol.density.transpose(2, 1, 0)))[None, None]
            elif name == "code_flat":
                t = torch.from_numpy(vol.code.reshape(-1).copy())  # uint8 / int16: 1–2 bytes per voxel
            elif name == "both":  # Siddon: density and code in one grid_sample
                both = np.stack([vol.density, vol.code.astype(np.float32)]).transpose(0, 3, 2, 1)
                t = torch.from_numpy(np.ascontiguousarray(both))[None]
            elif name == "mat_of":
                t = torch.from_numpy(self._mat_of_np)
            elif name == "chan_of":
                t = torch.from_numpy(self._chan_of_np)
            else:  # pragma: no cover
                raise KeyError(name)
            self._torch_cache[name] = t.to(self.device)
        return self._torch_cache[name]

    @property
    def _density(self) -> torch.Tensor:
        """``[1, 1, K, J, I]`` density (grid_sample layout), g/cm³."""
        return self._tensor("density_grid")

    # ------------------------------------------------------------------ rays
    def _rays(
        self, geometries: Sequence[Geometry], pose: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-ray source and target in voxel index coordinates, and ray length in mm.

        Returns ``source [M, 3]``, ``target [M, 3]`` (voxel units) and ``length [M]`` (mm), with
        M = B · rows · cols: float32 without ``pose``, else in the pose tensors' dtype (differentiable).
        """
        dtype = torch.float64
        if pose:
            dtype = next(iter(pose.values())).dtype
        srcs, tgts, lens = [], [], []
        a = self._affine_inv.to(dtype)
        for g in geometries:
            iso = torch.tensor(g.isocenter_mm, dtype=torch.float64) if g.isocenter_mm else self._iso_default
            s_ct, t_ct = g.rays_ct(iso, pose, device=self.device, dtype=dtype)
            s_v = s_ct @ a[:3, :3].T + a[:3, 3]
            t_v = t_ct @ a[:3, :3].T + a[:3, 3]
            srcs.append(s_v.expand_as(t_v))
            tgts.append(t_v)
            lens.append((t_ct - s_ct).norm(dim=-1))  # rigid transform: the same length in world and CT mm
        src, tgt, length = torch.cat(srcs), torch.cat(tgts), torch.cat(lens)
        if not pose:
            src, tgt, length = src.float(), tgt.float(), length.float()
        return src, tgt, length

    def _chunk_size(self) -> int:
        n_samples = int(sum(self.ct.shape) + 3) if self.renderer == "siddon" else self.n_points
        bytes_per_ray = n_samples * 4 * 16  # alphas, midpoints, xyz (×3), samples, weights, indices, temporaries
        return max(256, int(self.memory_budget_mb * 2**20 / bytes_per_ray))

    def _use_numba(self, needs_grad: bool) -> bool:
        if self.renderer != "trilinear" or needs_grad or self.device.type != "cpu":
            if self.backend == "numba":
                raise ValueError("backend='numba' runs on CPU without gradients only")
            return False
        if self.backend == "torch":
            return False
        return raymarch.HAVE_NUMBA

    # ------------------------------------------------------------------ sampling
    def _grid_coords(self, alphas: torch.Tensor, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """grid_sample coordinates in [−1, 1] of the points ``s + α (t − s)``, ``[1, 1, n, P, 3]``.

        The same mapping as DiffDRR's ``_get_xyzs`` (voxel index → normalised, voxel centres at integers),
        written as one fused multiply-add so that no extra ``[n, P, 3]`` temporaries are made.
        """
        scale = 2.0 / self._dims
        a = (s + _VOXEL_SHIFT) * scale - 1.0  # [1, n, 3]
        b = (t - s + _EPS) * scale  # [1, n, 3]
        return torch.addcmul(a.unsqueeze(-2), alphas.unsqueeze(-1), b.unsqueeze(-2)).unsqueeze(1)

    def _siddon_chunk(
        self, src: torch.Tensor, tgt: torch.Tensor, length: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact Siddon sums of one chunk of rays: material integrals ``[n, 5]`` (g/cm³·mm), paths ``[n, L+1]``."""
        s, t = src[None], tgt[None]  # [1, n, 3]: DiffDRR's helpers broadcast per-ray sources
        dims = self._dims
        amin, amax = _get_alpha_minmax(s, t, dims, _VOXEL_SHIFT, _EPS)  # [1, n, 1], volume entry and exit
        alphas = _get_alphas(s, t, dims, _VOXEL_SHIFT, _EPS, False)  # [1, n, P+1] plane crossings
        alphas = torch.minimum(torch.maximum(alphas, amin), amax)
        mid = 0.5 * (alphas[..., :-1] + alphas[..., 1:])
        weight = (torch.diff(alphas, dim=-1) * length[None, :, None])[0]  # segment lengths [n, P], mm
        vals = F.grid_sample(self._tensor("both"), self._grid_coords(mid, s, t), mode="nearest", align_corners=False)
        rho, code = vals[0, 0, 0], vals[0, 1, 0]  # [n, P] each
        n = rho.shape[0]
        nm, nl = len(MATERIALS), self._n_label_channels
        idx = code.to(torch.int64)  # packed structure-channel × material code
        dens = torch.zeros(n, nl * nm, device=self.device).scatter_add_(1, idx, rho * weight)
        mat = dens.view(n, nl, nm).sum(1)
        paths = torch.zeros(n, nl, device=self.device)
        if nl > 1:
            lengths = torch.zeros(n, nl * nm, device=self.device).scatter_add_(1, idx, weight)
            paths = lengths.view(n, nl, nm).sum(2)
        return mat, paths

    # ------------------------------------------------------------------ public API
    def project(
        self,
        geometries: Geometry | Sequence[Geometry],
        progress: bool = False,
        pose: dict[str, torch.Tensor] | None = None,
        density_only: bool = False,
    ) -> Projection:
        """Trace all pixels of all ``geometries`` (same detector size) and return a :class:`Projection`.

        ``pose``: optional tensors replacing or adding to the pose of every geometry (keys
        :data:`xraylab.physics.geometry.POSE_KEYS`); when any requires grad, or gradients are enabled and
        the backend is torch, the result is differentiable with respect to them (trilinear renderer only).
        ``density_only``: one channel, ``materials["density"]`` = ∫ρ dl over every material (g/cm²), and no
        structure paths — what registration needs; the torch march then skips the material and structure codes.
        """
        geoms = [geometries] if isinstance(geometries, Geometry) else list(geometries)
        if not geoms:
            raise ValueError("project() needs at least one geometry")
        rows, cols = geoms[0].rows, geoms[0].cols
        if any((g.rows, g.cols) != (rows, cols) for g in geoms):
            raise ValueError("all geometries in one project() call must share the detector size")
        needs_grad = torch.is_grad_enabled() and bool(pose) and any(
            p.requires_grad for p in (pose or {}).values())
        if needs_grad and self.renderer != "trilinear":
            raise ValueError("gradients need renderer='trilinear' (Siddon's nearest lookup has none)")
        sub = self.supersample_factor(geoms[0])
        traced = [g.model_copy(update={"rows": rows * sub, "cols": cols * sub, "pitch_mm": g.pitch_mm / sub})
                  for g in geoms] if sub > 1 else geoms
        with torch.set_grad_enabled(needs_grad):
            src, tgt, length = self._rays(traced, pose)
            if density_only:
                total = self._trace_density(src, tgt, length, needs_grad, rows * sub, cols * sub)
        if density_only:
            img = (total / 10.0).reshape(len(geoms), 1, rows * sub, cols * sub)  # g/cm³·mm → g/cm²
            if sub > 1:
                img = F.avg_pool2d(img, sub)
            return Projection(materials={"density": img}, paths={}, geometries=geoms)
        with torch.set_grad_enabled(needs_grad):
            mats, paths = self._trace(src, tgt, length, progress, needs_grad, rows * sub, cols * sub)
        bsz = len(geoms)
        mats = (mats / 10.0).T.reshape(len(MATERIALS), bsz, 1, rows * sub, cols * sub)  # g/cm³·mm → g/cm²
        paths = paths.detach().T.reshape(self._n_label_channels, bsz, 1, rows * sub, cols * sub)
        if sub > 1:  # average the s × s rays of each pixel
            mats = F.avg_pool2d(mats.flatten(0, 1), sub).view(len(MATERIALS), bsz, 1, rows, cols)
            covered = F.avg_pool2d((paths > 0).float().flatten(0, 1), sub) >= 0.5
            paths = (F.avg_pool2d(paths.flatten(0, 1), sub) * covered).view(-1, bsz, 1, rows, cols)
        materials = {name: mats[i].contiguous() for i, name in self.volumes.output_materials()}
        out_paths = {
            s: self._radiographic_extent(s, ids, paths) for s, ids in self._members.items()
        }
        return Projection(materials=materials, paths=out_paths, geometries=geoms)

    def supersample_factor(self, geometry: Geometry) -> int:
        """Rays per pixel along each axis for ``geometry``: ``supersample`` resolved, capped so that the traced
        detector stays within 8192 pixels a side."""
        if self.supersample == "auto":
            return auto_supersample(self.ct, geometry)
        return min(int(self.supersample), max(1, 8192 // max(geometry.rows, geometry.cols)))

    def _cache_friendly_order(self, tgt: torch.Tensor, rows: int, cols: int) -> np.ndarray | None:
        """A ray order (permutation) in which consecutive rays touch nearby memory, or None for row-major.

        Neighbouring rays sample neighbouring voxels; the volume is C-ordered (K fastest), so rays are taken
        down the detector columns when a step between rows moves through memory less than a step between
        columns (PA/AP chest views: rows run along K). Each thread of the march takes a contiguous block of
        rays, so this keeps its working set in cache (about 3× faster on the default CT).
        """
        if rows < 2 or cols < 2:
            return None
        _, nj, nk = self.ct.shape
        stride = torch.tensor([nj * nk, nk, 1.0], dtype=torch.float64)
        d_col = ((tgt[1] - tgt[0]).double().abs() * stride).sum()
        d_row = ((tgt[cols] - tgt[0]).double().abs() * stride).sum()
        if d_row >= d_col:
            return None
        b = tgt.shape[0] // (rows * cols)
        return np.arange(tgt.shape[0]).reshape(b, rows, cols).transpose(0, 2, 1).reshape(-1)

    def _trace_density(self, src: torch.Tensor, tgt: torch.Tensor, length: torch.Tensor, needs_grad: bool,
                       rows: int, cols: int) -> torch.Tensor:
        """∫ρ dl ``[M]`` (g/cm³·mm) of all rays over every material: one channel, no codes.

        With gradients on CPU (backend ``auto`` or ``numba``) the compiled differentiable march of
        :mod:`xraylab.physics.density_march` runs; on other devices, or with ``backend='torch'``, the torch march."""
        if (needs_grad and self.renderer == "trilinear" and self.device.type == "cpu" and raymarch.HAVE_NUMBA
                and self.backend != "torch"):
            from xraylab.physics.density_march import march_density_numba

            order = self._cache_friendly_order(tgt, rows, cols)

            def march(s: np.ndarray, t: np.ndarray, ln: np.ndarray) -> np.ndarray:
                return self._march_compiled(s, t, ln, order)[0].sum(1)

            return march_density_numba(march, self.volumes.density, src, tgt, length, self.n_points, self.step_mm)
        if self._use_numba(needs_grad) or self.renderer != "trilinear":
            mats, _ = self._trace(src, tgt, length, False, needs_grad, rows, cols)
            return mats.sum(1)
        dtype = src.dtype if needs_grad else torch.float32
        grid = self._density if dtype == torch.float32 else self._density.to(dtype)
        return raymarch.march_torch_density(grid, self.ct.shape, src, tgt, length, self.n_points,
                                            self.memory_budget_mb, step_mm=self.step_mm)

    def _march_compiled(self, s: np.ndarray, t: np.ndarray, ln: np.ndarray, order: np.ndarray | None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """The compiled march over this projector's volumes: float64 ``mat [M, 7]`` (g/cm³·mm) and ``path [M, L+1]``
        (mm) of rays ``s → t`` (float64 ``[M, 3]`` voxel coordinates, ``ln [M]`` mm), taken in ``order``."""
        vol = self.volumes
        return raymarch.march_numba(vol.density, vol.code, self._mat_of_np, self._chan_of_np, s, t, ln,
                                    self.n_points, len(MATERIALS), self._n_label_channels, step_mm=self.step_mm,
                                    blocks=vol.uniform_blocks(), block_shift=BLOCK_SHIFT, order=order)

    def _trace(
        self, src: torch.Tensor, tgt: torch.Tensor, length: torch.Tensor, progress: bool, needs_grad: bool,
        rows: int, cols: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Material integrals ``[M, 7]`` (g/cm³·mm) and channel paths ``[M, L+1]`` (mm) of all rays."""
        nm, nl = len(MATERIALS), self._n_label_channels
        if self._use_numba(needs_grad):
            s, t, ln = (x.double().numpy() for x in (src, tgt, length))
            mat, path = self._march_compiled(s, t, ln, self._cache_friendly_order(tgt, rows, cols))
            return torch.from_numpy(mat).float(), torch.from_numpy(path).float()
        if self.renderer == "trilinear":
            dtype = src.dtype if needs_grad else torch.float32
            grid = self._density if dtype == torch.float32 else self._density.to(dtype)
            return raymarch.march_torch(grid, self._tensor("code_flat"), self._tensor("mat_of"),
                                        self._tensor("chan_of"), self.ct.shape, src, tgt, length,
                                        self.n_points, nm, nl, self.memory_budget_mb, step_mm=self.step_mm)
        m_total = src.shape[0]
        chunk = self._chunk_size()
        mats = torch.empty(m_total, nm, device=self.device)
        paths = torch.empty(m_total, nl, device=self.device)
        starts = range(0, m_total, chunk)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, total=math.ceil(m_total / chunk), desc="ray tracing", unit="chunk", leave=False)
        for a in starts:
            b = min(a + chunk, m_total)
            mats[a:b], paths[a:b] = self._siddon_chunk(src[a:b], tgt[a:b], length[a:b])
        return mats, paths

    def _radiographic_extent(self, name: str, ids: list[int], paths: torch.Tensor) -> torch.Tensor:
        """Path length of structure ``name`` ``[B, 1, H, W]``: the sum over its member channels, limited to the
        detector rows of :data:`xraylab.io.structures.RADIOGRAPHIC_EXTENT` when the group has one (rows run
        head → feet on the detector), and set to 0 on every pixel whose ray crosses one of the structures of
        :data:`xraylab.io.structures.RADIOGRAPHIC_EXCLUSIONS` (radiographic lung fields)."""
        total = paths[[self._channel_of[i] for i in ids]].sum(0)
        excluded = self._exclusions.get(name)
        if excluded:
            hidden = torch.zeros_like(total, dtype=torch.bool)
            for ex, ex_ids in excluded.items():
                hidden |= self._radiographic_extent(ex, ex_ids, paths) > 0
            total = total * ~hidden
        extent = RADIOGRAPHIC_EXTENT.get(name)
        if extent is None:
            return total

        def rows_of(names: tuple[str, ...]) -> torch.Tensor | None:
            chans = [self._channel_of[i] for i in ids if self.ct.structures.get(i) in names]
            if not chans:
                return None
            return (paths[chans].sum(0) > 0).any(dim=-1)  # [B, 1, H]: rows the labels project onto

        top, bottom = rows_of(extent["top"]), rows_of(extent["bottom"])
        if top is None or bottom is None:
            return total
        h = total.shape[-2]
        r = torch.arange(h, device=total.device)
        first = torch.where(top, r, h).amin(dim=-1, keepdim=True)  # [B, 1, 1]
        last = torch.where(bottom, r, -1).amax(dim=-1, keepdim=True)
        keep = (r >= first) & (r <= last)  # [B, 1, H]
        return total * keep.unsqueeze(-1)
