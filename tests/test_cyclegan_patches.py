"""Patch training: crops of full-resolution frames and planes, then whole planes translated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ball_phantom import ball_liver_case
from eusaug_plugins.cyclegan.config import resolve_config
from eusaug_plugins.cyclegan.data import PlaneSource, TrainingData, crop_corners, load_eus_frames
from eusaug_plugins.cyclegan.networks import build_generator
from eusaug_plugins.cyclegan.run import train_run
from eusaug_plugins.cyclegan.translator import CycleGANTranslator, any_size_copy, fan_box, translate_in_batches

from eusaug import FieldOfView, pose_from_axes, reference_slice
from eusaug.ct.volume import CTCase
from eusaug.errors import EusaugError
from eusaug.io.images import write_png

PATCHES = dict(image_size_px=16, ngf=4, ndf=4, n_blocks=1, n_disc_layers=2, pool_size=2, denoiser=False,
               patch_training=True, precision="fp32", epochs=1)
#: A wide, shallow grid like real frames' (and not a multiple of 4 wide, to test padding).
FOV = FieldOfView(depth_mm=40, opening_deg=70, height_px=36, width_px=50)


@pytest.fixture(scope="module")
def case() -> CTCase:
    return ball_liver_case()


def sources(case: CTCase) -> list[PlaneSource]:
    rng = np.random.default_rng(0)
    poses = [pose_from_axes(np.array([0.0, 0.0, 30.0]) + rng.normal(0, 2, 3), np.array([0.0, 0.0, -1.0]),
                            np.array([1.0, 0.0, 0.0])) for _ in range(4)]
    return [PlaneSource(case, np.asarray(poses), FOV)]


def write_frames(folder: Path, count: int, shape: tuple[int, int]) -> Path:
    """Frames twice the grid's size, with a bright top half: resizing must keep that layout."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for n in range(count):
        image = np.full(shape, -0.8, np.float32)
        image[: shape[0] // 2] = 0.6
        write_png(folder / f"f{n:02d}.png", image + rng.normal(0, 0.05, shape).astype(np.float32))
    return folder


def test_crop_corners_keep_every_crop_centre_in_the_fan() -> None:
    mask = FOV.mask()
    corners = crop_corners(mask, 16)
    assert len(corners) > 0
    assert corners[:, 0].max() <= 36 - 16 and corners[:, 1].max() <= 50 - 16
    assert mask[corners[:, 0] + 8, corners[:, 1] + 8].all()
    # Corners whose crop centre is outside the fan (the top corners of a sector) are left out.
    assert len(corners) < (36 - 16 + 1) * (50 - 16 + 1)
    with pytest.raises(EusaugError, match="smaller than the 64 px training crops"):
        crop_corners(mask, 64)


def test_patch_data_keeps_the_full_grid_and_crops_inside_it(case, tmp_path) -> None:
    config = resolve_config("fast", **PATCHES)
    frames = load_eus_frames(write_frames(tmp_path / "eus", 6, (72, 100)), config, frame_shape=(36, 50))
    assert frames.images.shape == (6, 36, 50)
    assert frames.images[:, :16].mean() > 150 > frames.images[:, 20:].mean()  # resized, not cropped
    data = TrainingData(sources(case), frames, config, reference_slice)
    assert data.ct_plane(0, 0).shape == (36, 50)  # sliced on the field of view's own grid
    plan = data.plan(0)
    ct, eus, _, _ = data.batch(plan.train[:2])
    assert ct.shape == eus.shape == (2, 16, 16, 1)
    assert {tuple(c) for c in zip(plan.train["ct_y"], plan.train["ct_x"])} <= {tuple(c) for c in data.corners}
    # Two plans of one seed agree; the crops move around the fan.
    again = data.plan(0)
    np.testing.assert_array_equal(plan.train, again.train)
    assert len({tuple(c) for c in zip(plan.train["eus_y"], plan.train["eus_x"])}) > 1


def test_patch_trained_generator_translates_whole_planes_at_their_grid(case, tmp_path) -> None:
    frames = write_frames(tmp_path / "eus", 6, (36, 50))
    run = tmp_path / "run"
    train_run(run, sources(case), frames, "liver", reference_slice, preset="fast", overrides=PATCHES)
    translator = CycleGANTranslator.load(run)
    assert translator.image_size_px is None  # synth slices on the trained field of view's grid
    assert translator.field_of_view == FOV
    planes = reference_slice(case, sources(case)[0].poses[:2], FOV)
    out = translator.translate(planes, np.random.default_rng(0))
    assert out.shape == (2, 36, 50)
    assert np.all(out[:, ~FOV.mask()] == -1.0)  # black outside the fan
    assert out[:, FOV.mask()].std() > 0  # and an image inside it
    assert "full-resolution patches" in CycleGANTranslator.summary(run)


def test_fan_box_bounds_the_mask() -> None:
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    mask[7, 4] = True
    assert fan_box(mask) == (slice(2, 8), slice(3, 9))
    assert fan_box(np.zeros((4, 4), bool)) == (slice(None), slice(None))


def test_a_patch_trained_generator_translates_only_the_fans_box(case) -> None:
    narrow = FieldOfView(depth_mm=40, opening_deg=40, height_px=36, width_px=50)
    rows, cols = fan_box(narrow.mask())
    height, width = rows.stop - rows.start, cols.stop - cols.start
    assert width < 40  # the box leaves columns of the grid out
    config = resolve_config("fast", **PATCHES)
    generator = build_generator(16, 4, 1, dtype="float32", seed=0, upsample=config.upsample)
    translator = CycleGANTranslator(any_size_copy(generator, config), config, field_of_view=narrow)
    forward, seen = translator._forward, []
    translator._forward = lambda batch: (seen.append(batch.shape), forward(batch))[1]
    planes = reference_slice(case, sources(case)[0].poses[:2], narrow)
    out = translator.translate(planes, np.random.default_rng(0))
    assert seen == [(2, height + -height % 4, width + -width % 4, 1)]  # the box, padded to multiples of 4
    alone = translate_in_batches(planes.windowed(translator.window)[:, rows, cols], forward, 8)
    inside = planes.visible[:, rows, cols]
    np.testing.assert_allclose(out[:, rows, cols], np.where(inside, np.clip(alone, -1, 1), -1.0), atol=1e-6)
    assert np.all(out[:, ~narrow.mask()] == -1.0)
    assert out[:, narrow.mask()].std() > 0
