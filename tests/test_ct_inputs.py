"""The inputs researchers have: TotalSegmentator segmentations/, BTCV img/label, nnU-Net, NRRD refused."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from cli_helpers import assert_clean_error
from cli_helpers import invoke as run
from ct_layouts import sample_images, write_btcv, write_flat, write_nnunet, write_segmentations

from eusaug.ct import BTCV_LABELS, CaseFiles, find_cases, find_labels_beside, load_case, load_labels
from eusaug.errors import EusaugError
from eusaug.geometry import FieldOfView
from eusaug.geometry.planes import SliceFilter, reference_slice
from eusaug.poses import load_poses


def _poses(ct, out, *extra):
    return run("--quiet", "poses", "--ct", ct, "--landmark", "liver", "-n", 3, "--seed", 2, "-o", out, *extra)


# -- the silent wrong organ ---------------------------------------------------------------
def test_btcv_map_with_totalsegmentator_preset_stops_with_one_line(tmp_path):
    ct, labels = write_flat(tmp_path, btcv=True)
    out = tmp_path / "poses.json"
    result = _poses(ct, out, "--labels", labels, "--label-preset", "totalsegmentator")
    assert_clean_error(result, str(labels), "looks like btcv ids, not totalsegmentator", "--label-preset btcv")
    assert not out.exists()


def test_btcv_map_by_default_images_the_liver_not_the_oesophagus(tmp_path):
    ct, labels = write_flat(tmp_path, btcv=True)
    out = tmp_path / "poses.json"
    result = _poses(ct, out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["label_preset"] == "btcv"
    case = load_case(ct, labels, "btcv")
    pose_set = load_poses(out, case)
    planes = reference_slice(case, np.asarray(pose_set.poses), FieldOfView())
    # Kept views hold enough BTCV liver (id 6) pixels by the slice filter's own measure.
    liver_px = (planes.labels == BTCV_LABELS["liver"]).sum(axis=(1, 2))
    assert (liver_px > SliceFilter().min_landmark_px).all(), liver_px


def test_force_overrides_the_check(tmp_path):
    ct, labels = write_flat(tmp_path, btcv=True)
    result = _poses(ct, tmp_path / "p.json", "--label-preset", "totalsegmentator", "--force")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "p.json").read_text())["label_preset"] == "totalsegmentator"


def test_info_shows_the_fitting_preset(tmp_path):
    ct, _ = write_flat(tmp_path, btcv=True)
    result = run("info", "--ct", ct)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "label preset btcv (auto), fits: liver 1043 ml, stomach 126 ml; totalsegmentator would read liver as 30 ml" in text
    result = run("info", "--ct", ct, "--label-preset", "totalsegmentator")
    assert result.exit_code == 0, result.output
    assert "Warning: this map looks like btcv ids: pass --label-preset btcv (or auto)" in " ".join(result.output.split())


def test_old_preset_option_is_gone():
    result = run("info", "--preset", "btcv")
    assert result.exit_code == 2 and "--preset" in result.output


# -- TotalSegmentator's segmentations/ folder -------------------------------------------------
def test_segmentations_folder_is_the_label_map(tmp_path):
    ct, folder = write_segmentations(tmp_path / "s0001")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # heart.nii.gz is a known (empty) mask: no warning
        labels = load_labels(folder)
    np.testing.assert_array_equal(labels.ids, np.asarray(sample_images()[1].dataobj))
    assert find_labels_beside(ct) == folder
    result = _poses(ct, tmp_path / "a.json", "--labels", folder)
    assert result.exit_code == 0, result.output
    result = _poses(ct, tmp_path / "b.json")  # found beside the CT
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["label_preset"] == "totalsegmentator" and data["labels"]["path"] == str(folder)
    assert find_cases(tmp_path) == [CaseFiles("s0001", ct, folder)]


def test_unknown_mask_names_are_skipped_with_a_warning(tmp_path):
    _, folder = write_segmentations(tmp_path)
    (folder / "my_tumour.nii.gz").write_bytes((folder / "liver.nii.gz").read_bytes())
    with pytest.warns(UserWarning, match="my_tumour.nii.gz"):
        labels = load_labels(folder)
    assert not (labels.ids > 117).any()


# -- BTCV and nnU-Net folders --------------------------------------------------------------
def test_btcv_layout(tmp_path):
    ct, labels = write_btcv(tmp_path)
    assert find_labels_beside(ct) == labels
    assert find_cases(tmp_path) == [CaseFiles("img0001", ct, labels)]
    assert find_cases(tmp_path / "img") == [CaseFiles("img0001", ct, labels)]
    result = _poses(ct, tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "p.json").read_text())["label_preset"] == "btcv"


def test_nnunet_layout(tmp_path):
    ct, labels = write_nnunet(tmp_path)
    assert find_labels_beside(ct) == labels
    assert find_cases(tmp_path) == [CaseFiles("abdomen_001", ct, labels)]
    result = _poses(ct, tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "p.json").read_text())["label_preset"] == "totalsegmentator"


def test_mixed_folder_and_reproduce_uses_the_same_discovery(tmp_path):
    from eusaug.pipeline.reproduce import find_cases as reproduce_find_cases

    flat = write_flat(tmp_path, name="flat")
    btcv = write_btcv(tmp_path)
    nnunet = write_nnunet(tmp_path)
    ts_ct, ts_folder = write_segmentations(tmp_path / "s0002")
    cases = find_cases(tmp_path)
    assert {c.name: (c.ct, c.labels) for c in cases} == {
        "flat": flat, "img0001": btcv, "abdomen_001": nnunet, "s0002": (ts_ct, ts_folder),
    }
    assert reproduce_find_cases(tmp_path) == cases


def test_ct_without_labels_and_duplicate_names_are_one_line(tmp_path):
    write_flat(tmp_path, name="a")
    (tmp_path / "lonely.nii.gz").write_bytes((tmp_path / "a_ct.nii.gz").read_bytes())
    with pytest.raises(EusaugError, match="No label map found beside lonely.nii.gz"):
        find_cases(tmp_path)
    (tmp_path / "lonely.nii.gz").unlink()
    write_btcv(tmp_path / "one", "0001")
    other = tmp_path / "other"
    write_flat(other, name="img0001")
    assert len(find_cases(tmp_path / "one")) == 1
    (tmp_path / "img0001_ct.nii.gz").write_bytes((tmp_path / "a_ct.nii.gz").read_bytes())
    (tmp_path / "img0001_labels.nii.gz").write_bytes((tmp_path / "a_labels.nii.gz").read_bytes())
    write_btcv(tmp_path, "0001")
    with pytest.raises(EusaugError, match="both named 'img0001'"):
        find_cases(tmp_path)


# -- formats nibabel cannot read -----------------------------------------------------------
@pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".mhd"])
def test_nrrd_and_metaimage_are_refused_with_the_conversion_command(tmp_path, suffix):
    path = tmp_path / f"scan{suffix}"
    path.write_bytes(b"NRRD0004\n")
    assert_clean_error(run("info", "--ct", path), str(path), "SimpleITK", "c3d", "scan.nii.gz")
    with pytest.raises(EusaugError, match="SimpleITK"):
        find_cases(tmp_path)
