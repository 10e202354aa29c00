"""The fast plane-sampling core: exact on linear volumes, same answers as map_coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from eusaug.ct.volume import world_to_voxel
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, plane_points_world, pose_from_axes
from eusaug.geometry.interpolate import PlaneSampler, plane_grid

SMALL_FOV = FieldOfView(depth_mm=20.0, opening_deg=70.0, probe_radius_mm=5.0, height_px=48, width_px=64)


def oblique_affine() -> np.ndarray:
    """Anisotropic voxels, rotated 20 deg about z and 10 deg about x, shifted."""
    a, b = np.deg2rad(20.0), np.deg2rad(10.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rz @ rx @ np.diag([1.2, 0.8, 2.0])
    affine[:3, 3] = [-20.0, 15.0, -30.0]
    return affine


def random_poses(rng: np.random.Generator, centre: np.ndarray, spread_mm: float, n: int) -> np.ndarray:
    return np.stack([
        pose_from_axes(centre + rng.uniform(-spread_mm, spread_mm, 3), rng.normal(size=3), rng.normal(size=3))
        for _ in range(n)
    ])


def linear_volume(shape: tuple[int, int, int], affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    gradient, offset = np.array([3.0, -2.0, 1.5]), 17.0
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    return (xyz @ gradient + offset).astype(np.float32), gradient, offset


def random_volume_and_planes(seed: int, n_planes: int):
    """Random HU and labels on a small oblique volume, and planes spread 25 mm around its centre."""
    rng = np.random.default_rng(seed)
    affine = oblique_affine()
    shape = (30, 26, 18)
    values = rng.uniform(-1000, 1000, shape).astype(np.float32)
    labels = rng.integers(0, 60, shape).astype(np.int16)
    centre = (np.array(shape) - 1) / 2 @ affine[:3, :3].T + affine[:3, 3]
    return values, labels, plane_grid(random_poses(rng, centre, 25.0, n_planes), SMALL_FOV, affine)


@pytest.mark.parametrize("pack_max_bytes", [2**40, 0], ids=["corner-pack", "eight-gathers"])
def test_linear_function_comes_back_exactly(pack_max_bytes):
    affine = oblique_affine()
    shape = (60, 70, 40)
    values, gradient, offset = linear_volume(shape, affine)
    centre = (np.array(shape) - 1) / 2 @ affine[:3, :3].T + affine[:3, 3]
    rng = np.random.default_rng(0)
    poses = random_poses(rng, centre, 5.0, 6)
    sampler = PlaneSampler(values, fill_value=-1024.0, pack_max_bytes=pack_max_bytes)
    assert sampler.packed == (pack_max_bytes > 0)
    got, labels = sampler.sample(plane_grid(poses, SMALL_FOV, affine))
    assert labels is None
    expected = plane_points_world(poses, SMALL_FOV) @ gradient + offset
    ijk = world_to_voxel(affine, plane_points_world(poses, SMALL_FOV))
    assert ((ijk > 0) & (ijk < np.array(shape) - 1)).all(), "test planes must lie inside the volume"
    np.testing.assert_allclose(got, expected, atol=2e-3 * np.abs(expected).max())


@pytest.mark.parametrize("pack_max_bytes", [2**40, 0], ids=["corner-pack", "eight-gathers"])
def test_planes_leaving_the_volume_match_map_coordinates(pack_max_bytes):
    values, labels, grid = random_volume_and_planes(seed=1, n_planes=12)  # many planes cross the edges
    hu, ids = PlaneSampler(values, labels, -1024.0, 0, pack_max_bytes).sample(grid)
    coords = np.moveaxis(grid.ijk(), -1, 0)
    ref_hu = map_coordinates(values, coords, order=1, mode="constant", cval=-1024.0)
    ref_ids = map_coordinates(labels, coords, order=0, mode="constant", cval=0)
    outside = (ref_hu == -1024.0).mean()
    assert 0.05 < outside < 0.95, "the test should cover both inside and outside"
    assert np.abs(hu - ref_hu).max() < 0.05
    assert (ids != ref_ids).mean() < 1e-4  # float32 rounding can flip exact half-voxel ties


@pytest.mark.parametrize("pack_max_bytes", [2**40, 0], ids=["corner-pack", "eight-gathers"])
def test_planes_split_into_blocks_give_the_same_values(monkeypatch, pack_max_bytes):
    """Blocks of rows (the last one partial) stitch back to the single-block answer."""
    import eusaug.geometry.interpolate as interpolate

    values, labels, grid = random_volume_and_planes(seed=2, n_planes=5)
    sampler = PlaneSampler(values, labels, -1024.0, 0, pack_max_bytes)
    whole_hu, whole_ids = sampler.sample(grid)  # 48 x 64 px: one block
    monkeypatch.setattr(interpolate, "BLOCK_PX", 15 * SMALL_FOV.width_px)  # rows 15 + 15 + 15 + 3
    hu, ids = sampler.sample(grid)
    np.testing.assert_array_equal(hu, whole_hu)
    np.testing.assert_array_equal(ids, whole_ids)

def test_nearest_labels_come_back_unchanged_on_voxel_centres():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 200, (40, 30, 50)).astype(np.int16)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    fov = FieldOfView(kind="rectangle", width_mm=32.0, depth_mm=24.0, height_px=24, width_px=32)
    assert fov.pixel_mm == 1.0
    # Lateral along +x, beam along +z: pixel (r, c) lands on voxel (4 + c, 7, 10 + r).
    u, v = fov.pixel_coordinates_mm()
    origin = np.array([4.0 - u[0, 0], 7.0, 10.0 - v[0, 0]])
    pose = pose_from_axes(origin, beam=[0, 0, 1], lateral=[1, 0, 0])
    _, got = PlaneSampler(None, labels).sample(plane_grid(pose, fov, affine))
    np.testing.assert_array_equal(got[0], labels[4:36, 7, 10:34].T)


def test_grid_matches_plane_points_world():
    rng = np.random.default_rng(3)
    affine = oblique_affine()
    poses = random_poses(rng, np.zeros(3), 30.0, 4)
    grid = plane_grid(poses, SMALL_FOV, affine)
    expected = world_to_voxel(affine, plane_points_world(poses, SMALL_FOV))
    np.testing.assert_allclose(grid.ijk(), expected, atol=1e-9)


def test_threads_give_identical_results():
    rng = np.random.default_rng(4)
    values = rng.normal(size=(40, 40, 40)).astype(np.float32)
    labels = rng.integers(0, 5, (40, 40, 40)).astype(np.uint8)
    poses = random_poses(rng, np.full(3, 20.0), 10.0, 7)
    sampler = PlaneSampler(values, labels, 0.0, 0)
    grid = plane_grid(poses, SMALL_FOV, np.eye(4))
    one = sampler.sample(grid, workers=1)
    three = sampler.sample(grid, workers=3)
    np.testing.assert_array_equal(one[0], three[0])
    np.testing.assert_array_equal(one[1], three[1])


def test_large_volumes_index_exactly():
    """Past 2**24 voxels a float32 flat index would round: the far corner must still be exact."""
    shape = (260, 260, 260)
    labels = np.zeros(shape, np.uint8)
    labels[250:, 250:, 250:] = np.arange(10 * 10 * 10).reshape(10, 10, 10) % 251
    fov = FieldOfView(kind="rectangle", width_mm=8.0, depth_mm=8.0, height_px=8, width_px=8)
    u, v = fov.pixel_coordinates_mm()
    origin = np.array([251.0 - u[0, 0], 255.0, 251.0 - v[0, 0]])
    pose = pose_from_axes(origin, beam=[0, 0, 1], lateral=[1, 0, 0])
    _, got = PlaneSampler(None, labels).sample(plane_grid(pose, fov, np.eye(4)))
    np.testing.assert_array_equal(got[0], labels[251:259, 255, 251:259].T)


def test_smoothing_rounds_the_voxel_staircase_and_keeps_flat_regions():
    from eusaug.geometry import smooth_labels, smooth_volume

    # A 45 deg edge on a coarse grid: a staircase of 3 mm steps.
    spacing = (3.0, 3.0, 3.0)
    i, j, _ = np.mgrid[:24, :24, :4]
    ids = np.where(i > j, 2, 1).astype(np.int16)
    hu = np.where(ids == 2, 60.0, -100.0).astype(np.float32)
    smooth = smooth_volume(hu, spacing, 1.5)
    assert smooth[20, 2, 1] == pytest.approx(60.0) and smooth[2, 20, 1] == pytest.approx(-100.0)
    # On the staircase's diagonal the step is averaged away: neither side's value is left.
    assert -100.0 < smooth[10, 10, 1] < 60.0
    # Along a line across the edge the full 160 HU jump in one voxel becomes a ramp.
    assert np.abs(np.diff(hu[np.arange(4, 20), 12, 1])).max() == pytest.approx(160.0)
    assert np.abs(np.diff(smooth[np.arange(4, 20), 12, 1])).max() < 0.7 * 160.0
    labels = smooth_labels(ids, spacing, 1.5)
    assert set(np.unique(labels)) == {1, 2}
    assert (labels[ids == labels] == ids[ids == labels]).all() and (labels == ids).mean() > 0.9
    assert smooth_volume(hu, spacing, 0.0) is not hu and np.array_equal(smooth_volume(hu, spacing, 0.0), hu)
    with pytest.raises(EusaugError):
        smooth_volume(hu, spacing, -1.0)
