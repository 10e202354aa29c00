"""The skin-surface sampler and body_surface on a phantom body with known geometry, and on real anatomy.

The phantom: an elliptic-cylinder body (semi-axes 110 mm x 80 mm, cut by the scan at both
ends) in air, a "liver" sphere inside it, a "vertebra" cylinder behind, a gas bubble
(must count as inside the body) and a CT table (a separate object, must not count).
Anisotropic 2 x 2 x 3 mm voxels on purpose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eusaug_plugins.skin_surface import TRANSABDOMINAL_FOV, SkinSurfaceSampler, eusaug_pose_samplers
from eusaug_plugins.stomach_cone import StomachConeSampler
from scipy.ndimage import distance_transform_edt
from scipy.spatial import cKDTree

from eusaug.ct.labels import get_preset
from eusaug.ct.volume import CTCase, CTVolume, LabelMap, load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, validate_poses
from eusaug.geometry.planes import SliceFilter, reference_slice
from eusaug.geometry.surface import body_mask, body_surface
from eusaug.plugin.registry import Registry
from eusaug.poses.sampling import sample_poses

LIVER, VERTEBRA = 5, 31
SPACING_MM = (2.0, 2.0, 3.0)
SHAPE = (131, 101, 31)
ORIGIN_MM = np.array([-130.0, -100.0, -45.0])
BODY_AXES_MM = np.array([110.0, 80.0])  # x (left-right), y (posterior-anterior)
LIVER_CENTRE_MM = np.array([50.0, 15.0, 0.0])
LIVER_RADIUS_MM = 30.0
SPINE_AXIS_XY_MM = np.array([0.0, -50.0])
SPINE_RADIUS_MM = 12.0
BUBBLE_CENTRE_MM = np.array([-40.0, 30.0, 0.0])
TABLE_Y_MM = (-96.0, -90.0)

#: A transabdominal view on a coarser grid (fast tests; the filter scales with the grid).
FOV = FieldOfView(depth_mm=150.0, opening_deg=60.0, probe_radius_mm=50.0, height_px=128, width_px=128)
#: The phantom is a short cylinder whose 150 mm fans leave it through its ends; the tests on it
#: are about where the probe sits, so they keep the paper filter's 20 % outside limit instead of
#: skin-surface's 2 % default (test_default_outside_limit_is_two_percent checks that default).
PHANTOM_OUTSIDE = 0.2



def body_case(hu_scale: float = 1.0, with_liver: bool = True) -> CTCase:
    """The phantom as a case; ``hu_scale=0`` makes an all-air volume."""
    affine = np.diag([*SPACING_MM, 1.0])
    affine[:3, 3] = ORIGIN_MM
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in SHAPE], indexing="ij"), axis=-1)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    body = ((xyz[..., :2] / BODY_AXES_MM) ** 2).sum(axis=-1) <= 1.0
    hu = np.full(SHAPE, -1000.0, np.float32)
    hu[body] = 30.0
    hu[np.linalg.norm(xyz - BUBBLE_CENTRE_MM, axis=-1) <= 10.0] = -950.0
    hu[(xyz[..., 1] >= TABLE_Y_MM[0]) & (xyz[..., 1] <= TABLE_Y_MM[1])] = 300.0
    labels = np.zeros(SHAPE, np.int16)
    spine = np.linalg.norm(xyz[..., :2] - SPINE_AXIS_XY_MM, axis=-1) <= SPINE_RADIUS_MM
    labels[spine], hu[spine] = VERTEBRA, 700.0
    if with_liver:
        liver = np.linalg.norm(xyz - LIVER_CENTRE_MM, axis=-1) <= LIVER_RADIUS_MM
        labels[liver], hu[liver] = LIVER, 60.0
    if hu_scale == 0.0:
        hu[:] = -1000.0
    return CTCase(CTVolume(hu, affine), LabelMap(labels, affine), get_preset("totalsegmentator"))


@pytest.fixture(scope="module")
def case() -> CTCase:
    return body_case()


@pytest.fixture(scope="module")
def ellipse() -> cKDTree:
    """The body outline in the x-y plane, finely sampled, for distances to the true skin."""
    t = np.linspace(0.0, 2.0 * np.pi, 40000, endpoint=False)
    return cKDTree(np.stack([BODY_AXES_MM[0] * np.cos(t), BODY_AXES_MM[1] * np.sin(t)], axis=1))


def inward_normal(points: np.ndarray) -> np.ndarray:
    """The true inward normal of the elliptic cylinder at (near-)surface points."""
    grad = np.zeros_like(points)
    grad[:, :2] = -points[:, :2] / BODY_AXES_MM**2
    return grad / np.linalg.norm(grad, axis=1, keepdims=True)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((a * b).sum(axis=-1), -1.0, 1.0)))


def test_body_surface_is_the_skin_only(case, ellipse):
    """Every triangle lies on the ellipse: no table, no gas bubble, no cut planes at the scan's ends."""
    surface = body_surface(case)
    corners = surface.triangles_mm.reshape(-1, 3)
    distance, _ = ellipse.query(corners[:, :2])
    assert distance.max() < 2.0  # one in-plane voxel
    assert corners[:, 2].min() >= -45.0 - 1.5 - 1e-6 and corners[:, 2].max() <= 45.0 + 1.5 + 1e-6  # half a slice
    # The whole skin is there: lateral area of the cylinder over the scanned length (93 mm).
    perimeter = np.pi * (3 * BODY_AXES_MM.sum() - np.sqrt((3 * BODY_AXES_MM[0] + BODY_AXES_MM[1])
                                                         * (BODY_AXES_MM[0] + 3 * BODY_AXES_MM[1])))
    assert surface.area_mm2 == pytest.approx(perimeter * SHAPE[2] * SPACING_MM[2], rel=0.05)
    # Outward normals are radial in x-y even next to the cut ends.
    errors = angle_deg(surface.normals_at(corners[::50]), -inward_normal(corners[::50]))
    assert errors.max() < 4.0


def test_body_mask_fills_gas_and_drops_the_table(case):
    mask = body_mask(case.ct.hu)
    ijk_bubble = np.rint(case.ct.world_to_voxel(BUBBLE_CENTRE_MM[None]))[0].astype(int)
    assert mask[tuple(ijk_bubble)]
    table_row = int(round((np.mean(TABLE_Y_MM) - ORIGIN_MM[1]) / SPACING_MM[1]))
    assert not mask[:, table_row].any()


def test_beams_with_zero_cone_are_inward_normals(case, ellipse):
    sampler = SkinSurfaceSampler(cone_deg=0.0, max_from_anterior_deg=180.0)
    poses = sampler.draw(sampler.surface(case), 3000, np.random.default_rng(0))
    origins, beams = poses[:, :3, 3], poses[:, :3, 1]
    errors = angle_deg(beams, inward_normal(origins))
    assert errors.max() < 4.0 and errors.mean() < 1.5
    distance, _ = ellipse.query(origins[:, :2])
    assert distance.max() < 2.0  # on the skin, within a voxel


def test_every_beam_is_within_the_cone_of_the_inward_normal(case):
    sampler = SkinSurfaceSampler(cone_deg=25.0)
    surface = sampler.surface(case)
    poses = sampler.draw(surface, 3000, np.random.default_rng(1))
    validate_poses(poses)
    assert np.allclose(np.linalg.det(poses[:, :3, :3]), 1.0)  # right-handed
    angles = angle_deg(poses[:, :3, 1], -surface.normals_at(poses[:, :3, 3]))
    assert angles.max() <= 25.0 + 1e-6 and angles.max() > 24.0
    assert angle_deg(poses[:, :3, 1], inward_normal(poses[:, :3, 3])).max() < 25.0 + 4.0


def test_kept_poses_are_on_the_front_skin_and_see_the_liver(case, ellipse):
    slice_filter = SliceFilter()
    poses = SkinSurfaceSampler(max_outside_fraction=PHANTOM_OUTSIDE).sample(case, "liver", 10, FOV,
                                                                           np.random.default_rng(2), slice_filter)
    assert poses.shape == (10, 4, 4)
    origins = poses[:, :3, 3]
    distance, _ = ellipse.query(origins[:, :2])
    assert distance.max() < 2.0
    outward = -inward_normal(origins)
    assert angle_deg(outward, np.array([0.0, 1.0, 0.0])).max() <= 110.0 + 4.0  # not on the back
    planes = reference_slice(case, poses, FOV)  # the slow, obviously right slicer
    landmark_px, bone_px = slice_filter.counts(planes, LIVER, case.label_preset)
    min_landmark, max_bone = slice_filter.thresholds(FOV)
    assert (landmark_px > min_landmark).all() and (bone_px < max_bone).all()


def test_front_only_option(case):
    sampler = SkinSurfaceSampler(max_from_anterior_deg=90.0, restrict_to_reach=False)
    surface = sampler.candidate_surface(case, "liver", FOV)
    points = surface.sample_points(2000, np.random.default_rng(3))
    assert (points[:, 1] > -3.0).all()  # the anterior half of the body (y >= 0), within a voxel or so


def test_same_seed_same_poses(case):
    def run(seed: int) -> np.ndarray:
        return SkinSurfaceSampler(max_outside_fraction=PHANTOM_OUTSIDE).sample(
            case, "liver", 3, FOV, np.random.default_rng(seed), SliceFilter())

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.allclose(run(5), run(6))


def test_reach_restriction_drops_no_viewable_skin(case):
    """Poses kept from the whole front skin all start in the restricted region: it only saves draws."""
    fov = FieldOfView(depth_mm=60.0, opening_deg=60.0, probe_radius_mm=20.0, height_px=96, width_px=96)
    restricted = SkinSurfaceSampler().candidate_surface(case, "liver", fov)
    front = SkinSurfaceSampler(restrict_to_reach=False).candidate_surface(case, "liver", fov)
    assert restricted.area_mm2 < 0.7 * front.area_mm2
    poses = SkinSurfaceSampler(restrict_to_reach=False).sample(
        case, "liver", 30, fov, np.random.default_rng(4), slice_filter=None
    )
    tree = cKDTree(restricted.triangles_mm.reshape(-1, 3))
    distance, _ = tree.query(poses[:, :3, 3])
    assert distance.max() < 2.0


def test_all_air_is_a_clear_error():
    with pytest.raises(EusaugError, match=r"No body.*threshold_hu=-500"):
        SkinSurfaceSampler().sample(body_case(hu_scale=0.0), "liver", 1, FOV, np.random.default_rng(0))


def test_unreachable_landmark_is_a_clear_error(case):
    shallow = FieldOfView(depth_mm=6.0, probe_radius_mm=5.0, height_px=32, width_px=32)  # liver is 28 mm deep
    with pytest.raises(EusaugError, match=r"can see 'liver'.*depth_mm=6"):
        SkinSurfaceSampler().sample(case, "liver", 1, shallow, np.random.default_rng(0))
    with pytest.raises(EusaugError, match="liver.*absent"):
        SkinSurfaceSampler().sample(body_case(with_liver=False), "liver", 1, FOV, np.random.default_rng(0))


def test_exhausted_budget_names_the_skin_and_depth(case):
    with pytest.raises(EusaugError, match=r"in 40 draws.*skin \(body surface\).*depth_mm"):
        SkinSurfaceSampler(max_draws=40).sample(case, "liver", 500, FOV, np.random.default_rng(0), SliceFilter())


def test_default_outside_limit_is_two_percent(case):
    """The paper filter allows 20 % of the fan outside the CT; on the skin the sampler allows 2 %."""
    with pytest.raises(EusaugError, match=r"<= 2% outside the CT") as error:
        SkinSurfaceSampler(max_draws=300).sample(case, "liver", 50, FOV, np.random.default_rng(0), SliceFilter())
    lenient = SkinSurfaceSampler(max_draws=300, max_outside_fraction=PHANTOM_OUTSIDE)
    with pytest.raises(EusaugError, match=r"<= 20% outside the CT") as lenient_error:
        lenient.sample(case, "liver", 50, FOV, np.random.default_rng(0), SliceFilter())
    outside = [int(e.value.args[0].split(" too much outside")[0].rsplit(" ", 1)[1]) for e in (error, lenient_error)]
    assert outside[0] > outside[1]


@pytest.mark.parametrize("options", [{"cone_deg": 95}, {"max_outside_fraction": 1.5}, {"roll_range_deg": (30, -30)},
                                     {"max_from_anterior_deg": 0}])
def test_bad_options_are_rejected(options):
    with pytest.raises(EusaugError):
        SkinSurfaceSampler(**options)


def test_registered_by_hook_entry_point_and_at_run_time(case):
    assert eusaug_pose_samplers() == [SkinSurfaceSampler]
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    entry_points = pyproject.split("[project.entry-points.eusaug]")[1].split("\n[")[0]
    assert 'skin-surface = "eusaug_plugins.skin_surface"' in entry_points.splitlines()
    registry = Registry(load_entry_points=False)
    registry.add("sampler", StomachConeSampler)
    registry.add("sampler", SkinSurfaceSampler)
    assert registry.get("sampler", "skin-surface") is SkinSurfaceSampler
    pose_set = sample_poses(case, "liver", 2, seed=7, fov=FOV, sampler="skin-surface", registry=registry,
                            sampler_options={"max_outside_fraction": PHANTOM_OUTSIDE})
    assert pose_set.sampler == "skin-surface" and len(pose_set) == 2


def test_real_liver_poses_are_on_the_front_skin_and_look_in(abdomen_ct, abdomen_labels):
    real = load_case(abdomen_ct, abdomen_labels)
    poses = SkinSurfaceSampler().sample(real, "liver", 12, TRANSABDOMINAL_FOV, np.random.default_rng(0),
                                        SliceFilter())
    body = body_mask(real.ct.hu)
    spacing = real.ct.spacing_mm
    depth = np.maximum(distance_transform_edt(body, sampling=spacing), distance_transform_edt(~body, sampling=spacing))
    ijk = np.clip(np.rint(real.ct.world_to_voxel(poses[:, :3, 3])).astype(int), 0, np.array(body.shape) - 1)
    assert depth[tuple(ijk.T)].max() <= 3.0 + 1e-6  # within one 3 mm voxel of the skin
    # Front or flank: the outward normal (away from the body) is within 110 deg of anterior.
    outward = body_surface(real).normals_at(poses[:, :3, 3])
    assert angle_deg(outward, np.array([0.0, 1.0, 0.0])).max() <= 110.0 + 1e-6
    # Stepping 10 mm along the beam enters the body; stepping back leaves it.
    ahead, behind = (
        np.clip(np.rint(real.ct.world_to_voxel(poses[:, :3, 3] + step)).astype(int), 0, np.array(body.shape) - 1)
        for step in (10 * poses[:, :3, 1], -10 * poses[:, :3, 1])
    )
    assert body[tuple(ahead.T)].all() and not body[tuple(behind.T)].any()
