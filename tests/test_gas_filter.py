"""The gas pose filter: views through bowel gas are rejected, others kept."""

from __future__ import annotations

import numpy as np
import pytest

from eusaug import EusaugError, FieldOfView, get_preset, pose_from_axes, reference_slice
from eusaug.ct.volume import CTCase, CTVolume, LabelMap
from eusaug.geometry import KEPT, TOO_MUCH_GAS, SliceFilter
from eusaug.poses import sample_poses, slice_case

FOV = FieldOfView(kind="sector", depth_mm=80.0, opening_deg=60.0, probe_radius_mm=10.0, height_px=64, width_px=64)
FILTER = SliceFilter(min_landmark_px=10, scale_with_grid=False)


def gas_case() -> CTCase:
    """A 50 mm soft-tissue body in air, a liver ball at its centre and a gas pocket in front of it (+y)."""
    n, step = 60, 2.0
    affine = np.diag([step, step, step, 1.0])
    affine[:3, 3] = -60.0
    x, y, z = (np.mgrid[:n, :n, :n] * step - 60.0 + 0.0)
    body = x**2 + y**2 + z**2 < 50.0**2
    liver = x**2 + y**2 + z**2 < 14.0**2
    gas = x**2 + (y - 30.0) ** 2 + z**2 < 9.0**2
    hu = np.where(body, 40.0, -1000.0)
    hu[gas] = -1000.0
    hu[liver] = 60.0
    liver_id = get_preset("totalsegmentator").ids["liver"]
    labels = np.where(liver, liver_id, 0).astype(np.int16)
    return CTCase(CTVolume(hu.astype(np.float32), affine), LabelMap(labels, affine), get_preset("totalsegmentator"))


def test_a_view_through_the_gas_pocket_is_rejected_and_one_beside_it_kept() -> None:
    case = gas_case()
    liver_id = case.label_preset.ids["liver"]
    through = pose_from_axes(np.array([0.0, 49.0, 0.0]), np.array([0.0, -1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    beside = pose_from_axes(np.array([49.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    planes = reference_slice(case, np.stack([through, beside]), FOV)
    shadow = planes.gas_shadow_fraction()
    assert shadow[0] > 0.3 and shadow[1] == 0.0
    assert FILTER.reasons(planes, liver_id, case.label_preset) == [TOO_MUCH_GAS, KEPT]
    # The air between the probe and the skin (outside the body) is no gas.
    off_skin = pose_from_axes(np.array([58.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    assert reference_slice(case, off_skin[None], FOV).gas_shadow_fraction()[0] == 0.0
    assert SliceFilter(max_gas_shadow_fraction=1.0).gas_of(planes) is None


def test_the_skin_sampler_keeps_only_views_with_little_gas_shadow() -> None:
    case = gas_case()
    kept = sample_poses(case, "liver", 12, seed=0, fov=FOV, sampler="skin-surface", slice_filter=FILTER,
                        sampler_options={"max_from_anterior_deg": 180.0})
    shadows = slice_case(case, kept.poses, FOV).gas_shadow_fraction()
    # skin-surface's own 1 % limit replaces the slice filter's tenth.
    assert shadows.max() <= 0.01 < FILTER.max_gas_shadow_fraction
    # The poses file records the limits the views were held to, not the filter handed in.
    assert (kept.slice_filter.max_gas_shadow_fraction, kept.slice_filter.max_outside_fraction) == (0.01, 0.02)
    anyway = sample_poses(case, "liver", 12, seed=0, fov=FOV, sampler="skin-surface", slice_filter=FILTER,
                          sampler_options={"max_from_anterior_deg": 180.0, "max_gas_shadow_fraction": 1.0})
    assert slice_case(case, anyway.poses, FOV).gas_shadow_fraction().max() > FILTER.max_gas_shadow_fraction
    assert anyway.slice_filter.max_gas_shadow_fraction == 1.0


def test_a_skin_sampler_gas_limit_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(EusaugError, match="max_gas_shadow_fraction=2.0 must be in"):
        sample_poses(gas_case(), "liver", 2, seed=0, fov=FOV, sampler="skin-surface",
                     sampler_options={"max_gas_shadow_fraction": 2.0})


def test_a_gas_limit_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(EusaugError, match="max_gas_shadow_fraction"):
        SliceFilter(max_gas_shadow_fraction=1.5)
