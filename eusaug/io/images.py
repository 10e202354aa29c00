"""Reading and writing the 2-D images every stage exchanges (PNG/JPEG frames, planes).

In memory an image is ``(H, W)`` float32 in [-1, 1] (greyscale); on disk it is an
8-bit PNG or JPEG. RGB inputs are converted to greyscale (ITU-R 601 luma).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from eusaug.errors import EusaugError
from eusaug.io.atomic import write_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def list_images(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` sorted by name; an empty or missing folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EusaugError(f"Image folder {folder} does not exist or is not a folder: check the path.")
    pattern = "**/*" if recursive else "*"
    paths = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise EusaugError(
            f"Image folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}): "
            "point to the folder that contains the frames."
        )
    return paths


def read_grey_uint8(path: str | os.PathLike[str]) -> np.ndarray:
    """``(H, W)`` uint8 greyscale; an unreadable file is an error naming it."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except FileNotFoundError:
        raise EusaugError(f"Image {path} does not exist: check the path.") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EusaugError(f"Image {path} cannot be read ({exc}): remove or re-export it.") from None


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """``(H, W)`` float32 in [-1, 1]."""
    return uint8_to_unit(read_grey_uint8(path))


def uint8_to_unit(image: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return image.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def unit_to_uint8(image: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255] (clipped, rounded)."""
    scaled = (np.clip(np.asarray(image, dtype=np.float32), -1.0, 1.0) + 1.0) * 127.5
    return np.rint(scaled).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a ``(H, W)`` or ``(H, W, 3)`` image: uint8 as is, floats as [-1, 1]."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = unit_to_uint8(array)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write ``image`` (see :func:`encode_png`) to ``path`` atomically."""
    return write_bytes(path, encode_png(image))


def write_label_png(path: str | os.PathLike[str], labels: np.ndarray) -> Path:
    """Write an integer label plane as an 8-bit (ids <= 255) or 16-bit PNG, ids unchanged."""
    labels = np.asarray(labels)
    if labels.min(initial=0) < 0 or labels.max(initial=0) > 65535:
        raise EusaugError("Label ids must be within 0..65535 to be saved as PNG.")
    dtype = np.uint8 if labels.max(initial=0) <= 255 else np.uint16
    buffer = io.BytesIO()
    Image.fromarray(labels.astype(dtype)).save(buffer, format="PNG")
    return write_bytes(path, buffer.getvalue())


def read_label_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a label PNG written by :func:`write_label_png` as int32 ids."""
    with Image.open(path) as image:
        return np.asarray(image).astype(np.int32)
