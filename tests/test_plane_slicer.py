"""The bundled ``plane`` slicer: reference agreement, sector mask, windowing, volume reuse."""

from __future__ import annotations

import numpy as np
import pytest
from eusaug_plugins.plane_slicer import PlaneSlicer
from stomach_phantom import AORTA, phantom_case

from eusaug.geometry.field_of_view import FieldOfView, pose_from_axes
from eusaug.geometry.planes import HUWindow, reference_slice
from eusaug.plugin.registry import Registry


def poses_around_stomach() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([pose_from_axes(rng.uniform(-20, 20, 3), rng.normal(size=3), rng.normal(size=3))
                     for _ in range(10)])


def test_registered_as_default_slicer():
    assert Registry().get("slicer") is PlaneSlicer


@pytest.mark.parametrize("workers", [1, 2])
def test_agrees_with_reference_slice(workers):
    case = phantom_case()
    poses = poses_around_stomach()
    fov = FieldOfView()
    planes = PlaneSlicer(workers=workers).slice(case, poses, fov)
    reference = reference_slice(case, poses, fov)
    assert planes.hu.shape == (10, 256, 256) and planes.hu.dtype == np.float32
    assert planes.labels.dtype == case.labels.ids.dtype
    assert np.abs(planes.hu - reference.hu).max() < 0.05
    assert (planes.labels != reference.labels).mean() < 1e-4
    assert (planes.labels == AORTA).any()


@pytest.mark.parametrize("fov", [FieldOfView(), FieldOfView(kind="rectangle", width_mm=40, depth_mm=50)])
def test_sector_mask_has_the_expected_area(fov):
    planes = PlaneSlicer().slice(phantom_case(), poses_around_stomach()[:2], fov)
    area = planes.mask.sum(axis=(1, 2)) * fov.pixel_mm**2
    np.testing.assert_allclose(area, fov.area_mm2(), rtol=0.02)
    np.testing.assert_array_equal(planes.mask[1], fov.mask())


def test_windowed_planes_are_in_unit_range_and_dark_outside_the_sector():
    planes = PlaneSlicer().slice(phantom_case(), poses_around_stomach()[:3], FieldOfView())
    image = planes.windowed(HUWindow(level=40, width=400))
    assert image.dtype == np.float32 and image.min() >= -1 and image.max() <= 1
    assert (image[~planes.mask] == -1).all()
    # Window [-160, 240] HU maps linearly onto [-1, 1] inside the sector.
    expected = np.clip((planes.hu + 160.0) / 200.0 - 1.0, -1, 1)
    np.testing.assert_allclose(image[planes.mask], expected[planes.mask], atol=1e-6)
    assert (np.abs(planes.hu - 45.0) < 0.5).any()  # aorta interior is in view, mid-window


def test_one_slicer_serves_several_cases():
    """The prepared volume is reused for the same case and rebuilt for another."""
    slicer = PlaneSlicer()
    with_aorta, without = phantom_case(), phantom_case(with_aorta=False)
    poses = poses_around_stomach()[:4]
    fov = FieldOfView(height_px=64, width_px=64)
    first = slicer.slice(with_aorta, poses, fov)
    second = slicer.slice(without, poses, fov)
    again = slicer.slice(with_aorta, poses, fov)
    assert (first.labels == AORTA).any() and not (second.labels == AORTA).any()
    np.testing.assert_array_equal(first.hu, again.hu)
    np.testing.assert_array_equal(second.hu, PlaneSlicer().slice(without, poses, fov).hu)


def test_no_poses_gives_an_empty_batch():
    planes = PlaneSlicer().slice(phantom_case(), np.zeros((0, 4, 4)), FieldOfView(height_px=32, width_px=32))
    assert planes.hu.shape == (0, 32, 32) and len(planes) == 0
