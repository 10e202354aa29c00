"""``eusaug mix`` end to end, on copies of the shared US frames, and its one-line errors."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_clean_error
from cli_helpers import invoke as run
from PIL import Image


def tree_hashes(*roots: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def frame_sets(tmp_path_factory, us_frames) -> tuple[Path, Path]:
    """REAL = 3 classes x 20 frames, SYN = 3 classes x 30 frames, copies in a tmp dir.

    Classes are subjects (the file name's letter); the 'synthetic' frames are other
    subjects' frames: the counts, not the pixels, are under test.
    """
    root = tmp_path_factory.mktemp("frames")
    frames = sorted(us_frames.glob("*.jpg"))
    by_subject = {s: sorted(p for p in frames if p.name.startswith(s)) for s in "cdejk"}
    for name, subject in zip(("c", "d", "e"), "cde"):
        (root / "REAL" / name).mkdir(parents=True)
        for p in by_subject[subject][:20]:
            shutil.copy(p, root / "REAL" / name / p.name)
    donors = by_subject["j"][:30], by_subject["j"][30:60], by_subject["k"][:30]
    for name, paths in zip(("c", "d", "e"), donors):
        (root / "SYN" / name).mkdir(parents=True)
        for p in paths:
            shutil.copy(p, root / "SYN" / name / p.name)
    return root / "REAL", root / "SYN"


def manifest(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_done_when_half_replace_on_us_frames(frame_sets, tmp_path):
    real, syn = frame_sets
    before = tree_hashes(real, syn)
    out = tmp_path / "OUT"
    result = run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--mode", "replace",
                 "--seed", "0", "-o", out)
    assert result.exit_code == 0, result.output
    for name in ("c", "d", "e"):
        assert len(list((out / name).iterdir())) == 20
    rows = manifest(out)
    assert len(rows) == 60 and sum(r["synthetic"] == "true" for r in rows) == 30
    for name in ("c", "d", "e"):
        assert sum(r["label"] == name and r["synthetic"] == "true" for r in rows) == 10
    assert tree_hashes(real, syn) == before
    assert all((out / r["file_name"]).resolve() == Path(r["source"]).resolve() for r in rows)
    for name in ("c", "d", "e"):
        assert f"│ {name} " in result.output.replace("┃", "│")
    assert "30 synthetic" in result.output


def test_sweep_and_copy(frame_sets, tmp_path):
    real, syn = frame_sets
    out = tmp_path / "SWEEP"
    result = run("mix", "--real", real, "--synthetic", syn, "--ratios", "0,0.25,0.5,0.75", "--copy", "-o", out)
    assert result.exit_code == 0, result.output
    expected = {"ratio_0": 0, "ratio_0.25": 15, "ratio_0.5": 30, "ratio_0.75": 45}
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for folder, n_syn in expected.items():
        rows = manifest(out / folder)
        assert len(rows) == 60 and sum(r["synthetic"] == "true" for r in rows) == n_syn
        assert not any((out / folder / r["file_name"]).is_symlink() for r in rows)


def test_add_mode_and_force(frame_sets, tmp_path):
    real, syn = frame_sets
    out = tmp_path / "OUT"
    assert run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.25", "-o", out).exit_code == 0
    again = run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--mode", "add", "-o", out)
    assert_clean_error(again, str(out), "--force")
    result = run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--mode", "add", "--force", "-o", out)
    assert result.exit_code == 0, result.output
    rows = manifest(out)
    assert len(rows) == 120 and sum(r["synthetic"] == "true" for r in rows) == 60


def test_mixed_sizes_are_reported(tmp_path):
    for name, size in (("a", (8, 6)), ("b", (16, 12))):
        for side in ("REAL", "SYN"):
            (tmp_path / side / name).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(np.zeros(size[::-1], np.uint8)).save(tmp_path / side / name / f"{i}.png")
    result = run("mix", "--real", tmp_path / "REAL", "--synthetic", tmp_path / "SYN", "--ratio", "0.5",
                 "-o", tmp_path / "OUT")
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "8x6 (4), 16x12 (4)" in " ".join(result.output.split())




@pytest.fixture()
def small(tmp_path):
    for side, n in (("REAL", 4), ("SYN", 3)):
        for name in ("a", "b"):
            (tmp_path / side / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((6, 8), i, np.uint8)).save(tmp_path / side / name / f"{i}.png")
    return tmp_path / "REAL", tmp_path / "SYN"


@pytest.mark.parametrize("ratio, needle", [("1", "outside [0, 1)"), ("-0.1", "outside [0, 1)"),
                                           ("1.5", "outside [0, 1)"), ("half", "not a number")])
def test_bad_ratio(small, tmp_path, ratio, needle):
    real, syn = small
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", ratio, "-o", tmp_path / "O"),
                       needle)
    assert not (tmp_path / "O").exists()


def test_ratio_and_ratios_exclusive(small, tmp_path):
    real, syn = small
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "-o", tmp_path / "O"), "--ratio")
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--ratios", "0,0.5",
                           "-o", tmp_path / "O"), "not both")
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratios", "0,1", "-o", tmp_path / "O"),
                       "'1'")


def test_too_few_synthetic_gives_numbers(small, tmp_path):
    real, syn = small
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--mode", "add",
                           "-o", tmp_path / "O"), "'a' needs 4 but has 3; 'b' needs 4 but has 3")
    assert not (tmp_path / "O").exists()


def test_empty_class_folder(small, tmp_path):
    real, syn = small
    (real / "c").mkdir()
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O"),
                       str(real / "c"), "holds no images")


def test_empty_root_folder(small, tmp_path):
    _, syn = small
    (tmp_path / "EMPTY").mkdir()
    assert_clean_error(run("mix", "--real", tmp_path / "EMPTY", "--synthetic", syn, "--ratio", "0.5",
                           "-o", tmp_path / "O"), "no class sub-folders")


def test_unreadable_image(small, tmp_path):
    real, syn = small
    (syn / "a" / "bad.png").write_bytes(b"\x89PNG broken")
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O"),
                       "bad.png", "cannot be read")


def test_invalid_class_name_in_csv(small, tmp_path):
    real, syn = small
    listing = tmp_path / "real.csv"
    listing.write_text(f"{real / 'a' / '0.png'},a:b\n")
    assert_clean_error(run("mix", "--real", listing, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O"),
                       "'a:b'", "not a valid folder name")


def test_missing_class_error_mode(small, tmp_path):
    real, syn = small
    shutil.rmtree(syn / "b")
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--missing-class", "error",
                           "-o", tmp_path / "O"), "real only: b")
    result = run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O")
    assert result.exit_code == 0 and "'b' has no synthetic images" in " ".join(result.output.split())


def test_output_inside_input(small):
    real, syn = small
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", real / "mixed"),
                       "inside the input folder")
    assert not (real / "mixed").exists()


def test_missing_input(tmp_path):
    assert_clean_error(run("mix", "--real", tmp_path / "nope", "--synthetic", tmp_path, "--ratio", "0.5",
                           "-o", tmp_path / "O"), "nope", "does not exist")


def test_class_names_match_whatever_their_case(small, tmp_path):
    real, syn = small
    (syn / "a").rename(syn / "A")
    result = run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O")
    assert result.exit_code == 0, result.output
    rows = manifest(tmp_path / "O")
    assert sorted({r["label"] for r in rows}) == ["a", "b"]
    assert sum(r["label"] == "a" and r["synthetic"] == "true" for r in rows) == 2
    assert not (tmp_path / "O" / "A").exists()


def test_disjoint_classes_are_one_line_naming_both_lists(small, tmp_path):
    real, syn = small
    (syn / "a").rename(syn / "x")
    (syn / "b").rename(syn / "y")
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O"),
                       "real: a, b", "synthetic: x, y")
    assert not (tmp_path / "O").exists()
    (syn / "y").rename(syn / "X")
    assert_clean_error(run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O"),
                       "'X' and 'x'", "differ only in case")


def _load_through_metadata(folder: Path) -> list[tuple[str, bool, bytes]]:
    """What an ``imagefolder`` reader sees: each file named in metadata.csv, read relative to the set."""
    with open(folder / "metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["file_name", "label", "synthetic", "source"]
    return sorted((r["label"], r["synthetic"] == "true", (folder / r["file_name"]).read_bytes()) for r in rows)


def test_a_mixed_set_travels_with_relative_links_or_copies(small, tmp_path):
    real, syn = small
    linked, copied = tmp_path / "work" / "linked", tmp_path / "work" / "copied"
    assert run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--seed", "3", "-o", linked).exit_code == 0
    assert run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "--seed", "3", "--copy",
               "-o", copied).exit_code == 0
    expected = _load_through_metadata(linked)
    assert {label for label, _, _ in expected} == {"a", "b"} and sum(s for _, s, _ in expected) == 4
    links = [p for p in linked.rglob("*.png")]
    assert links and all(p.is_symlink() and not Path(p.readlink()).is_absolute() for p in links)
    # Move inputs and set together (symlinks kept as links), and the copies alone.
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path, moved, symlinks=True, ignore=shutil.ignore_patterns("elsewhere"))
    for original in (tmp_path / "work", real, syn):
        shutil.rmtree(original)
    assert _load_through_metadata(moved / "work" / "linked") == expected
    alone = tmp_path / "alone"
    shutil.copytree(moved / "work" / "copied", alone, symlinks=True)
    shutil.rmtree(moved)
    assert _load_through_metadata(alone) == expected
    assert not any(p.is_symlink() for p in alone.rglob("*"))


def test_one_mix_checks_its_ratio_once(small, tmp_path, monkeypatch):
    import eusaug.mix.ratios as ratios

    calls: list[object] = []
    original = ratios._checked_value

    def counted(value: object) -> float:
        calls.append(value)
        return original(value)

    monkeypatch.setattr(ratios, "_checked_value", counted)
    real, syn = small
    assert run("mix", "--real", real, "--synthetic", syn, "--ratio", "0.5", "-o", tmp_path / "O").exit_code == 0
    assert calls == ["0.5"]
    calls.clear()
    assert run("mix", "--real", real, "--synthetic", syn, "--ratios", "0,0.25,0.5", "-o", tmp_path / "S").exit_code == 0
    assert calls == ["0", "0.25", "0.5"]
