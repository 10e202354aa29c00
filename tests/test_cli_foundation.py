from __future__ import annotations

import re

from cli_helpers import assert_clean_error
from cli_helpers import invoke as run

from eusaug import __version__


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and f"version {__version__}" in result.output


def test_plugins_shows_four_kinds():
    result = run("plugins")
    assert result.exit_code == 0, result.output
    for kind in ("sampler", "slicer", "translator", "evaluator"):
        assert re.search(rf"^\W*{kind}\b", result.output, flags=re.M), kind


def test_info_reports_liver_volume(abdomen_ct, abdomen_labels):
    result = run("info", "--ct", str(abdomen_ct), "--labels", str(abdomen_labels), "--label-preset", "totalsegmentator")
    assert result.exit_code == 0, result.output
    liver = re.search(r"liver\s*\W\s*5\s*\W\s*41692\s*\W\s*([\d.]+)", result.output)
    assert liver and abs(float(liver.group(1)) - 1126) < 1


def test_info_defaults_to_embedded_sample():
    result = run("info")
    assert result.exit_code == 0, result.output
    assert "totalseg_small_ct.nii.gz" in result.output.replace("\n", "")
    assert "122 x 101 x 30" in result.output




def test_missing_ct_is_one_line(abdomen_labels):
    assert_clean_error(run("info", "--ct", "/nonexistent.nii.gz", "--labels", str(abdomen_labels)),
                        "/nonexistent.nii.gz", "does not exist")


def test_unknown_preset_is_one_line(abdomen_ct, abdomen_labels):
    assert_clean_error(run("info", "--ct", str(abdomen_ct), "--labels", str(abdomen_labels), "--label-preset", "amos"),
                        "amos", "btcv")


def test_mismatched_labels_is_one_line(abdomen_ct):
    from eusaug.ct.sample_case import sample_labels_path

    assert_clean_error(run("info", "--ct", str(abdomen_ct), "--labels", str(sample_labels_path())),
                        "has shape")


def test_corrupt_nifti_is_one_line(tmp_path, abdomen_labels):
    bad = tmp_path / "ct.nii.gz"
    bad.write_bytes(b"\x1f\x8b\x08garbage")
    assert_clean_error(run("info", "--ct", str(bad), "--labels", str(abdomen_labels)), str(bad))


def test_debug_shows_traceback(abdomen_labels):
    result = run("--debug", "info", "--ct", "/nonexistent.nii.gz", "--labels", str(abdomen_labels))
    assert result.exit_code != 0 and result.exception is not None
