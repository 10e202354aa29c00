"""The paper's slice filter on hand-made planes, and slice_case through the registry."""

from __future__ import annotations

import numpy as np
import pytest
from stomach_phantom import AORTA, VERTEBRA, phantom_case

from eusaug.ct.labels import get_preset
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, pose_from_axes
from eusaug.geometry.planes import (
    KEPT,
    TOO_FEW_LANDMARK,
    TOO_MUCH_BONE,
    Planes,
    SliceFilter,
    reference_slice,
)
from eusaug.plugin.registry import Registry
from eusaug.poses.slicing import slice_case

FOV = FieldOfView(kind="rectangle", width_mm=64.0, depth_mm=64.0, height_px=256, width_px=256)


def hand_made_plane(landmark_px: int, bone_px: int, bone_outside_fov: int = 0) -> Planes:
    """A 256x256 plane with a block of aorta and a strip of vertebra of known pixel counts."""
    labels = np.zeros((1, 256, 256), np.int16)
    hu = np.full((1, 256, 256), 30.0, np.float32)
    labels.reshape(-1)[:landmark_px] = AORTA
    labels[0, 200, 100 : 100 + bone_px] = VERTEBRA
    hu[0, 200, 100 : 100 + bone_px] = 800.0
    mask = np.ones((1, 256, 256), bool)
    if bone_outside_fov:
        labels[0, 250, :bone_outside_fov] = VERTEBRA
        mask[0, 250, :] = False
    return Planes(hu, labels, mask, np.eye(4)[None], FOV)


@pytest.mark.parametrize(
    "landmark_px, bone_px, verdict",
    [(1200, 49, KEPT), (1001, 0, KEPT), (1000, 0, TOO_FEW_LANDMARK), (1200, 50, TOO_MUCH_BONE),
     (10, 150, TOO_FEW_LANDMARK)],
)
def test_filter_counts_and_verdicts_on_a_hand_made_plane(landmark_px, bone_px, verdict):
    planes = hand_made_plane(landmark_px, bone_px, bone_outside_fov=30)
    preset = get_preset("totalsegmentator")
    counts = SliceFilter().counts(planes, AORTA, preset)
    assert counts[0].tolist() == [landmark_px] and counts[1].tolist() == [bone_px]  # outside FOV not counted
    assert SliceFilter().reasons(planes, AORTA, preset) == [verdict]


def test_bone_from_hu_when_the_preset_has_no_bone_labels():
    planes = hand_made_plane(1200, 60)
    btcv = get_preset("btcv")
    assert not btcv.bone_ids
    _, bone = SliceFilter(bone_hu=700.0).counts(planes, AORTA, btcv)
    assert bone.tolist() == [60]
    _, bone = SliceFilter(bone_hu=900.0).counts(planes, AORTA, btcv)
    assert bone.tolist() == [0]
    with pytest.raises(EusaugError, match="bone labels"):
        SliceFilter(bone_rule="labels").counts(planes, AORTA, btcv)


def test_bone_rules_count_different_pixels_on_one_plane():
    """HU (the paper's, default), labels (opt-in) and either, on a plane where they disagree."""
    planes = hand_made_plane(1200, 30)  # 30 px labelled vertebra at 800 HU
    planes.hu[0, 10, :20] = 400.0  # 20 px of unlabelled dense tissue (bone to the HU rule only)
    planes.hu[0, 200, 100:110] = 150.0  # 10 labelled vertebra px of marrow (bone to the label rule only)
    preset = get_preset("totalsegmentator")
    count = {rule: int(SliceFilter(bone_rule=rule).counts(planes, AORTA, preset)[1][0])
             for rule in ("hu", "labels", "either")}
    assert count == {"hu": 20 + 20, "labels": 30, "either": 30 + 20}
    assert SliceFilter().bone_rule == "hu"
    assert SliceFilter(bone_rule="either").reasons(planes, AORTA, preset) == [TOO_MUCH_BONE]
    assert SliceFilter(bone_rule="labels").reasons(planes, AORTA, preset) == [KEPT]
    with pytest.raises(EusaugError, match="bone_rule"):
        SliceFilter(bone_rule="density")


def test_thresholds_scale_with_the_grid():
    small = FieldOfView(height_px=128, width_px=128)
    assert SliceFilter().thresholds(small) == (250.0, 12.5)
    assert SliceFilter(scale_with_grid=False).thresholds(small) == (1000, 50)
    assert SliceFilter.from_dict(SliceFilter(max_bone_px=7).to_dict()) == SliceFilter(max_bone_px=7)
    assert SliceFilter.from_dict(SliceFilter(bone_rule="labels").to_dict()).bone_rule == "labels"
    with pytest.raises(EusaugError):
        SliceFilter(max_bone_px=0)


def test_slice_case_resolves_the_slicer_and_agrees_with_the_reference():
    case = phantom_case()
    poses = np.stack([pose_from_axes([0.0, -19.0, 0.0], [0, -1, 0], [1, 0, 0]),
                      pose_from_axes([5.0, -18.0, 3.0], [0.1, -1, 0.2], [0, 0, 1])])
    fov = FieldOfView(height_px=128, width_px=128)
    planes = slice_case(case, poses, fov)
    reference = reference_slice(case, poses, fov)
    assert np.abs(planes.hu - reference.hu).max() < 0.05
    assert (planes.labels != reference.labels).mean() < 1e-4
    np.testing.assert_array_equal(planes.mask, reference.mask)
    instance = Registry().create("slicer", "plane")
    np.testing.assert_array_equal(slice_case(case, poses, fov, slicer=instance).hu, planes.hu)
    with pytest.raises(EusaugError, match="No slicer plugin named 'nope'"):
        slice_case(case, poses, fov, slicer="nope")
