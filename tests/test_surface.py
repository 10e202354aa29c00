"""Organ surfaces: radial normals on a voxelised sphere, area-uniform points, any voxel size."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kstest

from eusaug.errors import EusaugError
from eusaug.geometry.surface import organ_surface


def sphere(spacing: tuple[float, float, float], radius_mm: float, rotation: np.ndarray | None = None):
    spacing_arr = np.array(spacing)
    shape = tuple(int(s) for s in np.ceil(2 * radius_mm / spacing_arr) + 14)
    affine = np.eye(4)
    affine[:3, :3] = (np.eye(3) if rotation is None else rotation) @ np.diag(spacing_arr)
    affine[:3, 3] = [10.0, -5.0, 30.0]
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    centre = (np.array(shape) - 1) / 2 @ affine[:3, :3].T + affine[:3, 3] + 0.3
    return np.linalg.norm(xyz - centre, axis=-1) <= radius_mm, affine, centre


def rotation(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


@pytest.mark.parametrize(
    "spacing, rot",
    [((1.0, 1.0, 1.0), None), ((1.0, 1.5, 3.0), None), ((0.8, 2.5, 1.2), rotation(25.0))],
    ids=["isotropic", "anisotropic", "anisotropic-oblique"],
)
def test_normals_point_radially_outward(spacing, rot):
    mask, affine, centre = sphere(spacing, 24.0, rot)
    surface = organ_surface(mask, affine)
    points = surface.sample_points(5000, np.random.default_rng(0))
    radial = (points - centre) / np.linalg.norm(points - centre, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip((surface.normals_at(points) * radial).sum(axis=1), -1, 1)))
    assert angle.max() < 4.0 and angle.mean() < 1.5
    assert np.abs(np.linalg.norm(points - centre, axis=1) - 24.0).max() < max(spacing)
    assert surface.area_mm2 == pytest.approx(4 * np.pi * 24.0**2, rel=0.05)


def test_points_are_uniform_over_area_not_voxels():
    """On a sphere, uniform-by-area points have uniform height (Archimedes), whatever the voxels."""
    mask, affine, centre = sphere((1.0, 1.0, 3.0), 24.0)  # thick slices: per-voxel sampling would skew z
    surface = organ_surface(mask, affine)
    points = surface.sample_points(20000, np.random.default_rng(1))
    unit = (points - centre) / np.linalg.norm(points - centre, axis=1, keepdims=True)
    for axis in range(3):
        assert kstest(unit[:, axis], "uniform", args=(-1, 2)).pvalue > 1e-3, axis
    # The same test rejects points taken one per boundary voxel (the thing to avoid).
    boundary = np.argwhere(mask & ~np.roll(mask, 1, axis=2) | mask & ~np.roll(mask, -1, axis=2)
                           | mask & ~np.roll(mask, 1, axis=0) | mask & ~np.roll(mask, -1, axis=0)
                           | mask & ~np.roll(mask, 1, axis=1) | mask & ~np.roll(mask, -1, axis=1))
    xyz = boundary @ affine[:3, :3].T + affine[:3, 3]
    unit_voxels = (xyz - centre) / np.linalg.norm(xyz - centre, axis=1, keepdims=True)
    assert kstest(unit_voxels[:, 2], "uniform", args=(-1, 2)).pvalue < 1e-3


def test_same_seed_same_points():
    mask, affine, _ = sphere((1.0, 1.0, 1.0), 10.0)
    surface = organ_surface(mask, affine)
    a = surface.sample_points(50, np.random.default_rng(7))
    b = surface.sample_points(50, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_empty_or_vanishing_masks_are_errors():
    with pytest.raises(EusaugError, match="empty"):
        organ_surface(np.zeros((5, 5, 5), bool), np.eye(4))
    speck = np.zeros((9, 9, 9), bool)
    speck[4, 4, 4] = True
    with pytest.raises(EusaugError, match="too small"):
        organ_surface(speck, np.eye(4), smoothing_mm=2.0)
