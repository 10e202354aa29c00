"""Organ and body surfaces: a triangle mesh in world mm with smooth outward normals.

The mask is smoothed with a Gaussian whose width is set in millimetres (so it is the same
physical smoothing on anisotropic voxels) and the 0.5 iso-surface is extracted by
marching tetrahedra. Triangle areas are measured in world millimetres, so points drawn
triangle-by-area are uniform over the surface *area*, not per boundary voxel. Normals
come from the gradient of a second, wider smoothing of the mask mapped through the
affine: smooth (not faceted, no voxel staircase) and correct for any voxel size or
orientation, while the narrow smoothing keeps the surface where the organ is (a wide one
would shrink it). On a voxelised sphere the normals are within 4 degrees of radial.
The body (skin) surface needs no label: it is the outline of the CT above -500 HU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_fill_holes, gaussian_filter, label, map_coordinates

from eusaug.ct.volume import CTCase, CTVolume, spacing_mm
from eusaug.errors import EusaugError

#: Body outline threshold (HU): halfway between air (-1000) and fat (-100); gas enclosed by
#: the body (lungs, bowel) is filled in afterwards.
BODY_THRESHOLD_HU = -500.0

#: The iso-level of the smoothed mask taken as the organ boundary.
ISO_LEVEL = 0.5

#: Narrowest default smoothing (mm) for normals: on fine grids the voxel staircase has
#: long flat treads that two voxels of smoothing cannot round off.
MIN_NORMAL_SMOOTHING_MM = 6.0

# The cube is cut into 6 tetrahedra around its main diagonal (corner 0 to corner 7);
# corner b sits at offset ((b >> 2) & 1, (b >> 1) & 1, b & 1). Neighbouring cubes cut
# their shared faces along the same diagonal, so the surface is closed.
_CORNER_OFFSETS = np.array([[(b >> 2) & 1, (b >> 1) & 1, b & 1] for b in range(8)])
_TETRAHEDRA = np.array([[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]])


def _triangle_table() -> list[list[tuple[tuple[int, int], ...]]]:
    """For each of the 16 inside/outside patterns of a tetrahedron: triangles as vertex-pair edges."""
    table: list[list[tuple[tuple[int, int], ...]]] = []
    for code in range(16):
        inside = [v for v in range(4) if code >> v & 1]
        outside = [v for v in range(4) if not code >> v & 1]
        if len(inside) in (1, 3):
            lone, rest = (inside[0], outside) if len(inside) == 1 else (outside[0], inside)
            table.append([tuple((lone, o) for o in rest)])
        elif len(inside) == 2:
            (a, b), (c, d) = inside, outside
            table.append([((a, c), (a, d), (b, d)), ((a, c), (b, d), (b, c))])
        else:
            table.append([])
    return table


_TRIANGLES_OF_CODE = _triangle_table()


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class Surface:
    """A closed organ surface.

    ``triangles_mm``: ``(T, 3, 3)`` world mm (RAS+), triangle x corner x xyz.
    ``areas_mm2``: ``(T,)``. ``normal_field`` (the widely smoothed mask on the voxel grid
    of ``crop_affine``) is kept so normals can be evaluated anywhere near the surface
    (:meth:`normals_at`).
    """

    triangles_mm: np.ndarray
    areas_mm2: np.ndarray
    normal_field: np.ndarray
    crop_affine: np.ndarray

    @property
    def area_mm2(self) -> float:
        return float(self.areas_mm2.sum())

    def sample_points(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 3)`` world mm points uniform over the surface area."""
        cumulative = np.cumsum(self.areas_mm2)
        which = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
        which = np.minimum(which, len(cumulative) - 1)
        a, b, c = (self.triangles_mm[which, k] for k in range(3))
        r1, r2 = rng.random(n), rng.random(n)
        s = np.sqrt(r1)[:, None]
        return (1.0 - s) * a + s * (1.0 - r2[:, None]) * b + s * r2[:, None] * c

    def subset(self, keep: np.ndarray) -> Surface:
        """The same surface restricted to the triangles selected by ``keep`` (bool or indices)."""
        return Surface(self.triangles_mm[keep], self.areas_mm2[keep], self.normal_field, self.crop_affine)

    def gradient_at(self, points_mm: np.ndarray) -> np.ndarray:
        """World-space gradient (per mm) of the smoothed mask at ``(n, 3)`` points."""
        inverse = np.linalg.inv(self.crop_affine)
        ijk = np.asarray(points_mm, dtype=np.float64) @ inverse[:3, :3].T + inverse[:3, 3]
        grad_ijk = np.stack(
            [map_coordinates(g, ijk.T, order=1, mode="nearest") for g in np.gradient(self.normal_field)], axis=-1
        )
        # d/dx = (d ijk / dx)^T d/d ijk, and d ijk / dx is the inverse affine.
        return grad_ijk @ inverse[:3, :3]

    def normals_at(self, points_mm: np.ndarray) -> np.ndarray:
        """``(n, 3)`` outward unit normals (away from the organ); rows of NaN where undefined."""
        grad = -self.gradient_at(points_mm)
        norm = np.linalg.norm(grad, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norm > 1e-9, grad / norm, np.nan)


def organ_surface(
    mask: np.ndarray,
    affine: np.ndarray,
    smoothing_mm: float | None = None,
    normal_smoothing_mm: float | None = None,
) -> Surface:
    """The surface of a boolean ``(I, J, K)`` mask on the grid of ``affine``.

    ``smoothing_mm``: Gaussian sigma (mm) of the field whose 0.5 level is the surface
    (default: the largest voxel side). ``normal_smoothing_mm``: sigma of the field whose
    gradient gives the normals (default: twice the largest voxel side, at least
    :data:`MIN_NORMAL_SMOOTHING_MM`). An empty mask, or one too small to survive the
    smoothing, is an error.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise EusaugError("The organ mask is empty: there is no surface to sample.")
    return _mask_surface(mask, affine, smoothing_mm, normal_smoothing_mm, extend_edges=False)


def body_mask(hu: np.ndarray, threshold_hu: float = BODY_THRESHOLD_HU) -> np.ndarray:
    """The patient's body in a CT: ``hu > threshold_hu``, largest connected part, holes filled.

    Holes are filled slice by slice across the last voxel axis (superior-inferior in volumes
    loaded by :func:`eusaug.ct.load_case`) as well as in 3-D, so lungs
    and bowel gas that reach the scan's ends still count as inside. The CT table and
    other loose objects are separate components and drop out. Empty when nothing
    exceeds the threshold.
    """
    tissue = np.asarray(hu) > threshold_hu
    components, count = label(tissue)
    if count == 0:
        return np.zeros(tissue.shape, dtype=bool)
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    body = components == int(np.argmax(sizes))
    for k in range(body.shape[2]):
        body[:, :, k] = binary_fill_holes(body[:, :, k])
    return binary_fill_holes(body)


def body_surface(
    ct: CTVolume | CTCase,
    threshold_hu: float = BODY_THRESHOLD_HU,
    smoothing_mm: float | None = None,
    normal_smoothing_mm: float | None = None,
) -> Surface:
    """The skin: the outline of :func:`body_mask`, with outward normals, label-free.

    Where the body is cut by the scan (its head and foot ends, or an arm or hip at the
    edge of the reconstruction), the mask is continued past the edge instead of closed,
    and triangles outside the scanned box are dropped: those cut planes are not skin, and
    normals near them stay those of the skin. Smoothing as in :func:`organ_surface`.
    No tissue above ``threshold_hu`` is an error.
    """
    volume = ct.ct if isinstance(ct, CTCase) else ct
    mask = body_mask(volume.hu, threshold_hu)
    if not mask.any():
        name = volume.path or "the CT"
        raise EusaugError(
            f"No body in {name}: no voxel is above threshold_hu={threshold_hu:g} HU (its maximum is "
            f"{float(np.max(volume.hu)):g} HU). Pass a CT in Hounsfield units, or a lower threshold_hu."
        )
    surface = _mask_surface(mask, volume.affine, smoothing_mm, normal_smoothing_mm, extend_edges=True)
    inverse = np.linalg.inv(volume.affine)
    corners_ijk = surface.triangles_mm @ inverse[:3, :3].T + inverse[:3, 3]
    inside = np.asarray(((corners_ijk >= -0.5) & (corners_ijk <= np.array(mask.shape) - 0.5)).all(axis=(1, 2)))
    if not inside.any():
        raise EusaugError(
            f"The body in {volume.path or 'the CT'} fills the whole scan, so there is no skin in it: pass a CT "
            f"whose field of view shows the body outline, or check threshold_hu={threshold_hu:g} HU against its air."
        )
    return surface.subset(inside)


def _mask_surface(
    mask: np.ndarray,
    affine: np.ndarray,
    smoothing_mm: float | None,
    normal_smoothing_mm: float | None,
    extend_edges: bool,
) -> Surface:
    """Mesh and normal field of a non-empty mask.

    ``extend_edges``: continue the mask past the volume's edges (replicate the border) for
    a surface that is open where the volume cuts it; otherwise pad with outside, so a cut
    organ is closed.
    """
    spacing = spacing_mm(affine)
    sigma_mm = float(spacing.max()) if smoothing_mm is None else float(smoothing_mm)
    if normal_smoothing_mm is None:
        normal_sigma_mm = max(2.0 * float(spacing.max()), MIN_NORMAL_SMOOTHING_MM)
    else:
        normal_sigma_mm = float(normal_smoothing_mm)
    if sigma_mm < 0 or normal_sigma_mm <= 0:
        raise EusaugError(
            f"Surface smoothing {sigma_mm} mm / normal smoothing {normal_sigma_mm} mm must be >= 0 / > 0."
        )
    sigma_vox = sigma_mm / spacing
    normal_sigma_vox = normal_sigma_mm / spacing
    margin = np.ceil(3.0 * np.maximum(sigma_vox, normal_sigma_vox)).astype(int) + 2
    nonzero = np.argwhere(mask)
    lo = nonzero.min(axis=0) - margin
    hi = nonzero.max(axis=0) + margin + 1
    # Pad rather than clip at the volume edge: zeros close a cut organ, edge values continue a cut body.
    padded = np.pad(mask, [(m, m) for m in margin], mode="edge" if extend_edges else "constant")
    crop = padded[tuple(slice(a + m, b + m) for a, b, m in zip(lo, hi, margin))]
    crop = crop.astype(np.float32)
    mode = "nearest" if extend_edges else "constant"
    smoothed = gaussian_filter(crop, sigma=sigma_vox, mode=mode, cval=0.0)
    normal_field = gaussian_filter(crop, sigma=normal_sigma_vox, mode=mode, cval=0.0)
    crop_affine = np.array(affine, dtype=np.float64)
    crop_affine[:3, 3] = affine[:3, 3] + affine[:3, :3] @ lo
    triangles_ijk = _marching_tetrahedra(smoothed, ISO_LEVEL)
    if len(triangles_ijk) == 0:
        raise EusaugError(
            f"The organ mask ({int(mask.sum())} voxels) is too small for a surface after "
            f"{sigma_mm:g} mm smoothing: use a smaller smoothing_mm or a better label map."
        )
    triangles_mm = triangles_ijk @ crop_affine[:3, :3].T + crop_affine[:3, 3]
    areas = 0.5 * np.linalg.norm(
        np.cross(triangles_mm[:, 1] - triangles_mm[:, 0], triangles_mm[:, 2] - triangles_mm[:, 0]), axis=1
    )
    keep = areas > 0
    return Surface(triangles_mm[keep], areas[keep], normal_field, crop_affine)


def _marching_tetrahedra(field: np.ndarray, level: float) -> np.ndarray:
    """Triangles ``(T, 3, 3)`` in voxel coordinates of the ``level`` iso-surface of ``field``."""
    above = field > level
    shape = np.array(field.shape) - 1
    corner_above = np.stack(
        [above[dx : dx + shape[0], dy : dy + shape[1], dz : dz + shape[2]] for dx, dy, dz in _CORNER_OFFSETS]
    )
    mixed = corner_above.any(axis=0) & ~corner_above.all(axis=0)
    cubes = np.argwhere(mixed)
    if len(cubes) == 0:
        return np.zeros((0, 3, 3))
    corners = cubes[:, None, :] + _CORNER_OFFSETS[None, :, :]  # (M, 8, 3)
    values = field[corners[..., 0], corners[..., 1], corners[..., 2]] - level  # (M, 8)
    out: list[np.ndarray] = []
    for tet in _TETRAHEDRA:
        tv = values[:, tet]  # (M, 4)
        tp = corners[:, tet].astype(np.float64)  # (M, 4, 3)
        code = ((tv > 0) * (1 << np.arange(4))).sum(axis=1)
        for c in range(1, 15):
            rows = np.nonzero(code == c)[0]
            if len(rows) == 0:
                continue
            for triangle in _TRIANGLES_OF_CODE[c]:
                points = []
                for a, b in triangle:
                    va, vb = tv[rows, a], tv[rows, b]
                    t = (va / (va - vb))[:, None]
                    points.append(tp[rows, a] + t * (tp[rows, b] - tp[rows, a]))
                out.append(np.stack(points, axis=1))
    return np.concatenate(out) if out else np.zeros((0, 3, 3))
