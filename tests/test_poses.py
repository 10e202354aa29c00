"""Poses files: round trip, validation, CT matching, and sample_poses through the registry."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from stomach_phantom import phantom_case, write_phantom

from eusaug.ct.volume import load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, pose_from_axes
from eusaug.geometry.planes import SliceFilter
from eusaug.plugin.interfaces import PoseSampler
from eusaug.plugin.registry import Registry
from eusaug.poses.sampling import (
    PoseSet,
    case_sha256,
    file_sha256,
    load_poses,
    sample_poses,
    save_poses,
)
from eusaug.poses.slicing import slice_case


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantom")
    return write_phantom(folder / "ras"), write_phantom(folder / "las", "LAS")


@pytest.fixture(scope="module")
def ras_case(phantom_files):
    return load_case(*phantom_files[0])


@pytest.fixture(scope="module")
def pose_set(ras_case) -> PoseSet:
    return sample_poses(ras_case, "Aorta", 5, seed=11, fov=FieldOfView(height_px=128, width_px=128),
                        cone_deg=25.0, roll_range_deg=(-90.0, 90.0))


def test_sample_poses_records_what_made_them(pose_set, phantom_files):
    ct_path, labels_path = phantom_files[0]
    assert pose_set.poses.shape == (5, 4, 4) and len(pose_set) == 5
    assert pose_set.landmark == "aorta"  # normalised
    assert pose_set.ct_sha256 == file_sha256(ct_path) and pose_set.labels_sha256 == file_sha256(labels_path)
    assert pose_set.ct_path == str(ct_path) and pose_set.label_preset == "totalsegmentator"
    assert pose_set.sampler == "stomach-cone" and pose_set.seed == 11 and pose_set.cone_deg == 25.0
    assert pose_set.roll_range_deg == (-90.0, 90.0) and pose_set.fov.height_px == 128
    assert pose_set.slice_filter == SliceFilter()


def test_round_trip_is_exact(tmp_path, pose_set, ras_case):
    path = save_poses(tmp_path / "poses.json", pose_set)
    loaded = load_poses(path, ras_case)
    np.testing.assert_array_equal(loaded.poses, pose_set.poses)
    for field in ("landmark", "ct_path", "labels_path", "ct_sha256", "labels_sha256", "preset", "fov",
                  "slice_filter", "cone_deg", "roll_range_deg", "seed", "eusaug_version", "sampler", "max_draws"):
        assert getattr(loaded, field) == getattr(pose_set, field), field
    assert [p.name for p in tmp_path.iterdir()] == ["poses.json"]  # no temporary file left behind


def test_las_copy_gives_the_same_world_space_poses_and_slices(phantom_files, pose_set, ras_case):
    las_case = load_case(*phantom_files[1])
    assert las_case.ct.orientation == "LAS"
    las_set = sample_poses(las_case, "aorta", 5, seed=11, fov=pose_set.fov, cone_deg=25.0,
                           roll_range_deg=(-90.0, 90.0))
    np.testing.assert_allclose(las_set.poses, pose_set.poses, atol=1e-9)
    a = slice_case(ras_case, pose_set.poses, pose_set.fov)
    b = slice_case(las_case, pose_set.poses, pose_set.fov)
    np.testing.assert_allclose(a.hu, b.hu, atol=1e-3)
    np.testing.assert_array_equal(a.labels, b.labels)
    # Same anatomy, different file: the poses file still knows it is not its CT.
    assert las_set.ct_sha256 != pose_set.ct_sha256


def test_another_ct_is_an_error_or_a_warning_with_force(tmp_path, pose_set, phantom_files):
    path = save_poses(tmp_path / "poses.json", pose_set)
    other = load_case(*phantom_files[1])
    with pytest.raises(EusaugError, match="another volume.*--force"):
        load_poses(path, other)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_poses(path, other, force=True)
    assert len(loaded) == 5 and any("another volume" in str(w.message) for w in caught)


def test_in_memory_cases_are_fingerprinted_by_content():
    a, b = case_sha256(phantom_case()), case_sha256(phantom_case())
    assert a == b and a[0].startswith("array:")
    assert case_sha256(phantom_case(with_aorta=False))[1] != a[1]


def _write(tmp_path, data) -> str:
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _good(pose_set) -> dict:
    return json.loads(json.dumps(pose_set.to_dict()))


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: "{not json", "not readable JSON"),
        (lambda d: [1, 2], "not an eusaug poses file"),
        (lambda d: {**d, "format": "other"}, "not an eusaug poses file"),
        (lambda d: {**d, "format_version": 99}, "format_version 99"),
        (lambda d: {k: v for k, v in d.items() if k != "landmark"}, "lacks landmark"),
        (lambda d: {**d, "poses": [[[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]]}, "not rigid"),
        (lambda d: {**d, "poses": [[1, 2, 3]]}, "4x4"),
        (lambda d: {**d, "poses": []}, "4x4"),
        (lambda d: {**d, "field_of_view": {"depth_mm": -5}}, "depth_mm=-5"),
        (lambda d: {**d, "ct": "nope"}, "malformed"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path, pose_set, mutate, needle):
    with pytest.raises(EusaugError) as info:
        load_poses(_write(tmp_path, mutate(_good(pose_set))))
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert "bad.json" in str(info.value)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(EusaugError, match="does not exist"):
        load_poses(tmp_path / "nope.json")


class FixedSampler(PoseSampler):
    """Returns the same pose n times; takes the standard options."""

    name = "fixed"

    def __init__(self, cone_deg: float = 30.0, roll_range_deg=(-180.0, 180.0), max_draws=None) -> None:
        self.cone_deg = cone_deg

    def sample(self, case, landmark, n, fov, rng, slice_filter=None):
        return np.stack([pose_from_axes([0.0, 0.0, 0.0], [0, -1, 0], [1, 0, 0])] * n)


class Inflexible(PoseSampler):
    name = "inflexible"

    def sample(self, case, landmark, n, fov, rng, slice_filter=None):
        raise AssertionError("never called")


def test_sample_poses_uses_the_registry():
    registry = Registry(load_entry_points=False)
    registry.add("sampler", FixedSampler)
    registry.add("sampler", Inflexible)
    result = sample_poses(phantom_case(), "aorta", 3, sampler="fixed", registry=registry)
    assert result.sampler == "fixed" and result.poses.shape == (3, 4, 4)
    with pytest.raises(EusaugError, match="does not take"):
        sample_poses(phantom_case(), "aorta", 3, sampler="inflexible", registry=registry)
    with pytest.raises(EusaugError, match="No sampler plugin named 'stomach-cone'"):
        sample_poses(phantom_case(), "aorta", 3, registry=registry)
