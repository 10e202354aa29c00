"""Ultrasound-physics transforms: ``SectorMask`` (field of view), ``SpeckleNoise`` (Rayleigh), ``DepthGain`` (TGC)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
from albumentations.core.transforms_interface import DualTransform, ImageOnlyTransform

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.mix.transform_helpers import (
    check_image,
    check_probability,
    check_range,
    fov_dict,
    fov_on_grid,
    from_unit_interval,
    per_pixel,
    to_unit_interval,
)
from eusaug.translate.speckle import RAYLEIGH_MEAN


class SectorMask(DualTransform):
    """Blank everything outside an ultrasound field of view (a convex sector by default).

    ``fov`` is a :class:`~eusaug.geometry.field_of_view.FieldOfView` (or a dict of its fields) laid on the
    image's grid, transducer at the top; pixels outside get ``fill`` (image units: 0..255
    for uint8, 0..1 for float32) and, in a ``mask`` target, ``fill_mask``. Deterministic:
    it draws nothing. Bounding boxes and keypoints pass through unchanged.
    """

    def __init__(
        self,
        fov: FieldOfView | Mapping[str, Any] | None = None,
        fill: float = 0.0,
        fill_mask: float = 0.0,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=check_probability(p, "SectorMask"))
        for name, value in (("fill", fill), ("fill_mask", fill_mask)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise EusaugError(f"SectorMask: {name}={value!r} must be a finite number.")
        self.fov = fov_dict(fov, "SectorMask")
        self.fill = float(fill)
        self.fill_mask = float(fill_mask)
        self._inside: dict[tuple[int, int], np.ndarray] = {}

    def inside(self, height: int, width: int) -> np.ndarray:
        """``(H, W)`` bool, True inside the field of view on that grid (kept per grid size)."""
        key = (int(height), int(width))
        if key not in self._inside:
            self._inside[key] = fov_on_grid(self.fov, *key).mask()
        return self._inside[key]

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        return {"inside": self.inside(height, width)}

    def apply(self, img: np.ndarray, inside: np.ndarray, **params: Any) -> np.ndarray:
        check_image(img, "SectorMask")
        return np.where(per_pixel(inside, img), img, np.asarray(self.fill).astype(img.dtype))

    def apply_to_mask(self, mask: np.ndarray, inside: np.ndarray, **params: Any) -> np.ndarray:
        return np.where(per_pixel(inside, mask), mask, np.asarray(self.fill_mask).astype(mask.dtype))

    def apply_to_bboxes(self, bboxes: np.ndarray, **params: Any) -> np.ndarray:
        return bboxes

    def apply_to_keypoints(self, keypoints: np.ndarray, **params: Any) -> np.ndarray:
        return keypoints

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_inside"] = {}
        return state


# ---------------------------------------------------------------------------------------


class SpeckleNoise(ImageOnlyTransform):
    """Multiplicative Rayleigh speckle, the grain of coherent ultrasound imaging.

    Each pixel is multiplied by ``(1 - s) + s * R``, with ``R`` Rayleigh-distributed with
    mean 1 and ``s`` drawn per call from ``strength_range`` (0: no change; 1: fully
    developed speckle, relative std 0.52). ``grain_px`` > 1 draws the field on a grid that
    much coarser and interpolates it, for speckle larger than a pixel.
    """

    def __init__(
        self,
        strength_range: Sequence[float] = (0.2, 0.5),
        grain_px: float = 1.0,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=check_probability(p, "SpeckleNoise"))
        self.strength_range = check_range(strength_range, "SpeckleNoise strength_range", 0.0, 1.0)
        if isinstance(grain_px, bool) or not isinstance(grain_px, (int, float)) or not 1.0 <= grain_px <= 64.0:
            raise EusaugError(f"SpeckleNoise: grain_px={grain_px!r} must be a number in [1, 64].")
        self.grain_px = float(grain_px)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        rng = self.random_generator
        strength = float(rng.uniform(*self.strength_range))
        grid = (max(1, math.ceil(height / self.grain_px)), max(1, math.ceil(width / self.grain_px)))
        rayleigh = rng.rayleigh(1.0, size=grid).astype(np.float32) / np.float32(RAYLEIGH_MEAN)
        if grid != (height, width):
            rayleigh = cv2.resize(rayleigh, (width, height), interpolation=cv2.INTER_LINEAR)
        return {"speckle": np.float32(1.0 - strength) + np.float32(strength) * rayleigh}

    def apply(self, img: np.ndarray, speckle: np.ndarray, **params: Any) -> np.ndarray:
        check_image(img, "SpeckleNoise")
        return from_unit_interval(to_unit_interval(img) * per_pixel(speckle, img), img)


# ---------------------------------------------------------------------------------------


class DepthGain(ImageOnlyTransform):
    """A random depth-dependent gain, like turning the time-gain-compensation sliders.

    ``knots`` gains (dB), each drawn from ``gain_db_range``, sit evenly from the top
    (depth 0) to the bottom (full depth) and are interpolated linearly in between; the
    image is multiplied by ``10 ** (gain_db / 20)``. Depth is the image row (transducer at
    the top), or, with ``fov``, the distance from the probe face within that field of
    view laid on the image, so a sector's gain follows its arcs.
    """

    def __init__(
        self,
        gain_db_range: Sequence[float] = (-6.0, 6.0),
        knots: int = 4,
        fov: FieldOfView | Mapping[str, Any] | None = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=check_probability(p, "DepthGain"))
        self.gain_db_range = check_range(gain_db_range, "DepthGain gain_db_range", -40.0, 40.0)
        if isinstance(knots, bool) or not isinstance(knots, (int, np.integer)) or not 1 <= knots <= 64:
            raise EusaugError(f"DepthGain: knots={knots!r} must be an integer in [1, 64].")
        self.knots = int(knots)
        self.fov = fov_dict(fov, "DepthGain")
        self._depth: dict[tuple[int, int], np.ndarray] = {}

    def relative_depth(self, height: int, width: int) -> np.ndarray:
        """``(H, W)`` float32 depth in [0, 1] on that grid (0 at the probe face)."""
        key = (int(height), int(width))
        if key not in self._depth:
            if self.fov is None:
                rows = (np.arange(height, dtype=np.float32) + 0.5) / np.float32(height)
                depth = np.broadcast_to(rows[:, None], key)
            else:
                fov = fov_on_grid(self.fov, *key)
                u, v = fov.pixel_coordinates_mm()
                if fov.kind == "sector":
                    below_face = np.hypot(u, v + fov.probe_radius_mm) - fov.probe_radius_mm
                else:
                    below_face = v
                depth = np.clip(below_face / fov.depth_mm, 0.0, 1.0)
            self._depth[key] = np.ascontiguousarray(depth, dtype=np.float32)
        return self._depth[key]

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        gains_db = self.random_generator.uniform(*self.gain_db_range, size=self.knots)
        depth = self.relative_depth(height, width)
        if self.knots == 1:
            curve_db = np.full(depth.shape, gains_db[0], dtype=np.float32)
        else:
            curve_db = np.interp(depth, np.linspace(0.0, 1.0, self.knots), gains_db).astype(np.float32)
        return {"gain": np.power(np.float32(10.0), curve_db / np.float32(20.0)), "gains_db": gains_db.tolist()}

    def apply(self, img: np.ndarray, gain: np.ndarray, **params: Any) -> np.ndarray:
        check_image(img, "DepthGain")
        return from_unit_interval(to_unit_interval(img) * per_pixel(gain, img), img)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_depth"] = {}
        return state
