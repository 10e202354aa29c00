"""The Fig. 2-style pose plot is a real PNG and accepts several pose sets."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image
from stomach_phantom import phantom_case

from eusaug.geometry.field_of_view import FieldOfView
from eusaug.poses.plot import plot_pose_sets
from eusaug.poses.sampling import sample_poses


def test_plot_of_two_sets(tmp_path):
    case = phantom_case()
    aorta = sample_poses(case, "aorta", 3, seed=0, fov=FieldOfView(height_px=64, width_px=64))
    other = dataclasses.replace(aorta, landmark="vertebrae_L1", poses=aorta.poses[:1])
    path = plot_pose_sets(case, [aorta, other], tmp_path / "poses.png", title="test")
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels.shape[0] > 400 and pixels.shape[1] > 800
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 50  # the aorta's colour (landmark surface and beams) is drawn
    assert [p.name for p in tmp_path.iterdir()] == ["poses.png"]
