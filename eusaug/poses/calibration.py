"""A raysim calibration kept with a poses file, so ``synth --poses`` simulates as the user's frames look.

``eusaug poses --calibrate-from FRAMES`` fits raysim (through the registry, like any
translator) and writes ``STEM.calibration.json`` beside ``STEM.json``; the poses file
records its name relative to its own folder, so the two can move together.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from eusaug.ct.volume import CTCase
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.planes import Planes
from eusaug.io import write_bytes
from eusaug.plugin.interfaces import Slicer
from eusaug.plugin.registry import DEFAULT_SLICER, Registry
from eusaug.poses.sampling import PoseSet, load_poses
from eusaug.poses.slicing import slice_case

PathLike = str | os.PathLike[str]

#: How many poses' CT planes a calibration simulates (:func:`calibration_planes`).
CALIBRATION_PLANES = 16
#: What follows the poses file's stem in the name of its calibration.
CALIBRATION_SUFFIX = ".calibration.json"


def calibration_path_for(poses_path: PathLike) -> Path:
    """Where the calibration of ``poses_path`` goes: ``STEM.calibration.json`` beside it."""
    path = Path(poses_path)
    return path.with_name(path.stem + CALIBRATION_SUFFIX)


def calibration_planes(case: CTCase, poses: np.ndarray, fov: FieldOfView, slicer: str | Slicer = DEFAULT_SLICER
                       ) -> Planes:
    """The CT planes a calibration simulates: those of the first :data:`CALIBRATION_PLANES` poses.

    raysim fits far better on the anatomy it will render than on phantom tissue, and these
    few planes keep a fit to about half a minute."""
    chosen = np.asarray(poses)[:CALIBRATION_PLANES]
    return slice_case(case, chosen, fov, slicer=slicer)


def fit_calibration(frames: PathLike, registry: Registry | None = None, preset: str | None = None,
                    planes: Planes | None = None) -> bytes:
    """The calibration file (JSON bytes) of raysim fitted to the folder ``frames``, simulating
    ``planes`` (:func:`calibration_planes`) when given. ``preset``: raysim's preset to start from
    (None: raysim picks the one suited to the planes' fan; ``synth`` then simulates with it)."""
    raysim = (registry or Registry()).translator("raysim")
    with tempfile.TemporaryDirectory(prefix="eusaug-calibration-") as tmp:
        return Path(raysim.calibrate(Path(frames), Path(tmp) / "calibration.json", preset, planes)).read_bytes()


def write_pose_calibration(poses_path: PathLike, content: bytes) -> Path:
    """Write ``content`` as the calibration of ``poses_path`` (atomically); return its path."""
    return write_bytes(calibration_path_for(poses_path), content)


def recorded_calibration(poses_path: PathLike, pose_set: PoseSet | None = None) -> Path | None:
    """The raysim calibration the poses file records, resolved against its folder (None: none).

    An absolute path, so what synth records names the file wherever the command ran."""
    pose_set = pose_set or load_poses(poses_path)
    if not pose_set.raysim_calibration:
        return None
    path = Path(pose_set.raysim_calibration)
    path = path if path.is_absolute() else Path(poses_path).parent / path
    if not path.is_file():
        raise EusaugError(f"Poses file {poses_path} names the raysim calibration {path}, which is missing: put it "
                          "back beside the poses file, or make both again with eusaug poses --calibrate-from FRAMES.")
    return path.resolve()
