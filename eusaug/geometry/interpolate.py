"""Fast sampling of a volume on batches of planes: trilinear values and nearest-neighbour labels.

A plane's pixel grid is affine in the pixel index, so the voxel coordinates of pixel
``(row, col)`` are ``origin + row * row_step + col * col_step``: they are built by
broadcasting, never stored for the whole batch. Each block of rows is gathered from a
padded, flattened copy of the volume with ``np.take`` (float32). For volumes that fit
:data:`PACK_MAX_BYTES`, the eight corners of every voxel cell are stored together as
the coefficients of the cell's trilinear polynomial, so one gather of 32 bytes per pixel
replaces eight. Numpy releases the GIL in these loops, so ``workers > 1`` slices planes
in threads.

Semantics match ``scipy.ndimage.map_coordinates(..., mode="constant")``: points outside
``[0, size - 1]`` on any axis take the fill value (points within 1e-6 voxel of the edge
count as inside); inside, order 1 is trilinear and order 0 rounds to the nearest voxel.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView

#: Largest corner pack (bytes) built for trilinear sampling; bigger volumes gather 8 times.
PACK_MAX_BYTES = 512 * 2**20

#: Pixels per block: the working arrays of one block (~64 bytes a pixel, half of it the
#: gathered corners) stay in a core's L2 cache. At 65536 px (~4 MB) an Intel Xeon's 2 MB
#: L2 overflowed and the eight strided passes over the corners ran from L3
#: (``bench_slicing.py``: 2.4x -> 3.3x ``map_coordinates`` there, 2026-12-08).
BLOCK_PX = 16384

#: Coordinates this close (voxels) outside the volume still count as inside.
EDGE_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class PlaneGrid:
    """Voxel coordinates of ``N`` planar ``height_px`` x ``width_px`` pixel grids.

    Pixel ``(r, c)`` of plane ``n`` is at voxel ``origin_ijk[n] + r * row_step_ijk[n] +
    c * col_step_ijk[n]`` (each ``(N, 3)`` float64, fractional voxel indices).
    """

    origin_ijk: np.ndarray
    row_step_ijk: np.ndarray
    col_step_ijk: np.ndarray
    height_px: int
    width_px: int

    def __len__(self) -> int:
        return int(self.origin_ijk.shape[0])

    def ijk(self) -> np.ndarray:
        """All voxel coordinates, ``(N, H, W, 3)`` float64 (for checks; memory hungry)."""
        rows = np.arange(self.height_px, dtype=np.float64)[None, :, None, None]
        cols = np.arange(self.width_px, dtype=np.float64)[None, None, :, None]
        return (
            self.origin_ijk[:, None, None, :]
            + rows * self.row_step_ijk[:, None, None, :]
            + cols * self.col_step_ijk[:, None, None, :]
        )

    def subset(self, index: slice | np.ndarray) -> PlaneGrid:
        return PlaneGrid(
            self.origin_ijk[index], self.row_step_ijk[index], self.col_step_ijk[index],
            self.height_px, self.width_px,
        )


def plane_grid(poses: np.ndarray, fov: FieldOfView, affine: np.ndarray) -> PlaneGrid:
    """The pixel grids of ``fov`` at ``(N, 4, 4)`` world poses, in the voxels of ``affine``."""
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    u, v = fov.pixel_coordinates_mm()
    inverse = np.linalg.inv(np.asarray(affine, dtype=np.float64))
    # Pose (world) then inverse affine (voxel): one 3x4 map per plane from (u, v, 1).
    to_voxel = np.einsum("ij,njk->nik", inverse[:3, :3], poses[:, :3, :])
    to_voxel[:, :, 3] += inverse[:3, 3]
    lateral, beam, shift = to_voxel[:, :, 0], to_voxel[:, :, 1], to_voxel[:, :, 3]

    def at(uu: float, vv: float) -> np.ndarray:
        return shift + uu * lateral + vv * beam

    origin = at(u[0, 0], v[0, 0])
    row_step = at(u[1, 0], v[1, 0]) - origin
    col_step = at(u[0, 1], v[0, 1]) - origin
    return PlaneGrid(origin, row_step, col_step, fov.height_px, fov.width_px)


class _Workspace:
    """Scratch arrays for one block of ``size`` pixels, reused across blocks and planes."""

    def __init__(self, size: int, index_dtype: type, pack: bool) -> None:
        f32 = np.float32
        self.x, self.y, self.z = (np.empty(size, f32) for _ in range(3))
        self.tmp, self.tmp2 = np.empty(size, f32), np.empty(size, f32)
        self.flat: np.ndarray = np.empty(size, index_dtype)
        self.flat_tmp: np.ndarray = np.empty(size, index_dtype)
        self.index = np.empty(size, np.intp)
        self.corners = np.empty((size, 8), f32) if pack else np.empty((8, size), f32)


class PlaneSampler:
    """A volume (and optionally a label map on the same grid) prepared for plane sampling.

    ``values``: ``(I, J, K)`` numbers sampled trilinearly as float32, ``fill_value``
    outside. ``labels``: ``(I, J, K)`` integers sampled by nearest neighbour,
    ``label_fill`` outside. Preparing copies the volume once (padded; plus the corner
    pack for ``values`` when it fits ``pack_max_bytes``), so build one sampler per
    volume and reuse it.
    """

    def __init__(
        self,
        values: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        fill_value: float = 0.0,
        label_fill: int = 0,
        pack_max_bytes: int = PACK_MAX_BYTES,
    ) -> None:
        arrays = [a for a in (values, labels) if a is not None]
        if not arrays:
            raise ValueError("PlaneSampler needs values, labels or both")
        shape = tuple(int(s) for s in arrays[0].shape)
        if any(a.ndim != 3 or tuple(a.shape) != shape for a in arrays):
            raise EusaugError(f"Volumes to sample must be 3-D and share one shape, got {[a.shape for a in arrays]}.")
        self.shape: tuple[int, int, int] = shape  # type: ignore[assignment]
        padded = tuple(s + 2 for s in shape)
        self._stride0 = padded[1] * padded[2]
        self._stride1 = padded[2]
        size = padded[0] * self._stride0
        self._index_dtype = np.float32 if size < 2**24 else np.float64
        self.fill_value = float(fill_value)
        self.label_fill = label_fill
        self._values_flat: np.ndarray | None = None
        self._pack: np.ndarray | None = None
        self._labels_flat: np.ndarray | None = None
        self.labels_dtype = None if labels is None else labels.dtype
        if values is not None:
            flat = np.pad(np.asarray(values, dtype=np.float32), 1, constant_values=np.float32(fill_value)).ravel()
            cells = size - (self._stride0 + self._stride1 + 1)
            if cells * 32 <= pack_max_bytes:
                self._pack = self._corner_pack(flat, cells)
            else:
                self._values_flat = flat
        if labels is not None:
            if not np.issubdtype(labels.dtype, np.integer):
                raise EusaugError(f"Label volumes must hold integers, got {labels.dtype}.")
            self._labels_flat = np.pad(labels, 1, constant_values=label_fill).ravel()

    @property
    def packed(self) -> bool:
        """True when trilinear sampling uses the one-gather corner pack."""
        return self._pack is not None

    def _offsets(self) -> list[int]:
        """Flat offsets of the 8 cell corners, ordered (x, y, z) bits 000, 001, ..., 111."""
        s0, s1 = self._stride0, self._stride1
        return [0, 1, s1, s1 + 1, s0, s0 + 1, s0 + s1, s0 + s1 + 1]

    def _corner_pack(self, flat: np.ndarray, cells: int) -> np.ndarray:
        """Per cell, the coefficients of ``c0 + c1 z + c2 y + c3 x + c4 yz + c5 xz + c6 xy + c7 xyz``."""
        g = [flat[o : o + cells] for o in self._offsets()]  # g000, g001, g010, g011, g100, ...
        pack = np.empty((cells, 8), np.float32)
        pack[:, 0] = g[0]
        pack[:, 1] = g[1] - g[0]
        pack[:, 2] = g[2] - g[0]
        pack[:, 3] = g[4] - g[0]
        pack[:, 4] = g[3] - g[2] - g[1] + g[0]
        pack[:, 5] = g[5] - g[4] - g[1] + g[0]
        pack[:, 6] = g[6] - g[4] - g[2] + g[0]
        pack[:, 7] = g[7] - g[6] - g[5] - g[3] + g[4] + g[2] + g[1] - g[0]
        return pack

    # -- public sampling ----------------------------------------------------------------
    def sample(self, grid: PlaneGrid, workers: int = 1) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(values, labels)`` on ``grid``: ``(N, H, W)`` float32 and label dtype (None if absent)."""
        n, h, w = len(grid), grid.height_px, grid.width_px
        values = np.empty((n, h, w), np.float32) if self._has_values else None
        labels = np.empty((n, h, w), self.labels_dtype) if self._labels_flat is not None else None
        workers = max(1, min(int(workers), n))
        if workers == 1:
            self._sample_range(grid, range(n), values, labels)
        else:
            parts = [range(i, n, workers) for i in range(workers)]
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda part: self._sample_range(grid, part, values, labels), parts))
        return values, labels

    @property
    def _has_values(self) -> bool:
        return self._pack is not None or self._values_flat is not None

    # -- the work -----------------------------------------------------------------------
    def _sample_range(
        self, grid: PlaneGrid, planes: range, values: np.ndarray | None, labels: np.ndarray | None
    ) -> None:
        h, w = grid.height_px, grid.width_px
        block_rows = max(1, min(h, BLOCK_PX // w))
        ws = _Workspace(block_rows * w, self._index_dtype, self.packed)
        rows = np.arange(h, dtype=np.float64)
        cols32 = np.arange(w, dtype=np.float32)
        upper = np.array(self.shape, dtype=np.float64) - 1.0
        for p in planes:
            origin, row_step, col_step = grid.origin_ijk[p], grid.row_step_ijk[p], grid.col_step_ijk[p]
            corners = origin + np.array([[0, 0], [0, w - 1], [h - 1, 0], [h - 1, w - 1]]) @ np.stack([row_step, col_step])
            inside = bool(((corners >= -EDGE_TOLERANCE) & (corners <= upper + EDGE_TOLERANCE)).all())
            for r0 in range(0, h, block_rows):
                r1 = min(h, r0 + block_rows)
                m = (r1 - r0) * w
                # Padded coordinates (+1); float32 is exact enough (1e-4 voxel at 500 voxels).
                for axis, out in enumerate((ws.x, ws.y, ws.z)):
                    row_part = (origin[axis] + 1.0 + rows[r0:r1] * row_step[axis]).astype(np.float32)
                    np.add(row_part[:, None], cols32[None, :] * np.float32(col_step[axis]), out=out[:m].reshape(r1 - r0, w))
                    if not inside:
                        np.clip(out[:m], 1.0, self.shape[axis], out=out[:m])
                if labels is not None:
                    self._nearest(ws, m, labels[p, r0:r1].reshape(-1))
                if values is not None:
                    self._trilinear(ws, m, values[p, r0:r1].reshape(-1))
                if not inside:
                    keep = self._inside_rows(origin, row_step, col_step, rows[r0:r1], w)
                    if values is not None:
                        values[p, r0:r1][~keep] = self.fill_value
                    if labels is not None:
                        labels[p, r0:r1][~keep] = self.label_fill

    def _inside_rows(
        self, origin: np.ndarray, row_step: np.ndarray, col_step: np.ndarray, rows: np.ndarray, width: int
    ) -> np.ndarray:
        """``(rows, W)`` bool: pixels inside the volume, from each row's exact column interval."""
        return _inside_rows(self.shape, origin, row_step, col_step, rows, width)

    def inside(self, grid: PlaneGrid) -> np.ndarray:
        """``(N, H, W)`` bool: pixels of ``grid`` that fall inside the volume (see :func:`inside_volume`)."""
        return inside_volume(grid, self.shape)

    def _flat_index(self, ws: _Workspace, m: int, rounding: np.ufunc, keep_fraction: bool) -> np.ndarray:
        """Flat padded index of ``rounding(x, y, z)`` into ``ws.index[:m]``.

        With ``keep_fraction``, ``x, y, z`` are replaced by their offsets from the rounded
        values (the trilinear weights).
        """
        flat, tmp, rounded = ws.flat[:m], ws.flat_tmp[:m], ws.tmp[:m]
        for coord, stride, first in ((ws.x[:m], self._stride0, True), (ws.y[:m], self._stride1, False),
                                     (ws.z[:m], 1, False)):
            rounding(coord, out=rounded)
            if first:
                np.multiply(rounded, stride, out=flat)
            elif stride == 1:
                flat += rounded
            else:
                np.multiply(rounded, stride, out=tmp)
                flat += tmp
            if keep_fraction:
                coord -= rounded
        index = ws.index[:m]
        index[...] = flat
        return index

    def _nearest(self, ws: _Workspace, m: int, out: np.ndarray) -> None:
        assert self._labels_flat is not None
        np.take(self._labels_flat, self._flat_index(ws, m, np.rint, False), out=out, mode="clip")

    def _trilinear(self, ws: _Workspace, m: int, out: np.ndarray) -> None:
        x, y, z = ws.x[:m], ws.y[:m], ws.z[:m]
        index = self._flat_index(ws, m, np.floor, True)
        t, u = ws.tmp[:m], ws.tmp2[:m]
        if self._pack is not None:
            c = ws.corners[:m]
            np.take(self._pack, index, axis=0, out=c, mode="clip")
            # Horner form of c0 + c1 z + c2 y + c3 x + c4 yz + c5 xz + c6 xy + c7 xyz.
            np.multiply(z, c[:, 7], out=t)
            t += c[:, 6]
            t *= y
            np.multiply(z, c[:, 5], out=u)
            t += u
            t += c[:, 3]
            t *= x
            np.multiply(z, c[:, 4], out=u)
            u += c[:, 2]
            u *= y
            t += u
            np.multiply(z, c[:, 1], out=u)
            t += u
            np.add(t, c[:, 0], out=out)
            return
        assert self._values_flat is not None
        g = ws.corners[:, :m]
        for k, offset in enumerate(self._offsets()):
            np.take(self._values_flat[offset:], index, out=g[k], mode="clip")
        for a, b in ((0, 1), (2, 3), (4, 5), (6, 7)):
            np.subtract(g[b], g[a], out=t)
            t *= z
            g[a] += t
        for a, b in ((0, 2), (4, 6)):
            np.subtract(g[b], g[a], out=t)
            t *= y
            g[a] += t
        np.subtract(g[4], g[0], out=t)
        t *= x
        np.add(g[0], t, out=out)


def _inside_rows(
    shape: tuple[int, int, int], origin: np.ndarray, row_step: np.ndarray, col_step: np.ndarray,
    rows: np.ndarray, width: int,
) -> np.ndarray:
    """``(rows, W)`` bool: pixels inside a volume of ``shape``, from each row's exact column interval."""
    lo = np.zeros(len(rows))
    hi = np.full(len(rows), width - 1.0)
    for axis in range(3):
        start = origin[axis] + rows * row_step[axis]
        top = shape[axis] - 1.0
        step = col_step[axis]
        if abs(step) < 1e-12:
            bad = (start < -EDGE_TOLERANCE) | (start > top + EDGE_TOLERANCE)
            hi[bad] = -1.0
            continue
        a = (-EDGE_TOLERANCE - start) / step
        b = (top + EDGE_TOLERANCE - start) / step
        lo = np.maximum(lo, np.minimum(a, b))
        hi = np.minimum(hi, np.maximum(a, b))
    cols = np.arange(width)[None, :]
    return (cols >= np.ceil(lo)[:, None]) & (cols <= np.floor(hi)[:, None])


def inside_volume(grid: PlaneGrid, shape: tuple[int, ...]) -> np.ndarray:
    """``(N, H, W)`` bool: True where a pixel of ``grid`` lies inside a volume of ``shape`` voxels.

    Exactly the pixels :class:`PlaneSampler` samples from the volume (the rest take the
    fill value), so "outside the CT" is told apart from air inside it.
    """
    shape3 = (int(shape[0]), int(shape[1]), int(shape[2]))
    rows = np.arange(grid.height_px, dtype=np.float64)
    out = np.empty((len(grid), grid.height_px, grid.width_px), bool)
    for p in range(len(grid)):
        out[p] = _inside_rows(shape3, grid.origin_ijk[p], grid.row_step_ijk[p], grid.col_step_ijk[p], rows,
                              grid.width_px)
    return out


def sample_planes(
    values: np.ndarray | None,
    labels: np.ndarray | None,
    grid: PlaneGrid,
    fill_value: float = 0.0,
    label_fill: int = 0,
    workers: int = 1,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One-off convenience: build a :class:`PlaneSampler` and sample ``grid``."""
    return PlaneSampler(values, labels, fill_value, label_fill).sample(grid, workers)


def smooth_volume(values: np.ndarray, spacing_mm: np.ndarray | tuple[float, ...], sigma_mm: float) -> np.ndarray:
    """``values`` (float32 copy) blurred by a Gaussian of ``sigma_mm`` in millimetres on every axis.

    A pre-filter before trilinear sampling: coarse CT (3-5 mm slices) sampled trilinearly
    shows its voxels as a staircase along every oblique edge; a Gaussian about half a voxel
    wide rounds the steps off while leaving organs (centimetres) as they are.
    """
    from scipy.ndimage import gaussian_filter

    if sigma_mm < 0:
        raise EusaugError(f"Smoothing sigma_mm={sigma_mm} must be >= 0 (0: none).")
    out = np.asarray(values, dtype=np.float32).copy()
    if sigma_mm == 0:
        return out
    sigma = [sigma_mm / float(s) for s in np.asarray(spacing_mm, dtype=np.float64)]
    return gaussian_filter(out, sigma, output=out, mode="nearest", truncate=3.0)


def smooth_labels(ids: np.ndarray, spacing_mm: np.ndarray | tuple[float, ...], sigma_mm: float) -> np.ndarray:
    """Label ids whose boundaries follow the smoothed one-hot maps (each voxel takes the strongest label).

    Nearest-neighbour labels keep the voxel staircase; smoothing each label's indicator and
    taking the largest rounds the boundaries the same way :func:`smooth_volume` rounds HU.
    """
    ids = np.asarray(ids)
    if sigma_mm == 0:
        return ids.copy()
    best = np.full(ids.shape, -1.0, np.float32)
    out = np.zeros_like(ids)
    for label in np.unique(ids):
        score = smooth_volume((ids == label).astype(np.float32), spacing_mm, sigma_mm)
        better = score > best
        out[better], best[better] = label, score[better]
    return out


__all__ = [
    "BLOCK_PX",
    "EDGE_TOLERANCE",
    "PACK_MAX_BYTES",
    "PlaneGrid",
    "PlaneSampler",
    "inside_volume",
    "plane_grid",
    "sample_planes",
    "smooth_labels",
    "smooth_volume",
]
