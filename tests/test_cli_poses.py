"""``eusaug poses`` and ``eusaug slice`` end to end, and their one-line errors."""

from __future__ import annotations

import csv
import json

import nibabel as nib
import numpy as np
import pytest
from cli_helpers import assert_clean_error
from cli_helpers import invoke as run
from stomach_phantom import write_phantom


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    return write_phantom(tmp_path_factory.mktemp("ras"))


def poses_args(ct, labels, out, *extra):
    return ("poses", "--ct", ct, "--labels", labels, "--landmark", "aorta", "-n", 4, "--seed", 1, "-o", out, *extra)


def test_poses_then_slice(tmp_path, phantom):
    ct, labels = phantom
    result = run(*poses_args(ct, labels, tmp_path / "poses.json", "--cone-deg", 20, "--plot", tmp_path / "p.png"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "poses.json").read_text())
    assert len(data["poses"]) == 4 and data["cone_deg"] == 20 and data["seed"] == 1
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = run("slice", "--ct", ct, "--labels", labels, "--poses", tmp_path / "poses.json", "-o", tmp_path / "s")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "s" / "manifest.csv") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["kept"] * 4
    assert len(list((tmp_path / "s" / "images").glob("*.png"))) == 4


def test_same_seed_same_file(tmp_path, phantom):
    for name in ("a.json", "b.json"):
        assert run(*poses_args(*phantom, tmp_path / name)).exit_code == 0
    a, b = (json.loads((tmp_path / n).read_text())["poses"] for n in ("a.json", "b.json"))
    assert a == b


def test_existing_output_needs_force(tmp_path, phantom):
    out = tmp_path / "poses.json"
    out.write_text("keep me")
    assert_clean_error(run(*poses_args(*phantom, out)), "already exists", "--force")
    assert out.read_text() == "keep me"
    assert run(*poses_args(*phantom, out, "--force")).exit_code == 0
    assert json.loads(out.read_text())["format"] == "eusaug-poses"


def test_poses_errors_are_one_line_and_write_nothing(tmp_path, phantom):
    ct, labels = phantom
    no_aorta = write_phantom(tmp_path / "no_aorta", with_aorta=False)
    no_stomach = write_phantom(tmp_path / "no_stomach", with_stomach=False)
    small = tmp_path / "small_labels.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.int16), np.eye(4)), str(small))
    out = tmp_path / "poses.json"
    assert_clean_error(run(*poses_args(*no_aorta, out)), "'aorta'", "absent")
    assert_clean_error(run(*poses_args(*no_stomach, out)), "No stomach")
    assert_clean_error(run(*poses_args(ct, small, out)), "shape")
    assert_clean_error(run(*poses_args(ct, labels, out, "--max-draws", 5)),
                       "in 5 draws", "landmark not in view", "too much bone")
    assert_clean_error(run("poses", "--ct", ct, "--labels", labels, "--landmark", "spleen", "-o", out), "spleen")
    assert not out.exists()


def test_slice_errors_are_one_line(tmp_path, phantom):
    ct, labels = phantom
    poses = tmp_path / "poses.json"
    assert run(*poses_args(ct, labels, poses)).exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert_clean_error(run("slice", "--ct", ct, "--labels", labels, "--poses", bad, "-o", tmp_path / "s"), "bad.json")
    las = write_phantom(tmp_path / "las", "LAS")
    result = run("slice", "--ct", las[0], "--labels", las[1], "--poses", poses, "-o", tmp_path / "s")
    assert_clean_error(result, "another volume", "--force")
    assert not (tmp_path / "s").exists()
    result = run("slice", "--ct", las[0], "--labels", las[1], "--poses", poses, "-o", tmp_path / "s", "--force")
    assert result.exit_code == 0 and "Warning" in result.output


@pytest.mark.parametrize("landmark", ["aorta", "liver", "pancreas"])
def test_embedded_sample_gives_fifty_filtered_poses(tmp_path, landmark):
    result = run("poses", "--landmark", landmark, "-n", 50, "--seed", 1, "-o", tmp_path / "poses.json")
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "poses.json").read_text())["poses"]) == 50


def test_done_when_on_the_shared_abdomen(tmp_path, abdomen_ct, abdomen_labels):
    poses = tmp_path / "poses.json"
    result = run("poses", "--ct", abdomen_ct, "--labels", abdomen_labels, "--landmark", "aorta", "-n", 50,
                 "--seed", 1, "-o", poses)
    assert result.exit_code == 0, result.output
    result = run("slice", "--ct", abdomen_ct, "--labels", abdomen_labels, "--poses", poses, "-o", tmp_path / "slices")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "slices" / "images").glob("*.png"))) == 50
    with open(tmp_path / "slices" / "manifest.csv") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["kept"] * 50
