"""A raysim calibration kept with a poses file, so ``synth --poses`` simulates as the user's frames look.

``eusaug poses --calibrate-from FRAMES`` fits raysim (through the registry, like any
translator) and writes ``STEM.calibration.json`` beside ``STEM.json``; the poses file
records its name relative to its own folder, so the two can move together.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from eusaug.errors import EusaugError
from eusaug.io import write_bytes
from eusaug.plugin.registry import Registry
from eusaug.poses.sampling import PoseSet, load_poses

PathLike = str | os.PathLike[str]

#: What follows the poses file's stem in the name of its calibration.
CALIBRATION_SUFFIX = ".calibration.json"
#: The raysim preset a poses file's calibration is fitted with: raysim's default, the one
#: ``synth --translator raysim`` uses unless told otherwise.
CALIBRATION_PRESET = "eus"


def calibration_path_for(poses_path: PathLike) -> Path:
    """Where the calibration of ``poses_path`` goes: ``STEM.calibration.json`` beside it."""
    path = Path(poses_path)
    return path.with_name(path.stem + CALIBRATION_SUFFIX)


def fit_calibration(frames: PathLike, registry: Registry | None = None, preset: str = CALIBRATION_PRESET) -> bytes:
    """The calibration file (JSON bytes) of raysim fitted to the folder ``frames``."""
    raysim = (registry or Registry()).translator("raysim")
    with tempfile.TemporaryDirectory(prefix="eusaug-calibration-") as tmp:
        return Path(raysim.calibrate(Path(frames), Path(tmp) / "calibration.json", preset)).read_bytes()


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
