"""The examples run on the embedded sample alone: no ../shared frames, no trained model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))


def test_demo_data_is_raysim_class_folders_of_the_landmarks(tmp_path, examples_on_path):
    from demo_data import LANDMARKS, raysim_sets

    sets = raysim_sets(tmp_path, {"real": 2, "synthetic": 3})
    assert set(sets) == {"real", "synthetic"}
    for split, n in (("real", 2), ("synthetic", 3)):
        assert sorted(p.name for p in sets[split].iterdir()) == sorted(LANDMARKS)
        for landmark in LANDMARKS:
            images = sorted((sets[split] / landmark).glob("*.png"))
            assert len(images) == n
            with Image.open(images[0]) as image:
                assert image.mode == "L" and min(image.size) >= 32
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("raysim_")]  # scratch removed


def test_albumentations_example_runs_without_shared_data(tmp_path, examples_on_path, monkeypatch, capsys):
    import albumentations_swap

    grid = tmp_path / "grid.png"
    monkeypatch.setattr(sys, "argv", ["albumentations_swap.py", "-n", "40", "-o", str(grid)])
    albumentations_swap.main()
    out = capsys.readouterr().out
    assert "class liver:" in out and "round trip gives the same output: True" in out
    assert grid.is_file()
