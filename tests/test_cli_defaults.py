"""What the CLI chooses when an option is left out, said out loud: the CT, --force's two meanings, global flags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import assert_clean_error, invoke

from eusaug.cli.base import hoist_global_flags
from eusaug.ct import ACCEPT_LABELS_FLAG, sample_ct_path, sample_labels_path
from eusaug.errors import did_you_mean


@pytest.fixture(scope="module")
def own_ct(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A copy of the sample CT under another name, and a poses file made from it."""
    folder = tmp_path_factory.mktemp("own")
    ct, labels = folder / "mine_ct.nii.gz", folder / "mine_labels.nii.gz"
    shutil.copy(sample_ct_path(), ct)
    shutil.copy(sample_labels_path(), labels)
    poses = folder / "poses.json"
    result = invoke("poses", "--ct", ct, "--labels", labels, "--landmark", "liver", "-n", 2, "-o", poses)
    assert result.exit_code == 0, result.output
    return ct, labels, poses


def test_slice_takes_the_ct_of_the_poses_file(tmp_path, own_ct):
    ct, _, poses = own_ct
    result = invoke("slice", "--poses", poses, "-o", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert f"using {ct}" in result.output and "embedded sample" not in result.output
    assert (tmp_path / "s" / "manifest.csv").is_file()


def test_info_takes_the_ct_of_the_poses_file(own_ct):
    ct, _, poses = own_ct
    result = invoke("info", "--poses", poses)
    assert result.exit_code == 0, result.output
    assert "mine_ct.nii.gz" in result.output


def test_a_poses_file_whose_ct_is_gone_asks_for_ct(tmp_path, own_ct):
    _, _, poses = own_ct
    raw = json.loads(poses.read_text())
    raw["ct"]["path"] = str(tmp_path / "moved_ct.nii.gz")
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(raw))
    assert_clean_error(invoke("slice", "--poses", moved, "-o", tmp_path / "s"), "moved_ct.nii.gz", "pass --ct")


def test_the_embedded_sample_is_announced():
    result = invoke("info")
    assert result.exit_code == 0, result.output
    assert "Note: no --ct given: using the embedded sample CT" in result.output


def test_force_no_longer_means_accept_implausible_labels_but_still_works_with_a_note(tmp_path):
    args = ("poses", "--landmark", "liver", "-n", 1, "--label-preset", "btcv")
    refused = invoke(*args, "-o", tmp_path / "a.json")
    assert refused.exit_code == 2 and ACCEPT_LABELS_FLAG in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "a.json").exists()
    old = invoke(*args, "-o", tmp_path / "b.json", "--force")
    assert "deprecated" in old.output and ACCEPT_LABELS_FLAG in old.output
    assert old.exit_code == 0, old.output
    new = invoke(*args, "-o", tmp_path / "c.json", ACCEPT_LABELS_FLAG)
    assert new.exit_code == 0 and "deprecated" not in new.output, new.output


def test_force_alone_does_not_warn_when_no_check_is_skipped(tmp_path):
    result = invoke("poses", "--landmark", "liver", "-n", 1, "-o", tmp_path / "p.json", "--force")
    assert result.exit_code == 0 and "deprecated" not in result.output, result.output


@pytest.mark.parametrize("flag", ["-q", "--quiet", "--debug"])
def test_global_flags_after_the_subcommand(flag):
    moved = hoist_global_flags(["info", "--label-preset", "btcv", flag], {"info": None})
    assert moved == [flag, "info", "--label-preset", "btcv"]
    result = invoke("info", flag)
    assert result.exit_code == 0, result.output


def test_global_flags_after_a_double_dash_stay():
    assert hoist_global_flags(["info", "--", "-q"], {"info": None}) == ["info", "--", "-q"]


def test_did_you_mean_is_case_insensitive_and_empty_when_nothing_is_close():
    assert did_you_mean("Aorta", ["aorta", "liver"]) == " Did you mean aorta?"
    assert did_you_mean("xyz", ["aorta", "liver"]) == ""
