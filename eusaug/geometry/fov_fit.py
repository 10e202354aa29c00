"""Fit the field of view to real frames, and build one from user options.

Real ultrasound frames show a fan: a curvilinear probe's beams spread from a virtual apex
above the array face, over an opening angle, from the face (inner arc, the probe radius)
down to the imaging depth (outer arc), at some place in a frame of some size. CT planes cut
in another geometry make a translator spend its capacity redrawing the fan, so the fan is
measured from the frames themselves:

1. the *share* of frames in which each pixel is brighter than ``black_level`` (burned-in
   text, markers and dark tissue differ between frames; the fan does not);
2. the pixels with a share of at least ``min_share``, opened morphologically (thin text
   and lines go), largest connected part, holes filled;
3. a joint robust least-squares fit of the two straight edges (lines through the apex)
   and the two arcs (circles about the apex) to that mask's outline.

The frames carry no millimetre scale, so the depth in mm is given (or the probe type's
typical depth, :data:`PROBE_DEPTH_MM`): pixel size = ``depth_mm`` / (outer - inner radius).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView

#: Typical imaging depth (mm from the array face) per probe type, used when the frames'
#: depth is not given: a transabdominal curvilinear (convex) probe at abdominal settings
#: shows 12-20 cm (the shared abdominal frames measure ~143 mm); the paper's linear
#: echoendoscope 4-6 cm, taken at its deep end.
PROBE_DEPTH_MM: dict[str, float] = {"curvilinear": 150.0, "eus-linear": 60.0}

#: Pixels brighter than this (0-255) count as "not black" (JPEG ringing stays below it).
BLACK_LEVEL = 4

#: Share of frames a pixel must be non-black in to count as inside the fan.
MIN_SHARE = 0.5


@dataclass(frozen=True)
class SectorFit:
    """A fan fitted to frames, in pixels of the ``height_px`` x ``width_px`` frames.

    Coordinates are continuous: pixel ``(row, col)`` covers ``[col, col + 1] x [row, row + 1]``,
    ``x`` to the right, ``y`` down, origin at the top-left corner. ``apex_*_px``: the point the
    beams fan out from (above the image for a wide convex probe); ``inner_radius_px``: the
    array face (probe radius); ``outer_radius_px``: the imaging depth's arc; ``tilt_deg``: the
    fan's axis from vertical (positive: towards +x), reported only (fields of view are upright);
    ``iou``: overlap of the fitted fan with the mask it was fitted to; ``n_frames``.
    """

    apex_x_px: float
    apex_y_px: float
    opening_deg: float
    tilt_deg: float
    inner_radius_px: float
    outer_radius_px: float
    height_px: int
    width_px: int
    iou: float
    n_frames: int

    def mask(self) -> np.ndarray:
        """``(H, W)`` bool: pixel centres inside the fitted (upright) fan."""
        return sector_mask(self.height_px, self.width_px, self.apex_x_px, self.apex_y_px, self.opening_deg,
                           self.inner_radius_px, self.outer_radius_px)

    def pixel_mm(self, depth_mm: float) -> float:
        """Pixel size when the fan is ``depth_mm`` deep."""
        return float(depth_mm) / (self.outer_radius_px - self.inner_radius_px)

    def to_field_of_view(self, depth_mm: float) -> FieldOfView:
        """The placed :class:`FieldOfView` of this fan on the frames' own grid (its constructor checks ``depth_mm``)."""
        p = self.pixel_mm(depth_mm)
        return FieldOfView(
            kind="sector",
            depth_mm=float(depth_mm),
            opening_deg=float(self.opening_deg),
            probe_radius_mm=float(self.inner_radius_px * p),
            height_px=self.height_px,
            width_px=self.width_px,
            frame_left_mm=float(-self.apex_x_px * p),
            frame_top_mm=float(-(self.apex_y_px + self.inner_radius_px) * p),
            frame_width_mm=float(self.width_px * p),
            frame_height_mm=float(self.height_px * p),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sector_mask(height_px: int, width_px: int, apex_x_px: float, apex_y_px: float, opening_deg: float,
                inner_radius_px: float, outer_radius_px: float, tilt_deg: float = 0.0) -> np.ndarray:
    """``(H, W)`` bool: pixel centres within the fan (continuous pixel coordinates, see :class:`SectorFit`)."""
    y, x = np.mgrid[0:height_px, 0:width_px] + 0.5
    dx, dy = x - apex_x_px, y - apex_y_px
    rho = np.hypot(dx, dy)
    angle = np.degrees(np.arctan2(dx, dy)) - tilt_deg
    return (rho >= inner_radius_px) & (rho <= outer_radius_px) & (np.abs(angle) <= opening_deg / 2.0) & (dy > 0)


def _read_frames(frames: str | os.PathLike[str] | Sequence[Any]) -> Iterable[np.ndarray]:
    """Greyscale uint8 frames from a folder, a list of paths, or a list of arrays."""
    from eusaug.io import list_images, read_grey_uint8

    if isinstance(frames, (str, os.PathLike)):
        folder = Path(frames)
        if not folder.is_dir():
            raise EusaugError(f"Frames folder {folder} does not exist: pass a folder of real ultrasound frames.")
        items: Sequence[Any] = list_images(folder)
    else:
        items = frames
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            yield read_grey_uint8(Path(item))
        else:
            array = np.asarray(item)
            yield array if array.ndim == 2 else array.mean(axis=-1)


def frame_share(frames: str | os.PathLike[str] | Sequence[Any], black_level: float = BLACK_LEVEL) -> tuple[np.ndarray, int]:
    """``(share, n)``: ``(H, W)`` float64 share of the ``n`` frames in which each pixel is > ``black_level``."""
    total: np.ndarray | None = None
    n = 0
    for frame in _read_frames(frames):
        if total is None:
            total = np.zeros(frame.shape, np.int64)
        elif frame.shape != total.shape:
            raise EusaugError(
                f"Frame {n} is {frame.shape[1]}x{frame.shape[0]} px but the first is {total.shape[1]}x"
                f"{total.shape[0]}: fit the field of view on frames of one size (one probe setting)."
            )
        total += frame > black_level
        n += 1
    if total is None:
        raise EusaugError(f"No frames to fit the field of view to in {frames}: pass a folder of PNG/JPEG frames.")
    return total / n, n


def clean_mask(mask: np.ndarray, opening_px: int = 3) -> np.ndarray:
    """Largest connected part of ``mask`` after an opening of radius ``opening_px``, holes filled."""
    from scipy import ndimage

    mask = np.asarray(mask, bool)
    if opening_px > 0:
        size = 2 * opening_px + 1
        yy, xx = np.mgrid[:size, :size] - opening_px
        mask = ndimage.binary_opening(mask, structure=(xx**2 + yy**2) <= opening_px**2)
    parts, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(parts.ravel())[1:]
    return ndimage.binary_fill_holes(parts == 1 + int(np.argmax(sizes)))


def _trimmed_line(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """``x = a + b y`` by least squares, refitted twice without points beyond 3 robust sigmas."""
    keep = np.ones(len(y), bool)
    a = b = 0.0
    for _ in range(3):
        b, a = np.polyfit(y[keep], x[keep], 1)
        residual = x - (a + b * y)
        spread = 1.4826 * np.median(np.abs(residual[keep] - np.median(residual[keep]))) + 0.5
        keep = np.abs(residual) <= 3.0 * spread
        if keep.sum() < 3:
            break
    return float(a), float(b)


def fit_sector(mask: np.ndarray, n_frames: int = 1) -> SectorFit:
    """Fit an upright-or-tilted fan to a binary ``(H, W)`` mask; see the module docstring."""
    from scipy.optimize import least_squares

    mask = np.asarray(mask, bool)
    height, width = mask.shape
    rows = np.nonzero(mask.any(axis=1))[0]
    if len(rows) < 10:
        raise EusaugError("The frames' non-black area is too small to fit a fan to (fewer than 10 rows).")
    left = np.array([np.argmax(mask[r]) for r in rows], np.float64)
    right = np.array([width - np.argmax(mask[r, ::-1]) for r in rows], np.float64)
    y_mid = rows + 0.5

    # Straight edges: rows from the top down to the widest row on that side (below it the
    # outline follows the outer arc); the ends are trimmed, where corners round off.
    def edge_rows(widest: int) -> np.ndarray:
        return np.arange(int(0.1 * widest), int(0.9 * widest))

    left_rows = edge_rows(int(np.argmin(left)))
    right_rows = edge_rows(int(np.argmax(right)))
    if len(left_rows) < 3 or len(right_rows) < 3:
        raise EusaugError("The frames' non-black area has no straight fan edges to fit: is it a curvilinear fan?")
    a_l, b_l = _trimmed_line(y_mid[left_rows], left[left_rows])
    a_r, b_r = _trimmed_line(y_mid[right_rows], right[right_rows])
    if abs(b_r - b_l) < 1e-6:
        raise EusaugError("The frames' fan edges are parallel: a linear (rectangular) view, not a sector.")
    apex_y = (a_l - a_r) / (b_r - b_l)
    apex_x = a_l + b_l * apex_y
    half_left, half_right = np.arctan(-b_l), np.arctan(b_r)

    # Arcs: per column well inside the fan, the first and last mask rows.
    cols = np.arange(width)
    has = mask.any(axis=0)
    top = np.where(has, np.argmax(mask, axis=0), -1).astype(np.float64)
    bottom = np.where(has, height - np.argmax(mask[::-1], axis=0), -1).astype(np.float64)
    x_mid = cols + 0.5
    angle = np.arctan2(x_mid - apex_x, np.maximum(top, 0) - apex_y)
    central = has & (angle > -0.8 * half_left) & (angle < 0.8 * half_right)
    if central.sum() < 5:
        raise EusaugError("The frames' fan is too narrow to fit its arcs (fewer than 5 central columns).")
    r_in0 = float(np.median(np.hypot(x_mid[central] - apex_x, top[central] - apex_y)))
    r_out0 = float(np.median(np.hypot(x_mid[central] - apex_x, bottom[central] - apex_y)))

    ly, lx = y_mid[left_rows], left[left_rows]
    ry, rx = y_mid[right_rows], right[right_rows]
    tx, ty = x_mid[central], top[central]
    bx, by = x_mid[central], bottom[central]

    def residuals(p: np.ndarray) -> np.ndarray:
        x0, y0, half, tilt, r_in, r_out = p
        # Distance of edge points to the lines through the apex at (tilt -/+ half) from vertical.
        out = []
        for px, py, sign in ((lx, ly, -1.0), (rx, ry, 1.0)):
            theta = tilt + sign * half
            out.append((px - x0) * np.cos(theta) - (py - y0) * np.sin(theta))
        out.append(np.hypot(tx - x0, ty - y0) - r_in)
        out.append(np.hypot(bx - x0, by - y0) - r_out)
        return np.concatenate(out)

    start = np.array([apex_x, apex_y, (half_left + half_right) / 2, (half_right - half_left) / 2, r_in0, r_out0])
    solution = least_squares(residuals, start, loss="soft_l1", f_scale=1.0).x
    x0, y0, half, tilt, r_in, r_out = (float(v) for v in solution)
    if not (0 < half < np.pi / 2 and 0 <= r_in < r_out):
        raise EusaugError(
            f"The fan fit failed (half angle {np.degrees(half):.1f} deg, radii {r_in:.0f}-{r_out:.0f} px): "
            "check that the frames show one curvilinear fan on a black background."
        )
    fitted = sector_mask(height, width, x0, y0, 2 * np.degrees(half), r_in, r_out, np.degrees(tilt))
    iou = float((fitted & mask).sum() / max((fitted | mask).sum(), 1))
    return SectorFit(x0, y0, 2 * float(np.degrees(half)), float(np.degrees(tilt)), r_in, r_out, height, width,
                     iou, int(n_frames))


def fit_frames(frames: str | os.PathLike[str] | Sequence[Any], black_level: float = BLACK_LEVEL,
               min_share: float = MIN_SHARE, opening_px: int = 3) -> SectorFit:
    """The fan of a set of frames (a folder, paths or ``(H, W)`` arrays), in pixels."""
    if not 0 < min_share <= 1:
        raise EusaugError(f"min_share={min_share} must be in (0, 1].")
    share, n = frame_share(frames, black_level)
    return fit_sector(clean_mask(share >= min_share, opening_px), n)


def fit_field_of_view(frames: str | os.PathLike[str] | Sequence[Any], depth_mm: float | None = None,
                      probe: str = "curvilinear", black_level: float = BLACK_LEVEL, min_share: float = MIN_SHARE,
                      opening_px: int = 3) -> FieldOfView:
    """The placed field of view of ``frames``, ``depth_mm`` deep (default: ``PROBE_DEPTH_MM[probe]``).

    The grid is the frames' own size; the fan sits where the frames put it.
    """
    if depth_mm is None:
        if probe not in PROBE_DEPTH_MM:
            raise EusaugError(f"Unknown probe type {probe!r}: use one of {', '.join(PROBE_DEPTH_MM)}, or give depth_mm.")
        depth_mm = PROBE_DEPTH_MM[probe]
    return fit_frames(frames, black_level, min_share, opening_px).to_field_of_view(depth_mm)


# -- a field of view from user options (the CLI's --fov* options and RunConfig.field_of_view) ----
def parse_image_size(text: str | Sequence[int]) -> tuple[int, int]:
    """``"480x640"`` (height x width) or ``"256"`` (square) -> ``(height_px, width_px)``."""
    if not isinstance(text, str):
        values = [int(v) for v in text]
        if len(values) == 2:
            return values[0], values[1]
        raise EusaugError(f"Image size {text!r} must be (height, width).")
    parts = text.lower().replace(" ", "").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 8:
        raise EusaugError(f"Image size {text!r} must look like HxW, e.g. 480x640, or one number for a square (>= 8).")
    return values[0], values[1]


def read_field_of_view(path: str | os.PathLike[str]) -> FieldOfView:
    """A field of view from JSON: its own dict, or any file holding one as ``field_of_view``
    (a poses file, a synth folder's settings, a training run's config)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EusaugError(f"Cannot read a field of view from {path}: {exc}. Pass a JSON file (e.g. a poses file).") from None
    for key in ("field_of_view", "fov"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    else:
        inputs = data.get("inputs", {}) if isinstance(data, dict) else {}
        if isinstance(inputs, dict) and isinstance(inputs.get("field_of_view"), dict):
            data = inputs["field_of_view"]
    if not isinstance(data, dict) or not set(data) & set(FieldOfView.__dataclass_fields__):
        raise EusaugError(f"{path} holds no field of view: pass a file written by eusaug (poses, synth, train) "
                          "or a JSON object with FieldOfView fields (depth_mm, opening_deg, ...).")
    return FieldOfView.from_dict(data)


def _rescale_depth(fov: FieldOfView, depth_mm: float) -> FieldOfView:
    """A placed fan ``depth_mm`` deep on the same pixels: every length scales together."""
    k = depth_mm / fov.depth_mm
    return replace(fov, depth_mm=float(depth_mm), probe_radius_mm=fov.probe_radius_mm * k,
                   width_mm=fov.width_mm * k, frame_left_mm=fov.left_mm * k, frame_top_mm=fov.top_mm * k,
                   frame_width_mm=fov.frame_width_mm * k, frame_height_mm=fov.frame_height_mm * k)  # type: ignore[operator]


def resolve_field_of_view(
    base: FieldOfView | None = None,
    fov_file: str | os.PathLike[str] | None = None,
    fov_from: str | os.PathLike[str] | None = None,
    depth_mm: float | None = None,
    sector_deg: float | None = None,
    probe_radius_mm: float | None = None,
    image_size: str | Sequence[int] | None = None,
    probe: str = "curvilinear",
) -> FieldOfView:
    """The field of view that user options ask for, on top of ``base`` (default :class:`FieldOfView`).

    ``fov_file``: a JSON file holding one (see :func:`read_field_of_view`); ``fov_from``: a
    folder of real frames to fit (``depth_mm`` or the ``probe`` type's depth); then
    ``depth_mm`` (a placed fan keeps its pixels: every length scales), ``sector_deg``
    (opening angle), ``probe_radius_mm`` and ``image_size`` (``"HxW"``; a placed frame is
    resampled, keeping its extent in mm) replace what they name.
    """
    if fov_file is not None and fov_from is not None:
        raise EusaugError("Give --fov FILE or --fov-from FRAMES, not both.")
    fov = base or FieldOfView()
    if fov_file is not None:
        fov = read_field_of_view(fov_file)
    if fov_from is not None:
        fov = fit_field_of_view(fov_from, depth_mm=depth_mm, probe=probe)
    elif depth_mm is not None:
        fov = _rescale_depth(fov, depth_mm) if fov.placed else replace(fov, depth_mm=float(depth_mm))
    if sector_deg is not None:
        fov = replace(fov, kind="sector", opening_deg=float(sector_deg))
    if probe_radius_mm is not None:
        fov = replace(fov, probe_radius_mm=float(probe_radius_mm))
    if image_size is not None:
        fov = fov.with_grid(*parse_image_size(image_size))
    return fov


__all__ = [
    "BLACK_LEVEL",
    "MIN_SHARE",
    "PROBE_DEPTH_MM",
    "SectorFit",
    "clean_mask",
    "fit_field_of_view",
    "fit_frames",
    "fit_sector",
    "frame_share",
    "parse_image_size",
    "read_field_of_view",
    "resolve_field_of_view",
    "sector_mask",
]
