"""Off a terminal (nohup, a scheduler, ``| cat``) long work logs one plain line per stage."""

from __future__ import annotations

import re

import pytest
from cli_helpers import invoke

from eusaug.ct.sample_case import sample_ct_path, sample_labels_path
from eusaug.io import progress


@pytest.fixture(autouse=True)
def _not_quiet():
    progress.set_quiet(False)
    yield
    progress.set_quiet(False)


@pytest.fixture
def no_gap(monkeypatch):
    """As if every step took longer than MIN_GAP_S, as real epochs do."""
    monkeypatch.setattr(progress, "MIN_GAP_S", 0.0)


def _lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_a_task_over_epochs_logs_a_line_per_epoch(capsys, no_gap) -> None:
    with progress.make_progress() as bar:
        task = bar.add_task("epoch 1/4", total=4)
        for _ in range(4):
            bar.advance(task)
    lines = _lines(capsys.readouterr().err, "epoch 1/4:")
    assert [line.split(":", 1)[1].split(",")[0].strip() for line in lines] == [
        "1/4 (25%)", "2/4 (50%)", "3/4 (75%)", "4/4 (100%)"]
    assert all(re.search(r"\d+:\d\d:\d\d elapsed, \d+:\d\d:\d\d left$", line) for line in lines), lines


def test_a_renamed_task_says_how_each_stage_ended(capsys) -> None:
    """As the CycleGAN's one bar over all steps: renamed each epoch, a line per epoch at least."""
    with progress.make_progress() as bar:
        task = bar.add_task("epoch 1/3", total=3000, info="")
        for epoch in range(3):
            bar.update(task, description=f"epoch {epoch + 1}/3")
            for _ in range(1000):
                bar.advance(task)
                bar.update(task, info="G 0.5")
    err = capsys.readouterr().err
    for epoch in (1, 2, 3):
        assert f"epoch {epoch}/3: {epoch}000/3000" in err, err
    assert len(err.splitlines()) <= 12  # about every tenth, never per step
    assert err.splitlines()[-1].endswith("G 0.5")


def test_details_in_parentheses_are_not_stages(capsys, no_gap) -> None:
    """The pose sampler renames its task with the draws so far at every update: no line for each."""
    with progress.make_progress() as bar:
        task = bar.add_task("liver poses", total=1000)
        for kept in range(1, 1001):
            bar.update(task, completed=kept, description=f"liver poses ({4 * kept} draws)")
    lines = _lines(capsys.readouterr().err, "liver poses")
    assert len(lines) == 10 and lines[-1].startswith("liver poses (4000 draws): 1000/1000 (100%)"), lines


def test_thousands_of_items_log_about_every_tenth(capsys, no_gap) -> None:
    assert sum(1 for _ in progress.track(range(5000), "images")) == 5000
    lines = _lines(capsys.readouterr().err, "images:")
    assert [int(line.split()[1].split("/")[0]) for line in lines] == list(range(500, 5001, 500))


def test_every_line_is_recognised_as_a_progress_line(capsys, no_gap) -> None:
    """So a command's one-line error can be told from the progress before it."""
    with progress.make_progress() as bar:
        draws = bar.add_task("draws", total=2_000_000)
        for _ in range(10):
            bar.advance(draws, 200_000)
        task = bar.add_task("unknown length", total=None)
        bar.advance(task, 2.5)
    with progress.status("loading"):
        pass
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 13 and "draws: 2000000/2000000 (100%)" in lines[9], lines
    assert all(progress.is_log_line(line) for line in lines), lines
    assert not progress.is_log_line("Error: CT x.nii.gz is not a readable NIfTI file: check or re-export it.")


def test_quick_work_says_only_how_it_ended(capsys) -> None:
    """Fast steps (well within MIN_GAP_S) give one line, however many there were."""
    list(progress.track(range(20), "denoiser steps"))
    list(progress.track(range(5000), "loading images"))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == ["denoiser steps: 20/20 (100%)", "loading images: 5000/5000 (100%)"]


def test_quiet_silences_the_lines(capsys) -> None:
    progress.set_quiet(True)
    list(progress.track(range(10), "images"))
    with progress.status("loading"):
        pass
    assert capsys.readouterr().err == ""


def test_status_logs_start_and_end(capsys) -> None:
    with progress.status("loading the CT"):
        pass
    assert _lines(capsys.readouterr().err, "loading the CT") == ["loading the CT ...",
                                                                  "loading the CT: done in 0:00:00"]


def test_synth_without_a_terminal_logs_its_stages(tmp_path, no_gap) -> None:
    """A real ``eusaug synth --translator raysim`` under CliRunner (no terminal): per-stage lines."""
    out = tmp_path / "synth"
    result = invoke("synth", "--ct", sample_ct_path(), "--labels", sample_labels_path(), "--landmark", "liver",
                    "--translator", "raysim", "--n-images", 4, "--batch-size", 2, "--seed", 3, "-o", out)
    assert result.exit_code == 0, result.output
    synth = _lines(result.stderr, "synthesising:")
    assert [line.split()[1] for line in synth] == ["1/2", "2/2"], result.stderr
    assert len(_lines(result.stderr, "liver poses")) == 1, result.stderr  # 4 poses, one line at the end
    quiet = invoke("--quiet", "synth", "--ct", sample_ct_path(), "--labels", sample_labels_path(), "--landmark",
                   "liver", "--translator", "raysim", "--n-images", 4, "--batch-size", 2, "--seed", 3,
                   "-o", tmp_path / "quiet")
    assert quiet.exit_code == 0, quiet.output
    assert _lines(quiet.stderr, "synthesising:") == []
