"""What the albumentations transforms share: argument checks, dtype round trips, fitting into a frame.

albumentations' images are ``uint8`` in [0, 255] or ``float32`` in [0, 1], greyscale
``(H, W)`` or ``(H, W, C)``; these helpers take any of them and give back the caller's
dtype and shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import cv2
import numpy as np

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView


def check_probability(p: float, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise EusaugError(f"{name}: p={p!r} must be a probability in [0, 1].")
    return float(p)


def check_range(value: Sequence[float], name: str, low: float, high: float) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise EusaugError(f"{name}={value!r} must be a pair (low, high) of numbers.") from None
    if not (low <= lo <= hi <= high):
        raise EusaugError(f"{name}=({lo:g}, {hi:g}) must satisfy {low:g} <= low <= high <= {high:g}.")
    return lo, hi


def check_image(img: np.ndarray, name: str) -> None:
    if img.ndim not in (2, 3) or img.dtype not in (np.uint8, np.float32):
        raise EusaugError(f"{name} takes (H, W) or (H, W, C) uint8 or float32 images, got "
                          f"{img.dtype} of shape {img.shape}.")


def to_unit_interval(img: np.ndarray) -> np.ndarray:
    """uint8 -> float32 [0, 1]; float32 as is."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    return img.astype(np.float32, copy=False)


def from_unit_interval(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """float [0, 1] -> ``like``'s dtype (clipped; uint8 rounded)."""
    clipped = np.clip(values, 0.0, 1.0)
    if like.dtype == np.uint8:
        return np.rint(clipped * 255.0).astype(np.uint8)
    return clipped.astype(like.dtype, copy=False)


def per_pixel(field: np.ndarray, img: np.ndarray) -> np.ndarray:
    """Broadcast an (H, W) field over the channels of ``img``."""
    return field[..., None] if img.ndim == 3 else field


def grey_to_like(grey: np.ndarray, like: np.ndarray, fit: SwapFit = "stretch") -> np.ndarray:
    """``(h, w)`` uint8 greyscale -> the shape and dtype of ``like`` (fitted as ``fit`` says, channels repeated)."""
    height, width = like.shape[:2]
    grey = fit_into_frame(grey, height, width, fit)
    out = grey if like.dtype == np.uint8 else grey.astype(np.float32) / np.float32(255.0)
    if like.ndim == 3:
        out = np.repeat(out[..., None], like.shape[2], axis=2)
    return np.ascontiguousarray(out.astype(like.dtype, copy=False))


SwapFit = Literal["letterbox", "crop", "stretch"]
SWAP_FITS = ("letterbox", "crop", "stretch")


def resize_grey(grey: np.ndarray, height: int, width: int) -> np.ndarray:
    shrink = grey.shape[0] > height or grey.shape[1] > width
    return cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def fit_into_frame(grey: np.ndarray, height: int, width: int, fit: SwapFit = "letterbox") -> np.ndarray:
    """``(h, w)`` uint8 greyscale fitted into a ``height x width`` frame.

    ``letterbox`` scales it to fit inside with its aspect ratio and centres it on black;
    ``crop`` scales it to cover the frame with its aspect ratio and keeps the centre;
    ``stretch`` resizes to the frame, distorting anatomy whose aspect differs.
    """
    h, w = grey.shape
    if (h, w) == (height, width):
        return grey
    if fit == "stretch":
        return resize_grey(grey, height, width)
    scale = min(height / h, width / w) if fit == "letterbox" else max(height / h, width / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if fit == "letterbox":
        new_h, new_w = min(new_h, height), min(new_w, width)
        canvas = np.zeros((height, width), dtype=grey.dtype)
        top, left = (height - new_h) // 2, (width - new_w) // 2
        canvas[top:top + new_h, left:left + new_w] = resize_grey(grey, new_h, new_w)
        return canvas
    new_h, new_w = max(new_h, height), max(new_w, width)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return resize_grey(grey, new_h, new_w)[top:top + height, left:left + width]


def fov_dict(fov: FieldOfView | Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    """A field of view as the plain dict that ``A.to_dict`` can store (validated)."""
    if fov is None:
        return None
    if isinstance(fov, FieldOfView):
        return fov.to_dict()
    if isinstance(fov, Mapping):
        unknown = set(fov) - set(FieldOfView.__dataclass_fields__)
        if unknown:
            raise EusaugError(f"{name}: unknown field-of-view keys {sorted(unknown)}; use "
                              f"{', '.join(FieldOfView.__dataclass_fields__)}.")
        return FieldOfView.from_dict(dict(fov)).to_dict()
    raise EusaugError(f"{name}: fov={fov!r} must be a eusaug.geometry.field_of_view.FieldOfView or a dict of its fields.")


def fov_on_grid(fov: Mapping[str, Any] | None, height: int, width: int) -> FieldOfView:
    """The field of view ``fov`` (default :class:`FieldOfView`) sampled on an ``height x width`` grid."""
    return FieldOfView.from_dict({**(fov or {}), "height_px": int(height), "width_px": int(width)})


def unit_float_to_like(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """float [-1, 1] ``(h, w)`` -> float32 [0, 1] with ``like``'s size and channels (no 8-bit rounding)."""
    height, width = like.shape[:2]
    values = (np.clip(image, -1.0, 1.0) + 1.0) / 2.0
    if values.shape != (height, width):
        values = cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)
    if like.ndim == 3:
        values = np.repeat(values[..., None], like.shape[2], axis=2)
    return np.ascontiguousarray(values.astype(like.dtype, copy=False))
