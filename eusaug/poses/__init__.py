"""Stages 1-2: probe poses sampled on an organ surface, saved as files, plotted, and sliced into CT planes."""

from __future__ import annotations

from eusaug.poses.calibration import (
    CALIBRATION_PLANES,
    CALIBRATION_SUFFIX,
    calibration_path_for,
    calibration_planes,
    fit_calibration,
    recorded_calibration,
    write_pose_calibration,
)
from eusaug.poses.export import (
    ABDOMINAL_WINDOW,
    BATCH,
    MANIFEST_COLUMNS,
    export_slices,
)
from eusaug.poses.plot import (
    LANDMARK_COLOURS,
    VIEWS,
    landmark_colour,
    plot_pose_sets,
)
from eusaug.poses.sampling import (
    FORMAT,
    FORMAT_VERSION,
    PoseSet,
    case_sha256,
    check_poses_landmark,
    check_poses_match,
    file_sha256,
    load_poses,
    sample_poses,
    save_poses,
)
from eusaug.poses.slicing import (
    slice_case,
)

__all__ = [
    "ABDOMINAL_WINDOW",
    "BATCH",
    "CALIBRATION_PLANES",
    "CALIBRATION_SUFFIX",
    "FORMAT",
    "FORMAT_VERSION",
    "LANDMARK_COLOURS",
    "MANIFEST_COLUMNS",
    "PoseSet",
    "VIEWS",
    "calibration_path_for",
    "calibration_planes",
    "case_sha256",
    "check_poses_landmark",
    "check_poses_match",
    "export_slices",
    "file_sha256",
    "fit_calibration",
    "landmark_colour",
    "load_poses",
    "plot_pose_sets",
    "recorded_calibration",
    "sample_poses",
    "save_poses",
    "slice_case",
    "write_pose_calibration",
]
