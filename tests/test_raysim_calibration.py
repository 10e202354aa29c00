"""raysim calibration: images made with known parameters give those parameters back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from eusaug_plugins.raysim import PRESETS, RaySim
from eusaug_plugins.raysim.calibration import (
    calibrate,
    fit_params,
    phantom_planes,
    read_calibration,
    write_calibration,
)
from eusaug_plugins.raysim.frame_stats import measure_frames
from PIL import Image

from eusaug import EusaugError, FieldOfView
from eusaug.io import unit_to_uint8

#: A small fan, so a fit (a dozen simulations) takes seconds.
FOV = FieldOfView(kind="sector", depth_mm=60.0, opening_deg=60.0, probe_radius_mm=20.0, height_px=120, width_px=140)
#: The "scanner" the frames come from: none of these equal the preset the fit starts from.
TRUE = replace(PRESETS["eus"], psf_axial_mm=0.6, psf_lateral_mm=1.4, dynamic_range_db=55.0, white_db=50.0,
               tgc_db_cm_mhz=0.9, label_preset=None, ct_smoothing_mm=0.0)


def frames_of(params, seed: int, n: int = 4) -> np.ndarray:
    sim = RaySim(**params.to_dict())
    return np.stack([unit_to_uint8(u) for u in sim.translate(phantom_planes(FOV, n=n), np.random.default_rng(seed))])


def test_fit_recovers_known_parameters() -> None:
    target = measure_frames(frames_of(TRUE, seed=1), FOV)
    fitted = fit_params(target, FOV, PRESETS["eus"], seed=7)
    # Tolerances: speckle statistics of 4 small frames vary by a few percent between seeds.
    assert fitted.psf_axial_mm == pytest.approx(TRUE.psf_axial_mm, rel=0.2)
    assert fitted.psf_lateral_mm == pytest.approx(TRUE.psf_lateral_mm, rel=0.2)
    assert fitted.dynamic_range_db == pytest.approx(TRUE.dynamic_range_db, rel=0.15)
    assert fitted.white_db == pytest.approx(TRUE.white_db, abs=4.0)
    assert fitted.tgc_db_cm_mhz == pytest.approx(TRUE.tgc_db_cm_mhz, abs=0.15)


def test_different_speckle_gives_different_grain() -> None:
    fine = measure_frames(frames_of(replace(TRUE, psf_axial_mm=0.3, psf_lateral_mm=0.8), seed=2), FOV)
    coarse = measure_frames(frames_of(replace(TRUE, psf_axial_mm=1.0, psf_lateral_mm=2.5), seed=2), FOV)
    assert coarse.axial_corr_mm > 1.5 * fine.axial_corr_mm
    assert coarse.lateral_corr_mm > 1.5 * fine.lateral_corr_mm


def test_calibration_file_round_trip_through_the_option(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(frames_of(TRUE, seed=3, n=3)):
        Image.fromarray(frame).save(folder / f"f{k}.png")
    record = calibrate(folder, preset="eus", depth_mm=FOV.depth_mm)
    assert record["frames"] == str(folder.resolve()) and record["count"] == 3
    path = write_calibration(tmp_path / "calibration.json", record)
    fitted = read_calibration(path)
    sim = RaySim(calibration=str(path))
    assert sim.params.psf_axial_mm == pytest.approx(fitted["psf_axial_mm"])
    assert sim.get_config()["calibration"] == str(path)
    # An option given beside the file still wins.
    assert RaySim(calibration=str(path), white_db="33").params.white_db == 33.0
    assert fitted["psf_lateral_mm"] == pytest.approx(TRUE.psf_lateral_mm, rel=0.3)


def test_a_file_that_is_no_calibration_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(EusaugError, match="not a raysim calibration"):
        RaySim(calibration=str(bad))
    with pytest.raises(EusaugError, match="not found"):
        RaySim(calibration=str(tmp_path / "missing.json"))


def test_cli_synth_calibrates_raysim_and_records_it(abdomen_ct, abdomen_labels, tmp_path: Path) -> None:
    import json

    from cli_helpers import invoke

    folder = tmp_path / "frames"
    folder.mkdir()
    fov = FieldOfView(kind="sector", depth_mm=60.0, opening_deg=60.0, probe_radius_mm=20.0, height_px=96, width_px=112)
    sim = RaySim(**TRUE.to_dict())
    for k, unit in enumerate(sim.translate(phantom_planes(fov, n=3), np.random.default_rng(5))):
        Image.fromarray(unit_to_uint8(unit)).save(folder / f"f{k}.png")
    out = tmp_path / "seus"
    result = invoke("--quiet", "synth", "--ct", abdomen_ct, "--labels", abdomen_labels, "--landmark", "liver",
                    "-n", 2, "--translator", "raysim", "-o", out, "--fov-from", folder, "--calibrate-from", folder)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "calibration.json").read_text())
    assert record["count"] == 3 and record["frames"] == str(folder.resolve())
    assert record["fitted_on"] == "16 CT planes"  # sampled on the CT with the seed, not a phantom
    settings = json.loads((out / "synth.json").read_text())
    translator = settings.get("translator_config") or settings.get("translator")
    text = json.dumps(settings)
    assert "calibration_record" in text and str(folder.resolve()) in text, translator
    assert not list(tmp_path.glob(".*calibration*"))  # the working copy is gone
    assert str((out / "calibration.json").resolve()) in text  # synth.json names the kept file, not the working copy


def test_fit_on_ct_planes_recovers_known_parameters() -> None:
    """Fitted on the CT anatomy itself (vessels, interfaces, shadows), the fit gives back the
    scanner that made the frames, interface gain included, and its images show the frames' statistics."""
    from eusaug_plugins.raysim.calibration import planes_statistics

    from eusaug import load_case, sample_ct_path, sample_labels_path
    from eusaug.poses import calibration_planes, sample_poses

    case = load_case(sample_ct_path(), sample_labels_path())
    poses = sample_poses(case, "liver", 4, seed=0, fov=FOV)
    planes = calibration_planes(case, poses.poses, FOV)
    scanner = replace(PRESETS["eus"], psf_axial_mm=0.6, psf_lateral_mm=1.4, dynamic_range_db=55.0, white_db=50.0,
                      tgc_db_cm_mhz=0.9, reflection_gain=3000.0)
    frames = RaySim(**scanner.to_dict()).translate(planes, np.random.default_rng(1))
    target = measure_frames(np.stack([unit_to_uint8(u) for u in frames]), FOV)
    fitted = fit_params(target, FOV, PRESETS["eus"], seed=7, planes=planes)
    assert fitted.psf_lateral_mm == pytest.approx(scanner.psf_lateral_mm, rel=0.3)
    assert fitted.dynamic_range_db == pytest.approx(scanner.dynamic_range_db, rel=0.2)
    assert fitted.white_db == pytest.approx(scanner.white_db, abs=5.0)
    assert fitted.tgc_db_cm_mhz == pytest.approx(scanner.tgc_db_cm_mhz, abs=0.2)
    # The brightest 0.5 % of a few small planes pins the interface gain to within a factor of two.
    assert scanner.reflection_gain / 2 < fitted.reflection_gain < scanner.reflection_gain * 2
    got = planes_statistics(fitted, planes, seed=11)
    assert got.interface_contrast == pytest.approx(target.interface_contrast, abs=0.1)
    assert got.level == pytest.approx(target.level, abs=0.05)


def test_a_calibration_keeps_the_preset_it_was_fitted_with(tmp_path: Path) -> None:
    """Fitted values are relative to their preset (TGC per MHz): raysim starts from the
    calibration's preset, and refuses another rather than mixing them silently."""
    import json

    record = {"kind": "eusaug-raysim-calibration", "frames": "f", "count": 1, "preset": "abdominal",
              "fitted": {"tgc_db_cm_mhz": 0.3, "white_db": 61.0}}
    path = tmp_path / "abdominal.json"
    path.write_text(json.dumps(record))
    sim = RaySim(calibration=str(path))
    assert sim.params.frequency_mhz == PRESETS["abdominal"].frequency_mhz
    assert sim.params.tgc_db_cm_mhz == 0.3 and sim.params.white_db == 61.0
    assert RaySim(calibration=str(path), preset="abdominal").params == sim.params
    with pytest.raises(EusaugError, match="fitted with preset abdominal, not eus"):
        RaySim(calibration=str(path), preset="eus")
    assert RaySim().params.frequency_mhz == PRESETS["eus"].frequency_mhz  # no calibration: eus, as before


def test_calibrate_picks_the_preset_for_the_planes_fan(tmp_path: Path) -> None:
    """No preset named (``poses``/``synth --calibrate-from``): a deep transabdominal fan is
    fitted from ``abdominal``, an echoendoscope's from ``eus``; synth then simulates with it."""
    import json

    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(frames_of(TRUE, seed=3, n=2)):
        Image.fromarray(frame).save(folder / f"f{k}.png")
    deep = FieldOfView(kind="sector", depth_mm=150.0, opening_deg=60.0, probe_radius_mm=40.0, height_px=120,
                       width_px=140)
    presets = {}
    for name, fan in (("deep", deep), ("eus", FOV)):
        path = RaySim.calibrate(folder, tmp_path / f"{name}.json", planes=phantom_planes(fan, n=2))
        presets[name] = json.loads(Path(path).read_text())["preset"]
        assert RaySim(calibration=str(path)).params.frequency_mhz == PRESETS[presets[name]].frequency_mhz
    assert presets == {"deep": "abdominal", "eus": "eus"}
