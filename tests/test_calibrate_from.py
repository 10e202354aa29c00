"""``--calibrate-from FRAMES`` on ``eusaug train`` (hybrid) and ``eusaug poses``: fitted, kept, recorded, used."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_clean_error, invoke
from eusaug_plugins.cyclegan.hybrid import HybridTranslator
from eusaug_plugins.raysim import PRESETS, RaySim
from eusaug_plugins.raysim.calibration import phantom_planes
from PIL import Image

from eusaug import FieldOfView, Registry, load_case, reference_slice, sample_ct_path, sample_labels_path
from eusaug.io import unit_to_uint8
from eusaug.poses import load_poses, recorded_calibration
from eusaug.poses.sampling import sample_poses, save_poses

#: The tiny CycleGAN of tests/test_cli_train.py: one epoch takes seconds.
TINY = ["--image-size-px", "32", "--ngf", "8", "--n-blocks", "1", "--precision", "fp32", "--no-denoiser",
        "--option", "ndf=8", "--option", "n_disc_layers=2", "--option", "crop_margin_px=4", "--option", "pool_size=2",
        "--val-planes", "0"]
#: The frames' "scanner": far from the eus preset, so a calibration visibly changes raysim's images.
SCANNER = replace(PRESETS["eus"], psf_axial_mm=0.9, psf_lateral_mm=2.0, dynamic_range_db=50.0, white_db=45.0,
                  tgc_db_cm_mhz=1.2, label_preset=None, ct_smoothing_mm=0.0)
FRAME_FOV = FieldOfView(kind="sector", depth_mm=60.0, opening_deg=60.0, probe_radius_mm=20.0, height_px=96,
                        width_px=112)


def write_frames(folder: Path, seed: int) -> Path:
    folder.mkdir()
    images = RaySim(**SCANNER.to_dict()).translate(phantom_planes(FRAME_FOV, n=3), np.random.default_rng(seed))
    for k, unit in enumerate(images):
        Image.fromarray(unit_to_uint8(unit)).save(folder / f"f{k}.png")
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("calibrate_from")
    case = load_case(sample_ct_path(), sample_labels_path())
    poses = save_poses(root / "liver.json", sample_poses(case, "liver", 4, seed=2, fov=FieldOfView(height_px=32,
                                                                                                 width_px=32)))
    (root / "empty").mkdir()
    return {"root": root, "poses": poses, "frames": write_frames(root / "frames", 5),
            "other": write_frames(root / "other", 6), "empty": root / "empty"}


def train_args(inputs: dict[str, Path], run_dir: Path, *more: object) -> list[object]:
    return ["--quiet", "train", "--ct", sample_ct_path(), "--labels", sample_labels_path(), "--poses", inputs["poses"],
            "--eus", inputs["frames"], "--landmark", "liver", "-o", run_dir, *more]


def liver_planes(inputs: dict[str, Path]):
    case = load_case(sample_ct_path(), sample_labels_path())
    return reference_slice(case, load_poses(inputs["poses"]).poses[:2], FieldOfView(height_px=32, width_px=32))


def test_train_calibrates_the_hybrid_records_it_and_synth_uses_it(inputs, tmp_path, monkeypatch) -> None:
    seen: list[bytes] = []
    source_fn = HybridTranslator.training_source_fn.__func__

    def spy(cls, run_dir, sources, registry, calibration=None, **settings):
        seen.append(Path(calibration).read_bytes() if calibration is not None else b"")
        return source_fn(cls, run_dir, sources, registry, calibration=calibration, **settings)

    monkeypatch.setattr(HybridTranslator, "training_source_fn", classmethod(spy))
    run_dir = tmp_path / "run"
    result = invoke(*train_args(inputs, run_dir, "--translator", "hybrid", "--preset", "fast", "--epochs", "2",
                                "--stop-after", "1", "--calibrate-from", inputs["frames"], *TINY))
    assert result.exit_code == 0, result.output
    calibration = run_dir / "raysim_calibration.json"
    record = json.loads(calibration.read_text())
    assert record["kind"] == "eusaug-raysim-calibration" and record["frames"] == str(inputs["frames"].resolve())
    assert record["preset"] == "eus"  # the hybrid's preset for a 60 mm fan
    assert record["fitted_on"].endswith(" CT planes")  # the training poses' anatomy, not a phantom
    assert json.loads((run_dir / "hybrid.json").read_text())["raysim_calibration"] == "raysim_calibration.json"
    assert json.loads((run_dir / "config.json").read_text())["config"]["raysim_calibration"] == "raysim_calibration.json"
    assert seen == [calibration.read_bytes()]  # the training images were simulated with it
    assert not list(tmp_path.glob(".*calibration*"))

    # The training source is calibrated raysim: the same images as raysim with the file, not the preset's.
    planes = liver_planes(inputs)
    calibrated = source_fn(HybridTranslator, run_dir, [planes], None, calibration=calibration)(planes)
    plain = source_fn(HybridTranslator, run_dir, [planes], None)(planes)
    with_file = RaySim(preset="eus", calibration=str(calibration)).translate(planes, np.random.default_rng(0))
    np.testing.assert_array_equal(calibrated, with_file)
    assert np.abs(calibrated - plain).mean() > 0.05

    # synth --model RUN loads the run's calibration and says so in synth.json.
    out = tmp_path / "seus"
    made = invoke("--quiet", "synth", "--ct", sample_ct_path(), "--labels", sample_labels_path(), "--landmark", "liver",
                  "--translator", "hybrid", "--model", run_dir, "-n", 2, "-o", out)
    assert made.exit_code == 0, made.output
    raysim = json.loads((out / "synth.json").read_text())["translator"]["raysim"]
    assert raysim["calibration"] == str(calibration)
    assert raysim["calibration_record"]["fitted"] == pytest.approx(record["fitted"])
    assert raysim["psf_axial_mm"] == pytest.approx(record["fitted"]["psf_axial_mm"])

    # Resuming with the same frames reuses the run's calibration (no second fit); other frames are refused.
    monkeypatch.setattr(RaySim, "calibrate", classmethod(lambda cls, *a, **k: pytest.fail("refitted on resume")))
    again = invoke(*train_args(inputs, run_dir, "--translator", "hybrid", "--calibrate-from", inputs["frames"]))
    assert again.exit_code == 0, again.output
    assert len(seen) == 2 and seen[1] == calibration.read_bytes()
    other = invoke(*train_args(inputs, run_dir, "--translator", "hybrid", "--calibrate-from", inputs["other"]))
    assert_clean_error(other, "--calibrate-from", "resumed run keeps it", "--force")

    # A moved run folder still finds its calibration; an older run's absolute path is still read.
    moved = shutil.move(str(run_dir), str(tmp_path / "moved"))
    loaded = Registry().translator("hybrid").load(Path(moved))
    assert loaded.raysim.params.calibration == str(Path(moved) / "raysim_calibration.json")
    assert loaded.raysim.params.psf_lateral_mm == pytest.approx(record["fitted"]["psf_lateral_mm"])
    hybrid_json = Path(moved) / "hybrid.json"
    hybrid_json.write_text(json.dumps({"raysim_preset": "eus",
                                       "raysim_calibration": str(Path(moved) / "raysim_calibration.json")}))
    old_style = Registry().translator("hybrid").load(Path(moved))
    assert old_style.raysim.params.white_db == pytest.approx(record["fitted"]["white_db"])


def test_the_option_takes_a_calibration_file_and_the_run_keeps_a_copy(inputs, tmp_path) -> None:
    given = RaySim.calibrate(inputs["other"], tmp_path / "mine.json", "eus")
    run_dir = tmp_path / "run"
    result = invoke(*train_args(inputs, run_dir, "--translator", "hybrid", "--preset", "fast", "--epochs", "1",
                                "--option", f"raysim_calibration={given}", *TINY))
    assert result.exit_code == 0, result.output
    assert (run_dir / "raysim_calibration.json").read_bytes() == given.read_bytes()
    assert json.loads((run_dir / "config.json").read_text())["config"]["raysim_calibration"] == "raysim_calibration.json"
    both = invoke(*train_args(inputs, tmp_path / "both", "--translator", "hybrid", "--calibrate-from", inputs["frames"],
                              "--option", f"raysim_calibration={given}"))
    assert_clean_error(both, "give one of them")


def test_a_new_hybrid_run_calibrates_to_its_own_frames_unless_told_none(inputs, tmp_path) -> None:
    run_dir = tmp_path / "run"
    result = invoke(*train_args(inputs, run_dir, "--translator", "hybrid", "--preset", "fast", "--epochs", "1", *TINY))
    assert result.exit_code == 0, result.output
    record = json.loads((run_dir / "raysim_calibration.json").read_text())
    assert record["frames"] == str(inputs["frames"].resolve()) and record["fitted_on"].endswith(" CT planes")
    assert json.loads((run_dir / "hybrid.json").read_text())["raysim_calibration"] == "raysim_calibration.json"
    # The fit moved raysim to the frames' brightness: its images show their level and depth slope.
    simulated, frames = record["simulated_statistics"], record["statistics"]
    assert abs(simulated["level"] - frames["level"]) < 0.06
    assert abs(simulated["depth_slope_per_cm"] - frames["depth_slope_per_cm"]) < 0.03
    assert abs(record["fitted"]["white_db"] - PRESETS["eus"].white_db) > 5

    plain = tmp_path / "plain"
    result = invoke(*train_args(inputs, plain, "--translator", "hybrid", "--preset", "fast", "--epochs", "1",
                                "--option", "raysim_calibration=none", *TINY))
    assert result.exit_code == 0, result.output
    assert not (plain / "raysim_calibration.json").exists()
    assert "raysim_calibration" not in json.loads((plain / "hybrid.json").read_text())
    assert json.loads((plain / "config.json").read_text())["config"]["raysim_calibration"] is None
    assert Registry().translator("hybrid").load(plain).raysim.params.calibration is None

    # A calibrated run cannot be resumed uncalibrated, nor none given beside frames.
    refused = invoke(*train_args(inputs, run_dir, "--translator", "hybrid", "--option", "raysim_calibration=none"))
    assert_clean_error(refused, "raysim_calibration=none", "calibrated raysim images", "--force")
    both = invoke(*train_args(inputs, tmp_path / "both", "--translator", "hybrid", "--calibrate-from",
                              inputs["frames"], "--option", "raysim_calibration=none"))
    assert_clean_error(both, "give one of them")


def test_resume_of_a_missing_run_stops_before_any_default_fit(inputs, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(RaySim, "calibrate", classmethod(lambda cls, *a, **k: pytest.fail("fitted before the error")))
    missing = invoke(*train_args(inputs, tmp_path / "none", "--translator", "hybrid", "--resume", *TINY))
    assert_clean_error(missing, "no run to resume")


def test_the_fit_on_a_runs_own_frames_leaves_its_validation_subject_out(tmp_path) -> None:
    from eusaug_plugins.cyclegan.hybrid import validation_left_out
    from eusaug_plugins.cyclegan.hybrid_calibration import run_calibration
    from eusaug_plugins.cyclegan.kinds import HYBRID

    folder = tmp_path / "frames"
    folder.mkdir()
    for subject, seed in (("a", 5), ("b", 6)):
        for k, unit in enumerate(RaySim(**SCANNER.to_dict()).translate(phantom_planes(FRAME_FOV, n=3),
                                                                        np.random.default_rng(seed))):
            Image.fromarray(unit_to_uint8(unit)).save(folder / f"{subject}{k}.png")
    keep = validation_left_out(HYBRID.resolve("fast", val_subjects="b"))
    kept, note = keep(sorted(folder.glob("*.png")))
    assert [p.name for p in kept] == ["a0.png", "a1.png", "a2.png"] and "b" in note
    with run_calibration(tmp_path / "run", {}, folder, "eus", keep=keep) as calibration:
        record = json.loads(calibration.content)
    assert record["count"] == 3 and record["frames"] == str(folder.resolve()) and "validation subject" in record["left_out"]
    # Validation off: every frame is fitted, and the record says nothing was left out.
    with run_calibration(tmp_path / "run", {}, folder, "eus",
                         keep=validation_left_out(HYBRID.resolve("fast", val_planes=0))) as calibration:
        record = json.loads(calibration.content)
    assert record["count"] == 6 and "left_out" not in record


def test_a_run_trained_uncalibrated_refuses_a_calibration_on_resume(inputs, tmp_path) -> None:
    from eusaug_plugins.cyclegan.hybrid_calibration import run_calibration
    from eusaug_plugins.cyclegan.runfolder import CONFIG_FILE, RUN_FORMAT, RUN_FORMAT_VERSION

    from eusaug import EusaugError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / CONFIG_FILE).write_text(json.dumps({"format": RUN_FORMAT, "format_version": RUN_FORMAT_VERSION,
                                                   "config": {"epochs": 3}}))
    with pytest.raises(EusaugError, match="uncalibrated raysim images"):
        with run_calibration(run_dir, {}, inputs["frames"], "eus"):
            pass
    with run_calibration(run_dir, {"epochs": 4}, None, "eus") as kept:
        assert kept.source is None and kept.overrides == {"epochs": 4} and kept.recorded is None


def test_calibrate_from_refuses_translators_without_raysim_and_bad_frames(inputs, tmp_path) -> None:
    cyclegan = invoke(*train_args(inputs, tmp_path / "a", "--calibrate-from", inputs["frames"], *TINY))
    assert_clean_error(cyclegan, "--calibrate-from", "cyclegan", "--translator hybrid")
    assert not (tmp_path / "a").exists()
    empty = invoke(*train_args(inputs, tmp_path / "b", "--translator", "hybrid", "--calibrate-from", inputs["empty"],
                               *TINY))
    assert_clean_error(empty, str(inputs["empty"]), "holds no")
    assert not (tmp_path / "b").exists()
    poses = invoke("--quiet", "poses", "--ct", sample_ct_path(), "--labels", sample_labels_path(), "--landmark",
                   "liver", "-n", 2, "-o", tmp_path / "p.json", "--calibrate-from", inputs["empty"])
    assert_clean_error(poses, str(inputs["empty"]), "holds no")
    assert not list(tmp_path.glob("p*.json"))


def test_poses_calibration_is_recorded_and_synth_uses_it(inputs, tmp_path, monkeypatch) -> None:
    poses = tmp_path / "views.json"
    made = invoke("--quiet", "poses", "--ct", sample_ct_path(), "--labels", sample_labels_path(), "--landmark",
                  "liver", "-n", 2, "--fov-size", "96x96", "-o", poses, "--calibrate-from", inputs["frames"])
    assert made.exit_code == 0, made.output
    calibration = tmp_path / "views.calibration.json"
    record = json.loads(calibration.read_text())
    assert record["frames"] == str(inputs["frames"].resolve()) and record["preset"] == "eus"
    assert record["fitted_on"] == "2 CT planes"  # the anatomy of the poses just sampled, not a phantom
    assert json.loads(poses.read_text())["raysim_calibration"] == "views.calibration.json"
    assert recorded_calibration(poses) == calibration
    monkeypatch.chdir(tmp_path)  # a poses file named relative to the working folder still gives an absolute path
    assert recorded_calibration(poses.name) == calibration.resolve()

    common = ["synth", "--poses", poses, "--landmark", "liver", "--translator", "raysim", "-n", 2, "--seed", 3]
    used = invoke(*common, "-o", tmp_path / "from_poses")
    assert used.exit_code == 0, used.output
    said = "".join(used.output.split())  # the console wraps long lines, paths too
    assert f"raysim:usingthecalibrationrecordedin{poses}:{calibration}" in said, used.output
    explicit = invoke("--quiet", *common, "--option", f"calibration={calibration}", "-o", tmp_path / "explicit")
    assert explicit.exit_code == 0, explicit.output
    plain = invoke("--quiet", *common, "--option", "calibration=none", "-o", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    for name in ("seus_0000.png", "seus_0001.png"):
        a, b, c = (np.asarray(Image.open(tmp_path / d / name)) for d in ("from_poses", "explicit", "plain"))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    settings = json.loads((tmp_path / "from_poses" / "synth.json").read_text())
    assert settings["calibration_from_poses"] == str(calibration)
    assert settings["translator"]["calibration_record"]["fitted"] == pytest.approx(record["fitted"])
    assert "calibration_from_poses" not in json.loads((tmp_path / "explicit" / "synth.json").read_text())


def test_poses_files_without_a_calibration_still_read(inputs) -> None:
    raw = json.loads(inputs["poses"].read_text())
    assert "raysim_calibration" not in raw  # files without one are written as before
    assert load_poses(inputs["poses"]).raysim_calibration is None
    assert recorded_calibration(inputs["poses"]) is None
