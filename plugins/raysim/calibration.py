"""Fit raysim's free parameters to a user's frames, and the calibration file that carries them.

The fit matches :class:`~eusaug_plugins.raysim.frame_stats.FrameStatistics` of raysim's
images to those of the frames: speckle grain sets the point-spread function, speckle
contrast the dynamic range, the median brightness the white level, its slope with depth
the time-gain, the brightest echoes the interface gain. Each statistic mostly answers to
one parameter, so a few damped fixed-point steps converge. Image statistics only: a
simulator tuned on the FID network's features would only fool the measure.

raysim's images are of the CT planes it will render when the caller has them (``planes``:
the anatomy's interfaces, vessels and shadows shape every statistic), else of phantom
tissue. Measured on held-out subjects (bench_realism, d,e and c,j): fitted on CT planes,
raysim scored FID 178.3 and 173.8 against 199.1 and 216.0 uncalibrated; fitted on the
phantom, 204.9 and 237.1 (its thin layers cannot show the thick bright echoes that set the
frames' brightest quantile, and its speckle grain ignores the anatomy's edges).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from eusaug_plugins.raysim.frame_stats import FrameStatistics, measure_frames
from eusaug_plugins.raysim.params import PRESETS, RaySimParams

from eusaug import EusaugError, Planes
from eusaug.geometry import FieldOfView, fit_field_of_view
from eusaug.io import list_images, read_grey_uint8, write_json

#: The parameters a calibration sets; the rest keep their preset's values.
CALIBRATED = ("psf_axial_mm", "psf_lateral_mm", "dynamic_range_db", "white_db", "tgc_db_cm_mhz", "reflection_gain",
              "display_smoothing_samples")
#: Widest dynamic range (dB) a scanner's display is set to; speckle smoother than that range
#: allows comes from the scanner's speckle-reduction filter, so the fit smooths instead.
MAX_DISPLAY_RANGE_DB = 90.0
#: Kind tag of the file, so a wrong JSON is told apart from a calibration.
CALIBRATION_KIND = "eusaug-raysim-calibration"
#: HU of the phantom: soft tissue, and the fat of its interface layers.
SOFT_TISSUE_HU, FAT_HU = 40.0, -100.0
#: Ranges the fit keeps to: physically sensible for abdominal probes (1-15 MHz).
LIMITS = {"psf_axial_mm": (0.05, 3.0), "psf_lateral_mm": (0.1, 6.0), "dynamic_range_db": (15.0, MAX_DISPLAY_RANGE_DB),
          "tgc_db_cm_mhz": (0.0, 3.0), "white_db": (-40.0, 120.0), "reflection_gain": (10.0, 1e5),
          "display_smoothing_samples": (0.0, 6.0)}
#: Highest interface gain a phantom fit reaches: its 2 mm layers never show the frames' thick
#: bright echoes, so past this the gain would only run away.
PHANTOM_MAX_REFLECTION_GAIN = 1000.0
#: Most CT planes a fit simulates (each fit step simulates all of them once).
MAX_FIT_PLANES = 16
#: Fit steps on CT planes: speckle, level and interface gain move together, so a few more than
#: the phantom's steps.
PLANE_FIT_ITERATIONS = 12


def phantom_planes(fov: FieldOfView, layers_every_mm: float | None = None, n: int = 2) -> Planes:
    """``n`` planes of soft tissue filling ``fov``; with ``layers_every_mm``, 2 mm fat layers that often."""
    from eusaug_plugins.raysim.frame_stats import depth_of_pixels_mm

    hu = np.full((n, fov.height_px, fov.width_px), SOFT_TISSUE_HU, np.float32)
    if layers_every_mm:
        depth = depth_of_pixels_mm(fov)
        hu[:, (depth % layers_every_mm) < 2.0] = FAT_HU
    mask = np.broadcast_to(fov.mask(), hu.shape).copy()
    poses = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
    return Planes(hu, np.zeros(hu.shape, np.int16), mask, poses, fov, None, np.ones(hu.shape, bool))


def planes_statistics(params: RaySimParams, planes: Planes, seed: int = 0) -> FrameStatistics:
    """Statistics of raysim's images of the CT ``planes`` with ``params``, on the planes' own fan."""
    from eusaug_plugins.raysim.simulator import RaySim

    sim = RaySim(**params.to_dict())
    return measure_frames(sim.translate(planes, np.random.default_rng(seed)), planes.fov)


def simulate_statistics(params: RaySimParams, fov: FieldOfView, seed: int = 0,
                        layers_every_mm: float | None = None) -> FrameStatistics:
    """Statistics of raysim's images of :func:`phantom_planes` with ``params`` (no labels, no smoothing)."""
    phantom = replace(params, label_preset=None, ct_smoothing_mm=0.0)
    return planes_statistics(phantom, phantom_planes(fov, layers_every_mm), seed)


def _clip(name: str, value: float) -> float:
    low, high = LIMITS[name]
    return float(min(max(value, low), high))


def _speckle_and_level_step(p: RaySimParams, got: FrameStatistics, target: FrameStatistics) -> RaySimParams:
    """One damped step of the grain, contrast, level and time-gain towards ``target``."""
    half_range = p.dynamic_range_db / 2.0
    wanted_range = p.dynamic_range_db * got.speckle_std / max(target.speckle_std, 1e-6)
    smoothing = p.display_smoothing_samples
    if wanted_range > MAX_DISPLAY_RANGE_DB or smoothing > 0:
        # Past the widest range, or once smoothing is on, contrast is matched by smoothing.
        smoothing = max(smoothing, 0.5) * (got.speckle_std / max(target.speckle_std, 1e-6)) ** 0.7
        wanted_range = MAX_DISPLAY_RANGE_DB
    return replace(
        p,
        display_smoothing_samples=_clip("display_smoothing_samples", smoothing),
        psf_axial_mm=_clip("psf_axial_mm", p.psf_axial_mm * target.axial_corr_mm / max(got.axial_corr_mm, 1e-6)),
        psf_lateral_mm=_clip("psf_lateral_mm",
                             p.psf_lateral_mm * target.lateral_corr_mm / max(got.lateral_corr_mm, 1e-6)),
        dynamic_range_db=_clip("dynamic_range_db", wanted_range),
        # unit brightness rises by 2/DR per dB: white_db moves the level, TGC its slope with depth.
        white_db=_clip("white_db", p.white_db - (target.level - got.level) * half_range),
        tgc_db_cm_mhz=_clip("tgc_db_cm_mhz", p.tgc_db_cm_mhz + (target.depth_slope_per_cm - got.depth_slope_per_cm)
                            * half_range / (2.0 * p.frequency_mhz)),
    )


def _interface_step(p: RaySimParams, got: FrameStatistics, target: FrameStatistics, highest: float) -> RaySimParams:
    """One step of the interface gain towards ``target``'s brightest echoes (at most ``highest``)."""
    db = (target.interface_contrast - got.interface_contrast) * p.dynamic_range_db / 2.0
    return replace(p, reflection_gain=min(_clip("reflection_gain", p.reflection_gain * 10.0 ** (db / 20.0)), highest))


def fit_params(target: FrameStatistics, fov: FieldOfView, base: RaySimParams | None = None,
               iterations: int = 10, seed: int = 0, planes: Planes | None = None) -> RaySimParams:
    """raysim settings whose images show ``target``'s statistics: images of the CT ``planes``
    (at most :data:`MAX_FIT_PLANES`, on their own fan) when given, else of phantom tissue on ``fov``."""
    p = base or PRESETS["eus"]
    if planes is not None:
        planes = planes.subset(slice(0, MAX_FIT_PLANES))
        for step in range(max(iterations, PLANE_FIT_ITERATIONS)):
            got = planes_statistics(p, planes, seed + step)
            p = _interface_step(_speckle_and_level_step(p, got, target), got, target, LIMITS["reflection_gain"][1])
        return p
    for step in range(iterations):
        p = _speckle_and_level_step(p, simulate_statistics(p, fov, seed + step), target)
    for step in range(3):
        got = simulate_statistics(p, fov, seed + 100 + step, layers_every_mm=10.0)
        p = _interface_step(p, got, target, PHANTOM_MAX_REFLECTION_GAIN)
    return p


def read_frames(frames: str | os.PathLike[str], max_frames: int, seed: int) -> tuple[list[Path], np.ndarray]:
    """Up to ``max_frames`` frame paths of a folder (drawn with ``seed``) and their ``(N, H, W)`` uint8 pixels."""
    folder = Path(frames)
    paths = list_images(folder) if folder.is_dir() else []
    if not paths:
        raise EusaugError(f"Calibration: {folder} holds no frames: pass a folder of real ultrasound frames.")
    if len(paths) > max_frames:
        chosen = np.random.default_rng(seed).choice(len(paths), max_frames, replace=False)
        paths = [paths[i] for i in sorted(chosen)]
    arrays = [read_grey_uint8(p) for p in paths]
    if len({a.shape for a in arrays}) != 1:
        raise EusaugError(f"Calibration: the frames in {folder} differ in size: calibrate on frames of one scanner setting.")
    return paths, np.stack(arrays)


def calibrate(frames: str | os.PathLike[str], preset: str = "abdominal", max_frames: int = 64, seed: int = 0,
              depth_mm: float | None = None, planes: Planes | None = None) -> dict[str, Any]:
    """The calibration record of a folder of frames: fan, statistics and fitted parameters.

    ``planes``: CT planes of the anatomy raysim will render (the first :data:`MAX_FIT_PLANES`
    are simulated); without them the fit simulates phantom tissue, which fits worse."""
    if preset not in PRESETS:
        raise EusaugError(f"Calibration: unknown raysim preset {preset!r}: use one of {', '.join(PRESETS)}.")
    paths, pixels = read_frames(frames, max_frames, seed)
    fov = fit_field_of_view(list(pixels), depth_mm=depth_mm)
    target = measure_frames(pixels, fov)
    used = None if planes is None else planes.subset(slice(0, MAX_FIT_PLANES))
    if used is not None and not used.visible.any():
        raise EusaugError("Calibration: the CT planes given to fit on show no tissue inside their fan: "
                          "check the poses and field of view.")
    fitted = fit_params(target, fov, PRESETS[preset], seed=seed, planes=used)
    simulated = (simulate_statistics(fitted, fov, seed + 1000) if used is None
                 else planes_statistics(fitted, used, seed + 1000))
    return {
        "kind": CALIBRATION_KIND,
        "frames": str(Path(frames).resolve()),
        "count": len(paths),
        "preset": preset,
        "fitted_on": "phantom tissue" if used is None else f"{len(used)} CT planes",
        "fov": fov.to_dict(),
        "statistics": target.to_dict(),
        "fitted": {name: float(getattr(fitted, name)) for name in CALIBRATED},
        "simulated_statistics": simulated.to_dict(),
    }


def write_calibration(path: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write a calibration record as JSON (atomically)."""
    return write_json(path, record)


def read_calibration(path: str | os.PathLike[str]) -> dict[str, float]:
    """The fitted parameters of a calibration file (names in :data:`CALIBRATED`)."""
    return read_calibration_record(path)["fitted"]


def read_calibration_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a calibration file says about itself: ``frames``, ``count``, ``preset`` and ``fitted`` values."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise EusaugError(f"raysim: calibration file {path} not found: make one with --calibrate-from FRAMES.") from None
    except json.JSONDecodeError as error:
        raise EusaugError(f"raysim: calibration file {path} is not JSON ({error.msg}): make it again.") from None
    if not isinstance(record, dict) or record.get("kind") != CALIBRATION_KIND or "fitted" not in record:
        raise EusaugError(f"raysim: {path} is not a raysim calibration: make one with --calibrate-from FRAMES.")
    unknown = sorted(set(record["fitted"]) - set(CALIBRATED))
    if unknown:
        raise EusaugError(f"raysim: calibration {path} sets unknown parameters {', '.join(unknown)}: make it again.")
    fitted = {name: float(value) for name, value in record["fitted"].items()}
    return {"frames": record.get("frames"), "count": record.get("count"), "preset": record.get("preset"),
            "fitted": fitted}
