"""``eusaug evaluate``: sub-commands from the registry, results on disk, one-line errors."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import click
import pytest
from cli_helpers import assert_clean_error
from cli_helpers import invoke as run
from click.testing import CliRunner

from eusaug.cli.evaluate_cmd import make_command
from eusaug.plugin.interfaces import EvaluationResult, Evaluator


def _link_frames(frames: Path, folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        os.symlink(frames / name, folder / name)
    return folder


def test_help_lists_the_bundled_evaluators():
    result = run("evaluate", "--help")
    assert result.exit_code == 0, result.output
    for name in ("fid", "classifier", "mcnemar", "gradcam"):
        assert f"  {name} " in result.output, name
    fid_help = run("evaluate", "fid", "--help")
    assert "--controls" in fid_help.output and "-o, --output" in fid_help.output


def test_fid_writes_csv_with_fid_and_kid(us_frames, tmp_path):
    real = _link_frames(us_frames, tmp_path / "A", [f"c{i}.jpg" for i in range(1, 13)])
    synthetic = _link_frames(us_frames, tmp_path / "B", [f"k{i}.jpg" for i in range(1, 13)])
    result = run("evaluate", "fid", "--real", real, "--synthetic", synthetic, "--backbone", "none",
                 "--kid-subsets", "5", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "fid.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["what"], row["n_images"], row["n_images_compared"]) == ("real all", "12", "12")
    assert float(row["fid"]) > 0 and row["kid"] != ""
    assert "FID / KID" in result.output and "fid.csv" in result.output
    again = run("evaluate", "fid", "--real", real, "--synthetic", synthetic, "--backbone", "none",
                "-o", tmp_path / "out")
    assert_clean_error(again, "fid.csv", "--force")
    refuse = run("evaluate", "fid", "--real", real, "--synthetic", synthetic, "--backbone", "none",
                 "--small-sets", "refuse", "-o", tmp_path / "out2")
    assert_clean_error(refuse, "12 images <= 256 feature dimensions", "rank deficient")


def test_fid_bad_inputs_are_one_line(us_frames, tmp_path, monkeypatch):
    good = _link_frames(us_frames, tmp_path / "good", ["c1.jpg", "c2.jpg", "c3.jpg"])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(run("evaluate", "fid", "--real", good, "--synthetic", empty, "--backbone", "none",
                            "-o", tmp_path / "o1"), str(empty), "holds no images")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"\x89PNG garbage")
    (broken / "y.png").write_bytes(b"\x89PNG garbage")
    assert_clean_error(run("evaluate", "fid", "--real", good, "--synthetic", broken, "--backbone", "none",
                            "-o", tmp_path / "o2"), "x.png cannot be read")
    for side, classes in (("real", ("aorta", "liver")), ("synthetic", ("aorta", "pancreas"))):
        for name in classes:
            _link_frames(us_frames, tmp_path / side / name, ["d1.jpg", "d2.jpg"])
    assert_clean_error(run("evaluate", "fid", "--real", tmp_path / "real", "--synthetic", tmp_path / "synthetic",
                            "--backbone", "none", "-o", tmp_path / "o3"), "class sets differ", "only real: liver",
                        "only synthetic: pancreas")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    # Keras' Inception asked for by name: the default is the standard network wherever it is installed.
    assert_clean_error(run("evaluate", "fid", "--real", good, "--synthetic", good, "--preset", "paper",
                           "-o", tmp_path / "o4"),
                        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", "--weights none")


def test_fid_per_class_rows_leave_real_only_classes_out(us_frames, tmp_path):
    for side, classes in (("real", ("aorta", "liver", "background")), ("synthetic", ("aorta", "liver"))):
        for k, name in enumerate(classes):
            start = 1 + 4 * k + (20 if side == "synthetic" else 0)
            _link_frames(us_frames, tmp_path / side / name, [f"j{i}.jpg" for i in range(start, start + 4)])
    result = run("evaluate", "fid", "--real", tmp_path / "real", "--synthetic", tmp_path / "synthetic", "--controls",
                 "--backbone", "none", "--kid-subsets", "3", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "fid.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    pairs = [(r["what"], r["compared_to"], r["n_images"], r["n_images_compared"]) for r in rows]
    assert pairs == [
        ("real aorta (half 1)", "real aorta (half 2)", "2", "2"),
        ("real liver (half 1)", "real liver (half 2)", "2", "2"),
        ("real all (half 1)", "real all (half 2)", "4", "4"),
        ("real all (half 1)", "real all (half 2) + noise sd 0.1", "4", "4"),
        ("real aorta", "synthetic aorta", "4", "4"),
        ("real liver", "synthetic liver", "4", "4"),
        ("real all", "synthetic all", "8", "8"),
    ]
    assert "background" in result.output and "left out" in result.output


def test_mcnemar_missing_predictions_is_one_line(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("model,image,true,predicted\nr0,a.png,liver,liver\nr0,b.png,aorta,aorta\n"
                    "r25,a.png,liver,aorta\n")
    assert_clean_error(run("evaluate", "mcnemar", "--predictions", path, "-o", tmp_path),
                        "'r25' has no prediction", "b.png")
    assert_clean_error(run("evaluate", "mcnemar", "--predictions", tmp_path / "nope.csv", "-o", tmp_path),
                        "nope.csv does not exist")


def test_gradcam_missing_model_is_one_line(tmp_path):
    (tmp_path / "real" / "aorta").mkdir(parents=True)
    assert_clean_error(run("evaluate", "gradcam", "--model", tmp_path / "m.keras", "--real", tmp_path / "real",
                            "-o", tmp_path / "out"), "m.keras does not exist")


def test_any_evaluator_class_becomes_a_command(tmp_path):
    class Counter(Evaluator):
        name = "count"
        description = "Counts files."

        @classmethod
        def cli_params(cls):
            return [click.Option(["--folder"], type=click.Path(path_type=Path), required=True)]

        def evaluate(self, output_dir, **options):
            n = len(list(options["folder"].iterdir()))
            return EvaluationResult("Count", [{"files": n}], [], ["counted"])

    (tmp_path / "a.txt").write_text("x")
    result = CliRunner().invoke(make_command(Counter), ["--folder", str(tmp_path), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Count" in result.output and "counted" in result.output and "1" in result.output


@pytest.mark.parametrize("name", ["classifier", "gradcam", "mcnemar"])
def test_sub_command_help(name):
    result = run("evaluate", name, "--help")
    assert result.exit_code == 0 and "--force" in result.output
