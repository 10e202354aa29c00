"""Planes that leave the CT volume: the inside mask, the slice filter's rule, and black translators."""

from __future__ import annotations

import numpy as np
import pytest
from eusaug_plugins.plane_slicer import PlaneSlicer
from eusaug_plugins.raysim import RaySim
from stomach_phantom import STOMACH, phantom_case

from eusaug.errors import EusaugError
from eusaug.geometry import (
    KEPT,
    TOO_FEW_LANDMARK,
    TOO_MUCH_OUTSIDE,
    FieldOfView,
    Planes,
    SliceFilter,
    pose_from_axes,
    reference_slice,
)

# The phantom spans x in [-60, 58.5] mm. A linear probe at x = 30 mm looking along +x sees
# 28.5 mm of CT: rows 0-56 of this 0.5 mm grid (centres 0.25 ... 28.25 mm), then 43 rows outside.
RECT = FieldOfView(kind="rectangle", depth_mm=50.0, width_mm=20.0, height_px=100, width_px=40)
LEAVING = pose_from_axes([30.0, 0.0, 0.0], [1, 0, 0], [0, 1, 0])
INSIDE = pose_from_axes([-40.0, 0.0, 0.0], [1, 0, 0], [0, 1, 0])


@pytest.fixture(scope="module")
def case():
    return phantom_case()


def test_slicers_report_which_pixels_lie_inside_the_volume(case):
    poses = np.stack([LEAVING, INSIDE])
    fast = PlaneSlicer().slice(case, poses, RECT)
    reference = reference_slice(case, poses, RECT)
    np.testing.assert_array_equal(fast.inside, reference.inside)
    assert fast.inside[0, :57].all() and not fast.inside[0, 57:].any()
    assert fast.inside[1].all()
    np.testing.assert_allclose(fast.outside_fraction(), [0.43, 0.0])
    # Air inside the body is not "outside": the CT's own -1024 HU does not count.
    assert not fast.visible[0, 60:].any() and fast.visible[0, :57].all()


def test_slice_filter_rejects_planes_mostly_outside(case):
    planes = PlaneSlicer().slice(case, np.stack([LEAVING, INSIDE]), RECT)
    lenient = SliceFilter(min_landmark_px=0, max_bone_px=10**6)
    assert lenient.reasons(planes, STOMACH, case.label_preset) == [TOO_MUCH_OUTSIDE, KEPT]
    # Allowing half the fan outside, the leaving plane goes on to the landmark rule (no stomach in it).
    assert SliceFilter(min_landmark_px=0, max_bone_px=10**6, max_outside_fraction=0.5).reasons(
        planes, STOMACH, case.label_preset) == [TOO_FEW_LANDMARK, KEPT]
    assert "outside the CT" in lenient.describe(RECT)
    with pytest.raises(EusaugError, match="max_outside_fraction"):
        SliceFilter(max_outside_fraction=1.5)
    assert SliceFilter.from_dict({"min_landmark_px": 5}).max_outside_fraction == SliceFilter().max_outside_fraction


def uniform_planes(fov: FieldOfView, inside: np.ndarray, hu: float = 40.0) -> Planes:
    shape = (1, fov.height_px, fov.width_px)
    return Planes(np.full(shape, hu, np.float32), np.zeros(shape, np.int16), fov.mask()[None].copy(),
                  np.eye(4)[None], fov, inside=inside[None])


def test_raysim_is_black_outside_the_volume_and_draws_no_edge():
    fov = FieldOfView(kind="rectangle", depth_mm=40.0, width_mm=40.0, height_px=80, width_px=80)
    inside = np.ones((80, 80), bool)
    inside[50:] = False  # the CT ends 25 mm deep
    inside[:, :10] = False  # and a strip at the side
    loud = RaySim(noise_db=0.0)  # a loud noise floor, which TGC would brighten outside
    image = loud.translate(uniform_planes(fov, inside), np.random.default_rng(0))[0]
    assert (image[~inside] == -1.0).all()
    assert (image[inside] > -1.0).mean() > 0.99
    # The volume's end is no interface: above it the image is what a CT going on would give.
    sim = RaySim()
    ending = sim.translate(uniform_planes(fov, inside), np.random.default_rng(1))[0]
    going_on = sim.translate(uniform_planes(fov, np.ones_like(inside)), np.random.default_rng(1))[0]
    # (Ending in -1024 HU instead draws a line +0.16 bright at rows 45-47.)
    row_difference = ending[40:50, 10:].mean(axis=1) - going_on[40:50, 10:].mean(axis=1)
    assert np.abs(row_difference).max() < 0.02
    # Beams leave at 25 mm and carry nothing back: tissue past a gap stays dark-free of echo.
    gap = inside.copy()
    gap[30:40] = False
    after = sim.simulate(uniform_planes(fov, gap), np.random.default_rng(0))
    beyond, before = after.envelope[0][:, 42:], after.envelope[0][:, 20:28]
    assert beyond.mean() < 0.2 * before.mean()


def test_cyclegan_output_is_black_outside_the_volume():
    keras = pytest.importorskip("keras")
    from eusaug_plugins.cyclegan.config import CycleGANConfig
    from eusaug_plugins.cyclegan.translator import CycleGANTranslator

    generator = keras.Sequential([
        keras.Input((None, None, 1)),
        keras.layers.Conv2D(1, 1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(0.5)),
    ])
    fov = FieldOfView(height_px=32, width_px=32)
    inside = np.ones((32, 32), bool)
    inside[20:] = False
    translator = CycleGANTranslator(generator, CycleGANConfig(image_size_px=32))
    out = translator.translate(uniform_planes(fov, inside), np.random.default_rng(0))[0]
    visible = fov.mask() & inside
    assert np.allclose(out[visible], 0.5) and (out[~visible] == -1.0).all()
