"""The EUS field of view and the pose convention that places it in the CT.

Pose convention (the one place it is defined): a pose is a ``(4, 4)`` float64 matrix
``M`` in world millimetres (RAS+).

* ``M[:3, 3]``: the transducer, i.e. the centre of the array face, on the stomach wall;
* ``M[:3, 0]``: the lateral axis, across the image (increasing column);
* ``M[:3, 1]``: the beam axis, into the tissue (increasing row, i.e. depth);
* ``M[:3, 2]``: the elevation axis, normal to the image plane (``x`` cross ``y``).

A pixel at in-plane coordinates ``(u, v)`` mm (lateral, depth) lies at world
``M @ [u, v, 0, 1]``. Images are shown with the transducer at the top.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np

from eusaug.errors import EusaugError

FovKind = Literal["sector", "rectangle"]


@dataclass(frozen=True)
class FieldOfView:
    """What the probe sees, and the pixel grid it is sampled on.

    ``sector``: a curvilinear (convex) array of radius ``probe_radius_mm`` whose beams fan
    out over ``opening_deg`` and reach ``depth_mm`` below the array face. ``rectangle``:
    a linear array ``width_mm`` wide, ``depth_mm`` deep. The grid is ``height_px`` x
    ``width_px`` square pixels of :attr:`pixel_mm`, the field of view centred laterally
    and touching the top row. The default (60 deg, 50 mm deep, 10 mm radius) approximates
    the central part of the convex linear echoendoscope views of the paper (imaging depth
    40-60 mm; the paper cropped its frames to the central 522x200 px) and, unlike a wider
    fan, fills a square grid, so translators waste no pixels on the corners.

    A *placed* field of view (all four ``frame_*_mm`` set, e.g. by
    :func:`eusaug.geometry.fit_field_of_view`) instead fixes the image frame in the plane:
    the grid covers lateral ``[frame_left_mm, frame_left_mm + frame_width_mm]`` and depth
    ``[frame_top_mm, frame_top_mm + frame_height_mm]`` (depth 0 is the array face on the
    beam axis), so the fan sits where real frames put it. Changing ``height_px``/``width_px``
    of a placed field of view resamples the same frame (pixels may then be non-square, as
    when real frames are resized to a square for training).
    """

    kind: FovKind = "sector"
    depth_mm: float = 50.0
    opening_deg: float = 60.0
    probe_radius_mm: float = 10.0
    width_mm: float = 40.0
    height_px: int = 256
    width_px: int = 256
    frame_left_mm: float | None = None
    frame_top_mm: float | None = None
    frame_width_mm: float | None = None
    frame_height_mm: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("sector", "rectangle"):
            raise EusaugError(f"Field of view kind {self.kind!r} is unknown: use 'sector' or 'rectangle'.")
        if not self.depth_mm > 0:
            raise EusaugError(f"Field of view depth_mm={self.depth_mm} must be positive.")
        if self.kind == "sector" and not 0 < self.opening_deg < 180:
            raise EusaugError(f"Field of view opening_deg={self.opening_deg} must be in (0, 180).")
        if self.kind == "sector" and self.probe_radius_mm < 0:
            raise EusaugError(f"Field of view probe_radius_mm={self.probe_radius_mm} must be >= 0.")
        if self.kind == "rectangle" and not self.width_mm > 0:
            raise EusaugError(f"Field of view width_mm={self.width_mm} must be positive.")
        if self.height_px < 8 or self.width_px < 8:
            raise EusaugError(f"Field of view grid {self.height_px}x{self.width_px} px is too small (>= 8).")
        frame = (self.frame_left_mm, self.frame_top_mm, self.frame_width_mm, self.frame_height_mm)
        if any(f is not None for f in frame):
            if any(f is None for f in frame):
                raise EusaugError(
                    f"Field of view frame {frame} is partly set: give all of frame_left_mm, frame_top_mm, "
                    "frame_width_mm and frame_height_mm, or none."
                )
            if not (self.frame_width_mm > 0 and self.frame_height_mm > 0):  # type: ignore[operator]
                raise EusaugError(
                    f"Field of view frame {self.frame_width_mm}x{self.frame_height_mm} mm must be positive."
                )
            for name in ("frame_left_mm", "frame_top_mm", "frame_width_mm", "frame_height_mm"):
                object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def placed(self) -> bool:
        """True when the image frame is fixed in mm (``frame_*_mm`` set)."""
        return self.frame_width_mm is not None

    # -- extent of the field of view in the image plane (u lateral, v depth), mm
    def _extent_mm(self) -> tuple[float, float, float]:
        """(half lateral width, top depth, bottom depth) of the field of view."""
        if self.kind == "rectangle":
            return self.width_mm / 2.0, 0.0, self.depth_mm
        half = np.deg2rad(self.opening_deg) / 2.0
        r_out = self.probe_radius_mm + self.depth_mm
        top = self.probe_radius_mm * np.cos(half) - self.probe_radius_mm
        return float(r_out * np.sin(half)), float(top), float(self.depth_mm)

    @property
    def pixel_size_mm(self) -> tuple[float, float]:
        """``(row, column)`` pixel pitch in mm; equal unless a placed frame was resampled."""
        if self.placed:
            return self.frame_height_mm / self.height_px, self.frame_width_mm / self.width_px  # type: ignore[operator]
        half_width, top, bottom = self._extent_mm()
        side = max(2.0 * half_width / self.width_px, (bottom - top) / self.height_px)
        return side, side

    @property
    def pixel_mm(self) -> float:
        """Side of one pixel in millimetres (the larger side if pixels are not square)."""
        return max(self.pixel_size_mm)

    @property
    def top_mm(self) -> float:
        """Depth (mm along the beam axis) of the top edge of the grid."""
        if self.placed:
            return float(self.frame_top_mm)  # type: ignore[arg-type]
        return self._extent_mm()[1]

    @property
    def left_mm(self) -> float:
        """Lateral position (mm from the beam axis) of the left edge of the grid."""
        if self.placed:
            return float(self.frame_left_mm)  # type: ignore[arg-type]
        return -self.width_px / 2.0 * self.pixel_size_mm[1]

    def with_grid(self, height_px: int, width_px: int) -> FieldOfView:
        """The same field of view on another grid (a placed frame keeps its extent in mm)."""
        return replace(self, height_px=int(height_px), width_px=int(width_px))

    def place(self) -> FieldOfView:
        """This field of view with its current frame written out, so grid changes keep it."""
        if self.placed:
            return self
        row_mm, col_mm = self.pixel_size_mm
        return replace(self, frame_left_mm=self.left_mm, frame_top_mm=self.top_mm,
                       frame_width_mm=col_mm * self.width_px, frame_height_mm=row_mm * self.height_px)

    def pixel_coordinates_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """In-plane coordinates of pixel centres: ``(u, v)``, each ``(H, W)`` float64 mm."""
        row_mm, col_mm = self.pixel_size_mm
        cols = self.left_mm + (np.arange(self.width_px) + 0.5) * col_mm
        rows = self.top_mm + (np.arange(self.height_px) + 0.5) * row_mm
        v, u = np.meshgrid(rows, cols, indexing="ij")
        return u, v

    def pixel_indices(self, u_mm: np.ndarray, v_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional ``(row, col)`` grid indices of in-plane points (pixel centres are integers)."""
        row_mm, col_mm = self.pixel_size_mm
        return (np.asarray(v_mm) - self.top_mm) / row_mm - 0.5, (np.asarray(u_mm) - self.left_mm) / col_mm - 0.5

    def mask(self) -> np.ndarray:
        """``(H, W)`` bool: True inside the field of view."""
        u, v = self.pixel_coordinates_mm()
        if self.kind == "rectangle":
            return (np.abs(u) <= self.width_mm / 2.0) & (v >= 0) & (v <= self.depth_mm)
        r0 = self.probe_radius_mm
        rho = np.hypot(u, v + r0)
        angle = np.arctan2(u, v + r0)
        half = np.deg2rad(self.opening_deg) / 2.0
        return (rho >= r0) & (rho <= r0 + self.depth_mm) & (np.abs(angle) <= half)

    def area_mm2(self) -> float:
        """Exact area of the field of view (mm^2), for checking the pixel mask."""
        if self.kind == "rectangle":
            return self.width_mm * self.depth_mm
        r0, r1 = self.probe_radius_mm, self.probe_radius_mm + self.depth_mm
        return float(np.deg2rad(self.opening_deg) / 2.0 * (r1**2 - r0**2))

    def to_dict(self) -> dict[str, object]:
        """Plain fields; an unplaced field of view leaves the frame out (files stay as before)."""
        return {k: v for k, v in asdict(self).items() if not (k.startswith("frame_") and v is None)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FieldOfView:
        """Inverse of :meth:`to_dict`; files written before the frame fields existed load unplaced."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)  # type: ignore[arg-type]


def plane_points_world(poses: np.ndarray, fov: FieldOfView) -> np.ndarray:
    """World coordinates of every pixel centre: ``(N, H, W, 3)`` float64 mm for ``(N, 4, 4)`` poses."""
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    u, v = fov.pixel_coordinates_mm()
    return (
        poses[:, None, None, :3, 0] * u[None, :, :, None]
        + poses[:, None, None, :3, 1] * v[None, :, :, None]
        + poses[:, None, None, :3, 3]
    )


def pose_from_axes(origin: np.ndarray, beam: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Build a pose from a transducer position, a beam direction and a lateral direction.

    ``lateral`` is made orthogonal to ``beam``; both are normalised.
    """
    beam = np.asarray(beam, dtype=np.float64)
    beam = beam / np.linalg.norm(beam)
    lateral = np.asarray(lateral, dtype=np.float64)
    lateral = lateral - beam * float(lateral @ beam)
    norm = np.linalg.norm(lateral)
    if norm < 1e-9:
        raise ValueError("lateral direction is parallel to the beam")
    lateral = lateral / norm
    pose = np.eye(4)
    pose[:3, 0] = lateral
    pose[:3, 1] = beam
    pose[:3, 2] = np.cross(lateral, beam)
    pose[:3, 3] = origin
    return pose


def validate_poses(poses: np.ndarray, source: str = "poses") -> np.ndarray:
    """Check an ``(N, 4, 4)`` stack of rigid poses; return it as float64."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim == 2:
        poses = poses[None]
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise EusaugError(f"{source}: poses must be 4x4 matrices, got shape {poses.shape}.")
    if not np.isfinite(poses).all():
        raise EusaugError(f"{source}: poses contain NaN or infinite values.")
    rot = poses[:, :3, :3]
    ortho = np.abs(np.einsum("nij,nik->njk", rot, rot) - np.eye(3)).max() if len(poses) else 0.0
    if ortho > 1e-4 or not np.allclose(poses[:, 3], [0, 0, 0, 1], atol=1e-6):
        raise EusaugError(f"{source}: poses are not rigid transforms (rotation + translation).")
    return poses
