"""One subject split governs the whole run: held-out subjects never reach any training input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from eusaug.ct.sample_case import sample_ct_path, sample_labels_path
from eusaug.errors import EusaugError
from eusaug.pipeline import run_reproduce
from eusaug.pipeline.split import split_frames

LANDMARKS = ("aorta", "liver", "pancreas")
SUBJECTS = ("a", "b", "c", "d")
HELD_OUT = "d"

TINY = {
    "preset": "fast", "label_preset": "totalsegmentator", "landmarks": list(LANDMARKS), "image_size_px": 64,
    "planes_per_case": 8, "synth_per_case": 8, "cyclegan_epochs": 1, "ratios": [0, 0.5], "weights": "none",
    "cyclegan_overrides": {"ngf": 8, "ndf": 8, "n_blocks": 1, "denoiser_steps": 20, "denoiser_filters": 8,
                           "denoiser_depth": 3, "crop_margin_px": 8, "pool_size": 4},
    "classifier_overrides": {"epochs": 1}, "test_subjects": [HELD_OUT],
}


def _frames(root: Path) -> Path:
    """Frames named like the shared set: subject letter(s) then a number, one folder per landmark."""
    rng = np.random.default_rng(0)
    for k, landmark in enumerate(LANDMARKS):
        (root / landmark).mkdir(parents=True)
        for subject in SUBJECTS:
            for i in range(3):
                pixels = (rng.random((96, 96)) * (60 + 60 * k)).astype(np.uint8)
                Image.fromarray(pixels).save(root / landmark / f"{subject}{k}{i}.png")
    return root


def _subject(path: str | Path) -> str:
    return Path(path).name[0]


@pytest.fixture(scope="module")
def split_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("split")
    ct_dir = base / "ct"
    ct_dir.mkdir()
    shutil.copy(sample_ct_path(), ct_dir / "case_ct.nii.gz")
    shutil.copy(sample_labels_path(), ct_dir / "case_labels.nii.gz")
    config = base / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    run_reproduce(ct_dir, _frames(base / "eus"), base / "run", config=config)
    return base / "run"


def test_the_split_is_recorded(split_run: Path) -> None:
    split = json.loads((split_run / "real" / "split.json").read_text())
    assert split["test_subjects"] == [HELD_OUT] and split["train_subjects"] == ["a", "b", "c"]
    assert json.loads((split_run / "run.json").read_text())["split"]["test_subjects"] == [HELD_OUT]
    assert "held-out subjects" in (split_run / "report.html").read_text()


def test_no_held_out_frame_reaches_cyclegan_training(split_run: Path) -> None:
    for landmark in LANDMARKS:
        trained_on = sorted(p.name for p in (split_run / "real" / "cyclegan_train" / landmark).iterdir())
        assert trained_on and {_subject(n) for n in trained_on} == {"a", "b", "c"}
        inputs = json.loads((split_run / f"cyclegan-{landmark}" / "config.json").read_text())
        assert Path(inputs["inputs"]["eus_dir"]).resolve() == (split_run / "real" / "cyclegan_train" / landmark).resolve()


def test_classifier_trains_on_training_subjects_and_tests_on_held_out_ones(split_run: Path) -> None:
    with open(split_run / "classifier" / "sweep" / "predictions.csv", newline="") as handle:
        tested = {_subject(row["image"]) for row in csv.DictReader(handle)}
    assert tested == {HELD_OUT}
    for manifest in (split_run / "mix" / "sets").rglob("manifest.csv"):
        with open(manifest, newline="") as handle:
            real = [r["source"] for r in csv.DictReader(handle) if r["synthetic"] == "false"]
        assert real and HELD_OUT not in {_subject(p) for p in real}


def test_fid_is_reported_against_training_and_held_out_subjects(split_run: Path) -> None:
    for translator in ("cyclegan", "raysim"):
        train_ref = split_run / "fid" / translator / "fid.json"
        held_ref = split_run / "fid" / f"{translator}-heldout" / "fid.csv"
        assert train_ref.is_file() and held_ref.is_file()
    with open(split_run / "real" / "train.csv", newline="") as handle:
        assert HELD_OUT not in {_subject(r["path"]) for r in csv.DictReader(handle)}
    html = (split_run / "report.html").read_text()
    assert "held-out subjects" in html and "training subjects" in html


def test_a_finished_run_drops_its_resume_checkpoints_and_keeps_its_generators(split_run: Path) -> None:
    dropped = json.loads((split_run / "run.json").read_text())["dropped_resume_checkpoints"]
    assert dropped["deleted_checkpoints"] >= len(LANDMARKS) and dropped["freed_mb"] > 0
    assert not list(split_run.rglob("variables.npz"))
    for landmark in LANDMARKS:
        assert (split_run / f"cyclegan-{landmark}" / "generator_ct2eus.keras").stat().st_size > 0


def test_the_guard_stops_a_stage_whose_inputs_hold_a_held_out_frame(split_run: Path) -> None:
    """Plant a held-out frame where the liver CycleGAN learns from; rerunning that stage must refuse."""
    target = split_run / "real" / "cyclegan_train" / "liver"
    shutil.copy(next((split_run.parent / "eus" / "liver").glob(f"{HELD_OUT}*.png")), target / "d_planted.png")
    (split_run / "cyclegan-liver" / ".stage.json").unlink()
    with pytest.raises(EusaugError, match="held-out subject.*d"):
        run_reproduce(split_run.parent / "ct", split_run.parent / "eus", split_run, config=split_run.parent / "tiny.yaml")
    (target / "d_planted.png").unlink()


def test_split_frames_draws_whole_subjects() -> None:
    frames = {"liver": [Path(f"{s}{i}.png") for s in "abcde" for i in range(3)]}
    split = split_frames(frames, None, 0.4, seed=3, subject_pattern=r"^([a-z])")
    assert len(split.test_subjects) == 2 and split.drawn and split.by_subject
    held = set(split.test_subjects)
    assert {p.name[0] for p in split.test["liver"]} == held
    assert not held & {p.name[0] for p in split.train["liver"]}
    with pytest.raises(EusaugError, match="held-out"):
        split.guard("training", [Path(f"{sorted(held)[0]}9.png")])
    split.guard("training", split.train["liver"])  # the training side passes


def test_the_classifier_trains_on_exactly_the_mix_stage_files(split_run: Path) -> None:
    """One mix: every model's training images are the files of the mixed set the mix stage wrote."""
    from eusaug.mix import read_mix_manifest

    with open(split_run / "classifier" / "sweep" / "training.csv", newline="") as handle:
        trained = list(csv.DictReader(handle))
    for ratio in ("0", "0.5"):
        on_disk = read_mix_manifest(split_run / "mix" / "sets" / f"ratio_{ratio}" / "manifest.csv")
        mine = [row for row in trained if row["model"] == f"ratio_{ratio}"]
        assert sorted((Path(r["image"]).resolve(strict=False), r["class"], r["source"]) for r in mine) == sorted(
            (row.output_path.resolve(strict=False), row.class_name, row.source) for row in on_disk)
        assert all(Path(r["image"]).is_relative_to(split_run / "mix" / "sets") for r in mine)
