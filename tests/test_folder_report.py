"""``eusaug report RUN_DIR``: the report of a train run, a synth folder and a pipeline run."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_clean_error, invoke

from eusaug.ct.sample_case import sample_ct_path, sample_labels_path
from eusaug.errors import EusaugError
from eusaug.io import progress, write_png
from eusaug.pipeline import build_folder_report, folder_kind, write_folder_report
from eusaug.translate import synthesize


@pytest.fixture(autouse=True)
def _quiet():
    progress.set_quiet(True)
    yield
    progress.set_quiet(False)


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="data:image/png;base64,', page)


def _train_run(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"translator": "cyclegan", "landmark": "liver", "preset": "fast", "config": {"epochs": 3, "lambda_cycle": 10.0},
         "inputs": {"n_eus": 12}}))
    _write_csv(folder / "losses.csv", [
        {"epoch": e, "train_generator": 2.0 / e, "val_generator": 2.5 / e, "train_cycle": 1.0 / e, "val_cycle": ""}
        for e in (1, 2)])
    grid = np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (32, 1))
    write_png(folder / "samples" / "epoch-0002.png", grid)
    return folder


def test_a_train_run_shows_its_losses_samples_and_config(tmp_path) -> None:
    run = _train_run(tmp_path / "run")
    assert folder_kind(run) == "train"
    page = write_folder_report(run).read_text()
    assert "<title>eusaug train: cyclegan (liver)</title>" in page
    assert "Trained 2 of 3 epochs" in page
    assert "losses.csv: the last 2 of 2 epochs" in page and "<td class=\"num\"><span class=\"nb\">1.25</span>" in page
    assert "drawn from losses.csv" in page  # no losses.png: the figure is drawn from the CSV
    assert "epoch-0002" in page and len(_images(page)) == 2  # the loss figure and the last sample grid
    assert "<dt>lambda_cycle</dt><dd>10</dd>" in page and "<dt>n_eus</dt><dd>12</dd>" in page


def test_a_synth_folder_shows_a_contact_sheet(tmp_path) -> None:
    out = tmp_path / "synth"
    synthesize(sample_ct_path(), "liver", 6, out, labels=sample_labels_path(), translator="raysim", seed=5,
               batch_size=3)
    assert folder_kind(out) == "synth"
    page = build_folder_report(out).to_html()
    assert len(_images(page)) == 4  # 6 images: one whole row of 4, no empty cells
    assert "not available" not in page and "seus_0000\u20130003" in page
    assert "6 images of liver by raysim (seed 5)" in page
    assert "seus_<wbr>0005.png" in page  # the manifest's rows (file names may wrap after _)
    assert "<dt>seed</dt><dd>5</dd>" in page and "Field of view" in page


def test_a_pipeline_run_gets_the_run_report(tmp_path) -> None:
    run = tmp_path / "demo"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "title": "eusaug demo", "config": {"landmarks": ["liver", "aorta"], "cyclegan_preset": "fast", "minutes": 5},
        "cases": [{"name": "sample", "ct": "ct.nii.gz", "labels": "labels.nii.gz"}], "eus_dir": None,
        "weights": "random", "weights_note": "No ImageNet weights: FID is not comparable.",
        "split": {}, "versions": {"cpu": "test CPU", "eusaug": "0"}, "timings_s": {"poses": 1.5},
        "reused_stages": [], "total_s": 12.0}))
    _write_csv(run / "mix" / "counts.csv", [{"ratio": 0.25, "class": "liver", "real": 8, "synthetic": 3}])
    (run / "cyclegan-liver").mkdir()
    (run / "cyclegan-liver" / "config.json").write_text(json.dumps({"config": {"epochs": 4}}))
    _write_csv(run / "cyclegan-liver" / "losses.csv", [{"epoch": 1, "train_generator": 1.0}])
    assert folder_kind(run) == "pipeline"
    page = write_folder_report(run, tmp_path / "elsewhere.html").read_text()
    assert "<title>eusaug demo</title>" in page and "12 s on test CPU" in page
    assert "No ImageNet weights: FID is not comparable." in page
    assert "Training set composition per ratio" in page
    assert re.search(r"<td>liver</td><td class=\"num\"><span class=\"nb\">1</span></td>"
                     r"<td class=\"num\"><span class=\"nb\">4</span></td><td>time budget</td>", page)
    assert not (run / "report.html").exists()


def test_the_cli_writes_atomically_and_refuses_to_overwrite(tmp_path) -> None:
    run = _train_run(tmp_path / "run")
    result = invoke("report", run)
    assert result.exit_code == 0, result.output
    assert (run / "report.html").is_file() and str(run / "report.html") in result.output
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []  # no temporary file left behind
    assert_clean_error(invoke("report", run), "report.html already exists", "--force")
    again = invoke("report", run, "--force", "-o", tmp_path / "copy.html")
    assert again.exit_code == 0, again.output
    assert (tmp_path / "copy.html").read_text().startswith("<!DOCTYPE html>")


def test_a_folder_of_no_run_is_one_clear_error(tmp_path) -> None:
    assert_clean_error(invoke("report", tmp_path), str(tmp_path), "run.json", "synth.json")
    assert_clean_error(invoke("report", tmp_path / "missing"), "does not exist")
    (tmp_path / "synth.json").write_text("{not json")
    with pytest.raises(EusaugError, match="synth.json cannot be read"):
        build_folder_report(tmp_path)
