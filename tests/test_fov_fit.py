"""Fitting the field of view to frames, placed fields of view, and the --fov options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import assert_clean_error, invoke
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.geometry import (
    FieldOfView,
    fit_field_of_view,
    fit_frames,
    fit_sector,
    frame_share,
    parse_image_size,
    read_field_of_view,
    resolve_field_of_view,
    sector_mask,
)
from eusaug.io import list_images, read_grey_uint8

# A fan off-centre in a non-square frame, its apex above the image top (a wide convex probe).
TRUE = {"apex_x_px": 170.0, "apex_y_px": -60.0, "opening_deg": 50.0, "inner_radius_px": 90.0,
        "outer_radius_px": 300.0}
SHAPE = (260, 360)


def synthetic_frames(count: int = 24, seed: int = 0) -> list[np.ndarray]:
    """Frames of the TRUE fan: speckle with dark patches, plus a burned-in text box and a marker."""
    rng = np.random.default_rng(seed)
    fan = sector_mask(*SHAPE, TRUE["apex_x_px"], TRUE["apex_y_px"], TRUE["opening_deg"],
                      TRUE["inner_radius_px"], TRUE["outer_radius_px"])
    frames = []
    for _ in range(count):
        frame = rng.integers(5, 200, SHAPE).astype(np.uint8) * fan
        # Anechoic regions move from frame to frame: the share, not one frame, finds the fan.
        y, x = rng.integers(60, 200), rng.integers(80, 260)
        frame[y : y + 40, x : x + 50] = 0
        frame[5:25, 5:90] = 255  # burned-in text, in every frame
        frame[180:183, 250:300] = 255  # a thin marker line touching the fan's edge
        frames.append(frame.astype(np.uint8))
    return frames


def test_fit_recovers_a_known_sector_despite_text_and_noise():
    fit = fit_frames(synthetic_frames())
    assert fit.apex_x_px == pytest.approx(TRUE["apex_x_px"], abs=1.5)
    assert fit.apex_y_px == pytest.approx(TRUE["apex_y_px"], abs=2.0)
    assert fit.opening_deg == pytest.approx(TRUE["opening_deg"], abs=0.5)
    assert fit.inner_radius_px == pytest.approx(TRUE["inner_radius_px"], abs=2.0)
    assert fit.outer_radius_px == pytest.approx(TRUE["outer_radius_px"], abs=2.0)
    assert abs(fit.tilt_deg) < 0.5
    assert (fit.height_px, fit.width_px, fit.n_frames) == (*SHAPE, 24)
    assert fit.iou > 0.98


def test_fit_reports_a_tilted_fan():
    tilted = sector_mask(*SHAPE, 180.0, -40.0, 40.0, 80.0, 280.0, tilt_deg=4.0)
    fit = fit_sector(tilted)
    assert fit.tilt_deg == pytest.approx(4.0, abs=0.5)
    assert fit.opening_deg == pytest.approx(40.0, abs=0.5)


def test_field_of_view_of_a_fit_draws_the_same_fan_in_mm():
    fit = fit_frames(synthetic_frames(8))
    fov = fit.to_field_of_view(depth_mm=105.0)
    pixel = 105.0 / (fit.outer_radius_px - fit.inner_radius_px)
    assert fov.placed and (fov.height_px, fov.width_px) == SHAPE
    assert fov.pixel_size_mm == pytest.approx((pixel, pixel))
    assert fov.probe_radius_mm == pytest.approx(fit.inner_radius_px * pixel)
    truth = sector_mask(*SHAPE, **TRUE)
    mask = fov.mask()
    assert (mask & truth).sum() / (mask | truth).sum() > 0.98
    # A pixel on the beam axis just below the array face is at depth ~0, lateral 0.
    u, v = fov.pixel_coordinates_mm()
    row = int(fit.apex_y_px + fit.inner_radius_px + 0.5)
    col = int(fit.apex_x_px)
    assert abs(u[row, col]) < pixel and abs(v[row, col]) < pixel
    # Placed fields of view survive JSON; half the grid is the same frame at twice the pitch.
    assert FieldOfView.from_dict(json.loads(json.dumps(fov.to_dict()))) == fov
    half = fov.with_grid(SHAPE[0] // 2, SHAPE[1] // 2)
    assert half.pixel_size_mm == pytest.approx((2 * pixel, 2 * pixel))
    assert (half.mask() == mask[::2, ::2]).mean() > 0.99


def test_resampling_a_placed_frame_to_a_square_gives_non_square_pixels():
    fov = FieldOfView().place().with_grid(64, 128)
    row_mm, col_mm = fov.pixel_size_mm
    assert row_mm == pytest.approx(2 * col_mm)
    assert fov.area_mm2() == pytest.approx(fov.mask().sum() * row_mm * col_mm, rel=0.03)


def test_unplaced_fields_of_view_and_old_files_are_unchanged():
    old = {"kind": "sector", "depth_mm": 50.0, "opening_deg": 60.0, "probe_radius_mm": 10.0, "width_mm": 40.0,
           "height_px": 256, "width_px": 256}
    fov = FieldOfView.from_dict(old)
    assert not fov.placed and fov.to_dict() == old
    # place() writes the implicit frame out without moving a pixel.
    u, v = fov.pixel_coordinates_mm()
    u2, v2 = fov.place().pixel_coordinates_mm()
    np.testing.assert_allclose(u2, u, atol=1e-9)
    np.testing.assert_allclose(v2, v, atol=1e-9)
    with pytest.raises(EusaugError, match="partly set"):
        FieldOfView(frame_left_mm=-10.0)


def test_resolver_applies_each_option(tmp_path):
    fov = resolve_field_of_view(depth_mm=80.0, sector_deg=40.0, probe_radius_mm=5.0, image_size="64x96")
    assert (fov.depth_mm, fov.opening_deg, fov.probe_radius_mm, fov.height_px, fov.width_px) == (80, 40, 5, 64, 96)
    placed = FieldOfView().place()
    deeper = resolve_field_of_view(placed, depth_mm=100.0)
    assert deeper.pixel_mm == pytest.approx(2 * placed.pixel_mm)
    np.testing.assert_array_equal(deeper.mask(), placed.mask())
    # A poses-like file holding a field of view is read back.
    path = tmp_path / "poses.json"
    path.write_text(json.dumps({"field_of_view": fov.to_dict(), "poses": []}))
    assert read_field_of_view(path) == fov
    assert resolve_field_of_view(fov_file=path, image_size="32") == fov.with_grid(32, 32)
    assert parse_image_size("480x640") == (480, 640) and parse_image_size("128") == (128, 128)
    with pytest.raises(EusaugError, match="HxW"):
        parse_image_size("480 by 640")
    with pytest.raises(EusaugError, match="not both"):
        resolve_field_of_view(fov_file=path, fov_from=tmp_path)


def test_frames_of_different_sizes_are_refused(tmp_path):
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((40, 60), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(EusaugError, match="one size"):
        frame_share(tmp_path)


# -- the shared real frames ---------------------------------------------------------------
def test_fit_on_real_frames_is_stable_and_covers_them(us_frames):
    paths = list_images(us_frames)
    halves = [fit_frames(paths[0::2]), fit_frames(paths[1::2])]
    a, b = halves
    for name in ("apex_x_px", "apex_y_px", "inner_radius_px", "outer_radius_px"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), abs=2.0), name
    assert a.opening_deg == pytest.approx(b.opening_deg, abs=1.0)
    fit = fit_frames(paths)
    assert 45 < fit.opening_deg < 70 and fit.apex_y_px < 0  # a wide convex probe, apex above the image
    fan = fit.mask()
    covered = total = 0
    for path in paths:
        lit = read_grey_uint8(path) > 4
        covered += int((lit & fan).sum())
        total += int(lit.sum())
    assert covered / total > 0.95


def frames_mask(us_frames) -> np.ndarray:
    share, _ = frame_share(us_frames)
    return share >= 0.5


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_cli_poses_and_slice_cut_planes_in_the_frames_fan(us_frames, abdomen_ct, abdomen_labels, tmp_path):
    poses = tmp_path / "poses.json"
    result = invoke("--quiet", "poses", "--ct", abdomen_ct, "--labels", abdomen_labels, "--landmark", "liver",
                    "-n", 2, "-o", poses, "--fov-from", us_frames, "--depth-mm", 143)
    assert result.exit_code == 0, result.output
    fov = FieldOfView.from_dict(json.loads(poses.read_text())["field_of_view"])
    assert fov.depth_mm == 143 and (fov.height_px, fov.width_px) == (480, 640)
    assert iou(fov.mask(), frames_mask(us_frames)) > 0.9
    # slice with the fan given again (here from the poses file itself), on a smaller grid.
    out = tmp_path / "slices"
    result = invoke("--quiet", "slice", "--ct", abdomen_ct, "--labels", abdomen_labels, "--poses", poses,
                    "-o", out, "--fov", poses, "--fov-size", "240x320")
    assert result.exit_code == 0, result.output
    written = read_grey_uint8(next((out / "images").iterdir()))
    assert written.shape == (240, 320)
    sliced = FieldOfView.from_dict(json.loads((out / "slices.json").read_text())["poses"]["field_of_view"])
    assert iou(sliced.mask(), frames_mask(us_frames)[::2, ::2]) > 0.9


def test_cli_synth_raysim_in_the_frames_fan(us_frames, abdomen_ct, abdomen_labels, tmp_path):
    out = tmp_path / "seus"
    result = invoke("--quiet", "synth", "--ct", abdomen_ct, "--labels", abdomen_labels, "--landmark", "liver",
                    "-n", 2, "--translator", "raysim", "-o", out, "--fov-from", us_frames)
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "synth.json").read_text())
    fov = FieldOfView.from_dict(settings["field_of_view"])
    real = frames_mask(us_frames)
    assert iou(fov.mask(), real) > 0.9
    for name in ("seus_0000.png", "seus_0001.png"):
        image = read_grey_uint8(out / name)
        assert image.shape == real.shape
        assert image[~fov.mask()].max() == 0  # black outside the fan


def test_cli_rejects_bad_fov_options(tmp_path):
    result = invoke("poses", "--landmark", "liver", "-o", tmp_path / "p.json", "--fov-size", "12xx")
    assert_clean_error(result, "12xx", "HxW")
    result = invoke("poses", "--landmark", "liver", "-o", tmp_path / "p.json", "--fov-from", tmp_path)
    assert_clean_error(result, str(tmp_path), "frames")
    result = invoke("poses", "--landmark", "liver", "-o", tmp_path / "p.json", "--probe", "eus-linear")
    assert_clean_error(result, "--probe eus-linear", "--fov-from")


def test_fit_field_of_view_uses_the_probe_depth(tmp_path):
    for k, frame in enumerate(synthetic_frames(4)):
        Image.fromarray(frame).save(tmp_path / f"f{k}.png")
    fov = fit_field_of_view(tmp_path)
    assert fov.depth_mm == 150.0
    assert fit_field_of_view(tmp_path, probe="eus-linear").depth_mm == 60.0
    with pytest.raises(EusaugError, match="probe type"):
        fit_field_of_view(tmp_path, probe="radial")


def test_run_config_field_of_view(tmp_path):
    from eusaug.pipeline.run_config import RunConfig, RunContext

    config = RunConfig.from_dict({"field_of_view": {"sector_deg": 40.0, "depth_mm": 70.0}, "image_size_px": 64})
    context = RunContext(config, tmp_path, [], None, None, "", "", 0.0, "")  # type: ignore[arg-type]
    fov = context.fov
    assert (fov.opening_deg, fov.depth_mm, fov.height_px, fov.width_px) == (40.0, 70.0, 64, 64)
    assert RunContext(RunConfig(image_size_px=64), tmp_path, [], None, None, "", "", 0.0, "").fov == FieldOfView(
        height_px=64, width_px=64)  # type: ignore[arg-type]
    with pytest.raises(EusaugError, match="field_of_view"):
        RunConfig(field_of_view={"opening": 40})
    with pytest.raises(EusaugError, match="--eus"):
        _ = RunContext(RunConfig(field_of_view={"fov_from": "eus"}), tmp_path, [], None, None, "", "", 0.0, "").fov


@pytest.mark.parametrize("patches", [False, True], ids=["square-grid", "patch-training"])
def test_cli_train_fov_from_gives_cyclegan_seus_in_the_frames_fan(tmp_path, patches):
    """Poses, CycleGAN training and synthesis all in the fan fitted to the frames; sEUS black outside it.

    With patch training the sEUS also have the frames' own size and pixels.
    """
    from eusaug import sample_ct_path, sample_labels_path

    frames = tmp_path / "frames"
    frames.mkdir()
    for k, frame in enumerate(synthetic_frames(12)):
        Image.fromarray(frame).save(frames / f"a{k:02d}.png")
    ct = ["--ct", sample_ct_path(), "--labels", sample_labels_path()]
    fov = ["--fov-from", frames, "--depth-mm", 60]
    poses = tmp_path / "poses.json"
    made = invoke("--quiet", "poses", *ct, "--landmark", "liver", "-n", 4, "--min-landmark-px", 50, *fov, "-o", poses)
    assert made.exit_code == 0, made.output
    run = tmp_path / "run"
    trained = invoke("--quiet", "train", *ct, "--poses", poses, "--eus", frames, "--landmark", "liver", *fov,
                     "--preset", "fast", "--epochs", "1", "--image-size-px", "32", "--ngf", "8", "--n-blocks", "1",
                     "--precision", "fp32", "--no-denoiser", "--set", "ndf=8", "--set", "n_disc_layers=2",
                     "--set", "crop_margin_px=4", "--set", "pool_size=2", "--set", f"patch_training={patches}",
                     "-o", run)
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "seus"
    synth = invoke("--quiet", "synth", *ct, "--landmark", "liver", "--model", run, "-n", 2, "-o", out)
    assert synth.exit_code == 0, synth.output
    used = FieldOfView.from_dict(json.loads((out / "synth.json").read_text())["field_of_view"])
    fitted = fit_field_of_view(frames, depth_mm=60)
    if patches:
        assert used == fitted  # the frames' grid itself: same size, same fan
        assert read_grey_uint8(out / "seus_0000.png").shape == SHAPE
        assert read_grey_uint8(out / "seus_0000.png")[used.mask()].std() > 0
        return
    assert used.opening_deg == pytest.approx(fitted.opening_deg) and (used.height_px, used.width_px) == (32, 32)
    fan = np.asarray(Image.fromarray(fitted.mask().astype(np.uint8) * 255).resize((32, 32), Image.NEAREST)) > 0
    assert iou(used.mask(), fan) > 0.85
    for name in ("seus_0000.png", "seus_0001.png"):
        assert read_grey_uint8(out / name)[~used.mask()].max() == 0  # no echo outside the fan
