"""``eusaug train`` and ``eusaug models`` from the command line: a tiny run, and clean errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from eusaug import FieldOfView, load_case, sample_ct_path, sample_labels_path
from eusaug.cli import main
from eusaug.io.images import write_png
from eusaug.poses.sampling import sample_poses, save_poses

TINY = ["--image-size-px", "32", "--ngf", "8", "--n-blocks", "1", "--precision", "fp32", "--no-denoiser",
        "--set", "ndf=8", "--set", "n_disc_layers=2", "--set", "crop_margin_px=4", "--set", "pool_size=2"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli_train")
    case = load_case(sample_ct_path(), sample_labels_path())
    fov = FieldOfView(height_px=32, width_px=32)
    liver = save_poses(root / "liver.json", sample_poses(case, "liver", 4, seed=2, fov=fov))
    frames = root / "eus"
    frames.mkdir()
    for k in range(5):
        write_png(frames / f"{k}.png", np.random.default_rng(k).uniform(-1, 1, (40, 44)).astype(np.float32))
    (root / "empty").mkdir()
    (root / "small").mkdir()
    write_png(root / "small" / "a.png", np.zeros((20, 20), np.float32))
    return {"root": root, "poses": liver, "eus": frames}


def run(*args: str) -> object:
    return CliRunner().invoke(main, ["--quiet", *args])


def base(inputs: dict[str, Path], run_dir: Path, eus: Path | None = None) -> list[str]:
    return ["train", "--ct", str(sample_ct_path()), "--labels", str(sample_labels_path()), "--poses",
            str(inputs["poses"]), "--eus", str(eus or inputs["eus"]), "--landmark", "liver", "-o", str(run_dir)]


def test_tiny_run_trains_registers_and_resumes(inputs, tmp_path) -> None:
    result = run(*base(inputs, tmp_path / "run"), "--preset", "fast", "--epochs", "2", "--stop-after", "1", *TINY)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(tmp_path / "run" / "losses.csv")))
    assert [r["epoch"] for r in rows] == ["1"]
    listing = run("models")
    assert "liver" in listing.output and "cyclegan" in listing.output
    # Running again on the folder resumes it (settings come from the run itself).
    again = run(*base(inputs, tmp_path / "run"), "--resume")
    assert again.exit_code == 0, again.output
    assert [r["epoch"] for r in csv.DictReader(open(tmp_path / "run" / "losses.csv"))] == ["1", "2"]
    forgot = run("models", "--forget", str(tmp_path / "run"))
    assert "forgot 1 entry" in forgot.output


@pytest.mark.parametrize(
    "extra, eus, message",
    [
        (["--set", "ngf=0"], None, "ngf=0 is out of range"),
        (["--set", "colour=1"], None, "Unknown CycleGAN option(s) colour"),
        (["--image-size-px", "30"], None, "image_size_px=30 is out of range"),
        (["--resume"], None, "holds no run to resume"),
        ([], "empty", "holds no images"),
        ([], "missing", "does not exist or is not a folder"),
        (["--image-size-px", "32"], "small", "smaller than the training size 32"),
        (["--poses", "EXTRA"], None, "1 CT volume(s) but 2 poses file(s)"),
        (["--translator", "raysim"], None, "needs no training"),
        (["--resume", "--force"], None, "contradict"),
    ],
)
def test_errors_are_one_line_without_traceback(inputs, tmp_path, extra, eus, message) -> None:
    extra = [str(inputs["poses"]) if e == "EXTRA" else e for e in extra]
    eus_dir = inputs["root"] / eus if eus else None
    result = run(*base(inputs, tmp_path / "run", eus_dir), *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_poses_for_another_landmark_or_ct_are_refused(inputs, tmp_path, abdomen_ct, abdomen_labels) -> None:
    result = run(*base(inputs, tmp_path / "run")[:-4], "--landmark", "aorta", "-o", str(tmp_path / "run"))
    assert result.exit_code == 2 and "sampled for landmark 'liver', not 'aorta'" in result.output
    other = ["train", "--ct", str(abdomen_ct), "--labels", str(abdomen_labels), "--poses", str(inputs["poses"]), "--eus",
             str(inputs["eus"]), "--landmark", "liver", "-o", str(tmp_path / "run")]
    result = run(*other)
    assert result.exit_code == 2 and "made from another volume" in result.output


def test_parse_set_types_values() -> None:
    from eusaug_plugins.cyclegan.config import CycleGANConfig

    from eusaug.plugin import parse_assignments

    assert parse_assignments(("ngf=16", "denoiser=False", "learning_rate=1e-4", "precision=fp32",
                              "decay_start_epoch=none"), CycleGANConfig) \
        == {"ngf": 16, "denoiser": False, "learning_rate": 1e-4, "precision": "fp32", "decay_start_epoch": None}


def test_hybrid_translator_trains_on_raysim_images_and_synthesises(inputs, tmp_path) -> None:
    """``--translator hybrid``: the CycleGAN's source domain is raysim's image of each plane."""
    import json

    from eusaug import Registry, reference_slice
    from eusaug.poses import load_poses

    run_dir = tmp_path / "hybrid"
    result = run("train", *base(inputs, run_dir)[1:], "--translator", "hybrid", "--preset", "fast", "--epochs", "1",
                 *TINY)
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "hybrid.json").read_text())["raysim_preset"] == "eus"  # a 60 mm EUS fan
    # Noise frames have no fan for the default calibration to fit: the run says so and trains uncalibrated.
    assert "raysim not calibrated" in result.output and "raysim_calibration=none" in result.output
    assert not (run_dir / "raysim_calibration.json").exists()
    hybrid = Registry().translator("hybrid").load(run_dir)
    case = load_case(sample_ct_path(), sample_labels_path())
    planes = reference_slice(case, load_poses(inputs["poses"]).poses[:2], FieldOfView(height_px=32, width_px=32))
    raysim = Registry().translator("raysim").load(None, preset="eus")
    np.testing.assert_array_equal(hybrid.source_images(planes, np.random.default_rng(3)),
                                  raysim.translate(planes, np.random.default_rng(3)))
    assert not np.allclose(hybrid.source_images(planes, np.random.default_rng(3)), planes.windowed())
    out = tmp_path / "seus"
    made = run("synth", "--ct", str(sample_ct_path()), "--labels", str(sample_labels_path()), "--landmark", "liver",
               "--translator", "hybrid", "--model", str(run_dir), "-n", "2", "-o", str(out))
    assert made.exit_code == 0, made.output
    settings = json.loads((out / "synth.json").read_text())
    assert settings["translator"]["translator"] == "hybrid" and settings["translator"]["raysim"]["frequency_mhz"] > 0


def test_training_off_a_terminal_logs_each_epoch_and_writes_tensorboard_scalars(inputs, tmp_path) -> None:
    """``eusaug train ... | cat``: one plain line per epoch (no progress bar), and ``--tensorboard`` scalars per epoch."""
    import tensorflow as tf

    board = tmp_path / "board"
    result = CliRunner().invoke(main, [*base(inputs, tmp_path / "run"), "--preset", "fast", "--epochs", "2", *TINY,
                                       "--val-planes", "0", "--tensorboard", str(board)])
    assert result.exit_code == 0, result.output
    epoch_lines = [line for line in result.output.splitlines() if line.startswith(("epoch 1/2", "epoch 2/2"))]
    assert any(line.startswith("epoch 1/2") for line in epoch_lines), result.output
    assert any(line.startswith("epoch 2/2") for line in epoch_lines), result.output
    assert "\x1b[" not in result.output  # plain text, not a terminal's progress bar
    events = sorted(board.glob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    steps: dict[str, list[int]] = {}
    for record in tf.data.TFRecordDataset([str(e) for e in events]):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
            steps.setdefault(value.tag, []).append(int(event.step))
    losses = list(csv.DictReader(open(tmp_path / "run" / "losses.csv")))
    assert sorted(steps["train_cycle"]) == [1, 2] and len(losses) == 2
    assert "learning_rate" in steps and "epoch" not in steps
