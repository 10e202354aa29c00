"""The stomach-cone sampler on a phantom with known normals, and on real anatomy."""

from __future__ import annotations

import numpy as np
import pytest
from eusaug_plugins.stomach_cone import (
    NOT_IN_VIEW,
    StomachConeSampler,
    cone_directions,
    perpendicular_basis,
    roll_reference,
)
from scipy.ndimage import distance_transform_edt
from scipy.stats import kstest
from stomach_phantom import (
    AORTA,
    STOMACH,
    STOMACH_CENTRE_MM,
    STOMACH_RADIUS_MM,
    phantom_case,
)

from eusaug.ct.labels import LabelPreset
from eusaug.ct.volume import CTCase, load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, validate_poses
from eusaug.geometry.planes import SliceFilter, reference_slice
from eusaug.plugin.registry import Registry


@pytest.fixture(scope="module")
def case() -> CTCase:
    return phantom_case()


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((a * b).sum(axis=-1), -1.0, 1.0)))


def test_registered_as_default_sampler():
    assert Registry().get("sampler") is StomachConeSampler


def test_beams_with_zero_cone_are_radial_outward_normals(case):
    sampler = StomachConeSampler(cone_deg=0.0)
    poses = sampler.draw(sampler.surface(case), 3000, np.random.default_rng(0))
    origins, beams = poses[:, :3, 3], poses[:, :3, 1]
    radial = (origins - STOMACH_CENTRE_MM) / np.linalg.norm(origins - STOMACH_CENTRE_MM, axis=1, keepdims=True)
    errors = angle_deg(beams, radial)
    assert errors.max() < 4.0 and errors.mean() < 1.5  # anisotropic 1.5 x 1.5 x 2.5 mm voxels
    distance = np.linalg.norm(origins - STOMACH_CENTRE_MM, axis=1)
    assert np.abs(distance - STOMACH_RADIUS_MM).max() < 2.5  # on the wall (voxelised, smoothed)


def test_every_direction_is_within_the_cone(case):
    sampler = StomachConeSampler(cone_deg=30.0)
    surface = sampler.surface(case)
    poses = sampler.draw(surface, 3000, np.random.default_rng(1))
    validate_poses(poses)
    assert np.allclose(np.linalg.det(poses[:, :3, :3]), 1.0)  # right-handed
    normals = surface.normals_at(poses[:, :3, 3])
    angles = angle_deg(poses[:, :3, 1], normals)
    assert angles.max() <= 30.0 + 1e-6
    assert angles.max() > 29.0  # the whole cone is used


def test_cone_is_filled_uniformly():
    """Uniform on the cap: cos(angle) uniform on [cos 30, 1], azimuth uniform on [0, 2 pi)."""
    rng = np.random.default_rng(2)
    axes = rng.normal(size=(20000, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    directions = cone_directions(axes, 30.0, rng)
    cos_angle = (directions * axes).sum(axis=1)
    low = np.cos(np.deg2rad(30.0))
    assert kstest(cos_angle, "uniform", args=(low, 1 - low)).pvalue > 1e-3
    first, second = perpendicular_basis(axes)
    azimuth = np.arctan2((directions * second).sum(axis=1), (directions * first).sum(axis=1)) % (2 * np.pi)
    assert kstest(azimuth, "uniform", args=(0, 2 * np.pi)).pvalue > 1e-3
    # The test has power: an angle drawn uniformly (crowding the axis) fails it.
    naive = np.cos(rng.uniform(0, np.deg2rad(30.0), 20000))
    assert kstest(naive, "uniform", args=(low, 1 - low)).pvalue < 1e-6


def test_roll_stays_in_its_range(case):
    sampler = StomachConeSampler(roll_range_deg=(10.0, 20.0))
    poses = sampler.draw(sampler.surface(case), 500, np.random.default_rng(3))
    beams, lateral = poses[:, :3, 1], poses[:, :3, 0]
    reference = roll_reference(beams)
    signed = np.degrees(np.arctan2((np.cross(reference, lateral) * beams).sum(axis=1), (reference * lateral).sum(axis=1)))
    assert signed.min() >= 10.0 - 1e-6 and signed.max() <= 20.0 + 1e-6
    assert signed.max() - signed.min() > 9.0


def test_kept_poses_all_see_the_aorta_and_pass_the_filter(case):
    fov = FieldOfView()
    slice_filter = SliceFilter()
    poses = StomachConeSampler().sample(case, "aorta", 12, fov, np.random.default_rng(4), slice_filter)
    assert poses.shape == (12, 4, 4)
    planes = reference_slice(case, poses, fov)  # the slow, obviously right slicer
    landmark_px, bone_px = slice_filter.counts(planes, AORTA, case.label_preset)
    assert (landmark_px > 1000).all() and (bone_px < 50).all()


def test_same_seed_same_poses(case):
    def run(seed: int) -> np.ndarray:
        return StomachConeSampler().sample(case, "aorta", 4, FieldOfView(), np.random.default_rng(seed), SliceFilter())

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.allclose(run(5), run(6))


def test_coarse_screen_loses_no_pose(case):
    """Screening on a coarse grid only skips work: the kept poses are those of a full-grid check."""
    def run(screen_factor: int) -> np.ndarray:
        sampler = StomachConeSampler(screen_factor=screen_factor)
        return sampler.sample(case, "aorta", 8, FieldOfView(), np.random.default_rng(9), SliceFilter())

    np.testing.assert_array_equal(run(4), run(1))


def test_exhausted_budget_reports_counts_per_reason(case):
    sampler = StomachConeSampler(max_draws=300)
    with pytest.raises(EusaugError) as info:
        sampler.sample(case, "aorta", 1000, FieldOfView(), np.random.default_rng(0), SliceFilter())
    message = str(info.value)
    assert "\n" not in message and "in 300 draws" in message and "of 1000 poses" in message
    counts = {reason: int(message.split(f" {reason}")[0].rsplit(" ", 1)[-1])
              for reason in (NOT_IN_VIEW, "too few landmark pixels", "too much bone")}
    assert all(c > 0 for c in counts.values()), counts  # the phantom's spine rejects some views
    outside = int(message.split(" too much outside the CT")[0].rsplit(" ", 1)[-1])  # fans off the small phantom
    found = int(message.split("Found only ")[1].split(" ")[0])
    assert found + sum(counts.values()) + outside == 300


def test_missing_stomach_or_landmark_is_a_clear_error():
    with pytest.raises(EusaugError, match="stomach"):
        StomachConeSampler().sample(phantom_case(with_stomach=False), "aorta", 1, FieldOfView(),
                                    np.random.default_rng(0))
    with pytest.raises(EusaugError, match="aorta.*absent"):
        StomachConeSampler().sample(phantom_case(with_aorta=False), "aorta", 1, FieldOfView(),
                                    np.random.default_rng(0))
    case = phantom_case()
    no_stomach_preset = CTCase(case.ct, case.labels, LabelPreset("mine", {"aorta": AORTA}))
    with pytest.raises(EusaugError, match="stomach"):
        StomachConeSampler().sample(no_stomach_preset, "aorta", 1, FieldOfView(), np.random.default_rng(0))


@pytest.mark.parametrize("options", [{"cone_deg": 120}, {"roll_range_deg": (30, -30)}, {"max_draws": 0}])
def test_bad_options_are_rejected(options):
    with pytest.raises(EusaugError):
        StomachConeSampler(**options)


def test_real_stomach_poses_sit_on_the_wall_and_look_outward(abdomen_ct, abdomen_labels):
    case = load_case(abdomen_ct, abdomen_labels)
    sampler = StomachConeSampler()
    poses = sampler.sample(case, "aorta", 15, FieldOfView(), np.random.default_rng(0), SliceFilter())
    stomach = case.labels.ids == STOMACH
    # Distance (mm) of each transducer to the stomach boundary, from both sides.
    spacing = case.ct.spacing_mm
    outside = distance_transform_edt(~stomach, sampling=spacing)
    inside = distance_transform_edt(stomach, sampling=spacing)
    ijk = np.rint(case.ct.world_to_voxel(poses[:, :3, 3])).astype(int)
    depth = np.maximum(outside[tuple(ijk.T)], inside[tuple(ijk.T)])
    assert depth.max() <= 3.0 + 1e-6  # within one 3 mm voxel of the wall
    # Stepping 6 mm along the beam leaves the stomach; stepping back enters it.
    ahead = np.rint(case.ct.world_to_voxel(poses[:, :3, 3] + 6 * poses[:, :3, 1])).astype(int)
    behind = np.rint(case.ct.world_to_voxel(poses[:, :3, 3] - 6 * poses[:, :3, 1])).astype(int)
    assert stomach[tuple(behind.T)].mean() > 0.8 and not stomach[tuple(ahead.T)].mean() > 0.2
