"""Image statistics of B-mode frames inside their fan: what raysim is calibrated to match.

Measured the same way on real frames and on raysim's own images, so a calibration is a
match of numbers a sonographer would recognise (speckle grain, brightness against depth,
contrast, how bright the brightest echoes are), never of a network's features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.ndimage import binary_erosion, gaussian_filter

from eusaug import EusaugError
from eusaug.geometry import FieldOfView

#: Sigma (mm) of the local mean removed before the speckle is measured: larger than the
#: grain (about 1 mm), smaller than organs, so anatomy is taken out and speckle is left.
LOCAL_MEAN_MM = 2.0
#: Largest lag (pixels) at which the autocorrelation is looked at.
MAX_LAG_PX = 48
#: Pixels this dark (unit brightness) are clipped black: shadows or no signal, not speckle.
BLACK_UNIT = -0.97
#: Quantile of the brightness taken as the level of the brightest echoes (tissue interfaces).
INTERFACE_QUANTILE = 0.995


@dataclass(frozen=True)
class FrameStatistics:
    """Statistics of images inside their fan; brightness is in unit scale ([-1, 1], black -1).

    ``axial_corr_mm`` / ``lateral_corr_mm``: lag at which the speckle's autocorrelation
    falls to one half, down and across the image (the speckle grain). ``speckle_std``: the
    median local standard deviation (the contrast log compression leaves in speckle, set
    by the dynamic range). ``level``: mean of the per-depth median brightness.
    ``depth_slope_per_cm``: change of that median per cm of depth (attenuation against
    time-gain). ``interface_contrast``: the :data:`INTERFACE_QUANTILE` brightness above the
    median (how bright interfaces are drawn).
    """

    axial_corr_mm: float
    lateral_corr_mm: float
    speckle_std: float
    level: float
    depth_slope_per_cm: float
    interface_contrast: float

    def to_dict(self) -> dict[str, Any]:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameStatistics:
        return cls(**{k: float(data[k]) for k in cls.__dataclass_fields__})


def depth_of_pixels_mm(fov: FieldOfView) -> np.ndarray:
    """``(H, W)`` float64 depth below the array face along each pixel's beam (mm)."""
    u, v = fov.pixel_coordinates_mm()
    if fov.kind == "rectangle":
        return v
    return np.hypot(u, v + fov.probe_radius_mm) - fov.probe_radius_mm


def _half_width(numerators: np.ndarray, weights: np.ndarray, variance: float) -> float:
    """Lag (pixels, interpolated) where the pooled autocorrelation first falls to 0.5."""
    corr = np.concatenate([[1.0], numerators / np.maximum(weights, 1.0) / max(variance, 1e-12)])
    below = np.nonzero(corr < 0.5)[0]
    if below.size == 0:
        return float(corr.size - 1)
    k = int(below[0])
    return float(k - 1 + (corr[k - 1] - 0.5) / max(corr[k - 1] - corr[k], 1e-12))


def measure_frames(images: np.ndarray, fov: FieldOfView) -> FrameStatistics:
    """:class:`FrameStatistics` of ``(N, H, W)`` images (float in [-1, 1] or uint8) on ``fov``'s grid."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (fov.height_px, fov.width_px):
        raise EusaugError(f"Calibration: images are {images.shape}, but the field of view is "
                          f"{fov.height_px}x{fov.width_px} px: measure frames on their own fitted fan.")
    unit = images.astype(np.float32) / np.float32(127.5) - 1 if images.dtype == np.uint8 else images.astype(np.float32)
    row_mm, col_mm = fov.pixel_size_mm
    fan = binary_erosion(fov.mask(), iterations=3)
    sigma = (LOCAL_MEAN_MM / row_mm, LOCAL_MEAN_MM / col_mm)
    depth = depth_of_pixels_mm(fov)
    edges = np.linspace(0.05, 0.95, 19) * fov.depth_mm
    lags = min(MAX_LAG_PX, fov.height_px // 4, fov.width_px // 4)
    sums = {axis: (np.zeros(lags), np.zeros(lags)) for axis in (0, 1)}
    variance, count, stds, values, depths = 0.0, 0.0, [], [], []
    for image in unit:
        valid = fan & (image > BLACK_UNIT)
        if valid.sum() < 100:
            continue
        weight = gaussian_filter(valid.astype(np.float32), sigma)
        mean = gaussian_filter(np.where(valid, image, 0), sigma) / np.maximum(weight, 1e-6)
        high = np.where(valid, image - mean, 0).astype(np.float64)
        local_var = gaussian_filter(high**2, sigma) / np.maximum(weight, 1e-6)
        stds.append(np.sqrt(local_var[valid]))
        variance += float((high**2).sum())
        count += float(valid.sum())
        for axis, (num, den) in sums.items():
            for k in range(1, lags + 1):
                a = [slice(None), slice(None)]
                b = [slice(None), slice(None)]
                a[axis], b[axis] = slice(None, -k), slice(k, None)
                num[k - 1] += float((high[tuple(a)] * high[tuple(b)]).sum())
                den[k - 1] += float((valid[tuple(a)] & valid[tuple(b)]).sum())
        values.append(image[valid])
        depths.append(depth[valid])
    if not values:
        raise EusaugError("Calibration: no frame shows speckle inside its fan (all black?): check the frames "
                          "and their fitted field of view.")
    variance /= max(count, 1.0)
    value, where = np.concatenate(values), np.concatenate(depths)
    centres, medians = [], []
    for low, high_mm in zip(edges[:-1], edges[1:]):
        chosen = (where >= low) & (where < high_mm)
        if chosen.sum() >= 50:
            centres.append((low + high_mm) / 2.0)
            medians.append(float(np.median(value[chosen])))
    slope = float(np.polyfit(np.array(centres) / 10.0, medians, 1)[0]) if len(centres) >= 2 else 0.0
    median = float(np.median(value))
    return FrameStatistics(
        axial_corr_mm=_half_width(*sums[0], variance) * row_mm,
        lateral_corr_mm=_half_width(*sums[1], variance) * col_mm,
        speckle_std=float(np.median(np.concatenate(stds))),
        level=float(np.mean(medians)) if medians else median,
        depth_slope_per_cm=slope,
        interface_contrast=float(np.quantile(value, INTERFACE_QUANTILE)) - median,
    )
