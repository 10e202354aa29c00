from __future__ import annotations

import numpy as np
import pytest

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, plane_points_world, pose_from_axes, validate_poses


@pytest.mark.parametrize(
    "fov",
    [
        FieldOfView(),
        FieldOfView(opening_deg=60, depth_mm=40, probe_radius_mm=0, height_px=200, width_px=300),
        FieldOfView(kind="rectangle", width_mm=30, depth_mm=45, height_px=128, width_px=128),
    ],
)
def test_mask_area_matches_geometry(fov):
    area_px = fov.mask().sum() * fov.pixel_mm**2
    assert area_px == pytest.approx(fov.area_mm2(), rel=0.02)


def test_mask_fits_grid_and_touches_top():
    fov = FieldOfView()
    mask = fov.mask()
    assert mask.shape == (256, 256)
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    assert rows[0] == 0  # the array face is the top row
    assert cols[0] == 0 and cols[-1] == 255  # the fan is wider than deep: it fills the width
    depth_extent_mm = fov.depth_mm + fov.probe_radius_mm * (1 - np.cos(np.deg2rad(fov.opening_deg / 2)))
    assert rows[-1] == pytest.approx(depth_extent_mm / fov.pixel_mm, abs=1.5)
    assert mask[:, ::-1].tolist() == mask.tolist()  # left-right symmetric


def test_plane_points_follow_pose_convention():
    fov = FieldOfView(kind="rectangle", width_mm=20, depth_mm=20, height_px=10, width_px=10)
    origin = np.array([5.0, -3.0, 12.0])
    pose = pose_from_axes(origin, beam=[0, 0, -1], lateral=[1, 0, 0])
    points = plane_points_world(pose, fov)[0]
    u, v = fov.pixel_coordinates_mm()
    np.testing.assert_allclose(points[..., 0], origin[0] + u)
    np.testing.assert_allclose(points[..., 2], origin[2] - v)
    np.testing.assert_allclose(points[..., 1], origin[1])
    assert points[-1, 0, 2] < points[0, 0, 2]  # deeper rows go along the beam
    np.testing.assert_allclose(pose[:3, 2], np.cross(pose[:3, 0], pose[:3, 1]))


def test_validate_poses():
    good = np.stack([pose_from_axes([0, 0, 0], [0, 1, 0], [1, 0, 0])] * 3)
    assert validate_poses(good).shape == (3, 4, 4)
    bad = good.copy()
    bad[0, :3, :3] *= 2
    with pytest.raises(EusaugError, match="rigid"):
        validate_poses(bad)
    with pytest.raises(EusaugError, match="4x4"):
        validate_poses(np.zeros((2, 3, 3)))


def test_fov_validation_and_round_trip():
    with pytest.raises(EusaugError, match="opening_deg"):
        FieldOfView(opening_deg=200)
    fov = FieldOfView(kind="rectangle", width_mm=33)
    assert FieldOfView.from_dict(fov.to_dict()) == fov
