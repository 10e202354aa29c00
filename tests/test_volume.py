from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from eusaug.ct.describe import summarise_case
from eusaug.ct.volume import find_labels_beside, load_case, load_ct, voxel_to_world, world_to_voxel
from eusaug.errors import EusaugError


def _reorient_copy(src: Path, dst: Path, code: str) -> None:
    """Write ``src`` re-stored in orientation ``code`` (same world geometry)."""
    image = nib.load(str(src))
    current = nib.orientations.io_orientation(image.affine)
    target = nib.orientations.axcodes2ornt(tuple(code))
    transform = nib.orientations.ornt_transform(current, target)
    reoriented = image.as_reoriented(transform)
    nib.save(reoriented, str(dst))


@pytest.mark.parametrize("code", ["LAS", "LPS", "SAR"])
def test_reoriented_copy_loads_to_same_ras_voxels_and_world(tmp_path, abdomen_ct, abdomen_labels, code):
    ct_copy, lab_copy = tmp_path / "ct.nii.gz", tmp_path / "lab.nii.gz"
    _reorient_copy(abdomen_ct, ct_copy, code)
    _reorient_copy(abdomen_labels, lab_copy, code)
    assert "".join(nib.aff2axcodes(nib.load(str(ct_copy)).affine)) == code

    original = load_case(abdomen_ct, abdomen_labels)
    copy = load_case(ct_copy, lab_copy)
    assert copy.ct.orientation == code
    np.testing.assert_array_equal(copy.ct.hu, original.ct.hu)
    np.testing.assert_array_equal(copy.labels.ids, original.labels.ids)
    np.testing.assert_allclose(copy.affine, original.affine, atol=1e-4)
    ijk = np.array([[10, 20, 30], [100, 5, 80]])
    np.testing.assert_allclose(voxel_to_world(copy.affine, ijk), voxel_to_world(original.affine, ijk), atol=1e-4)


def test_world_voxel_round_trip(abdomen_ct):
    ct = load_ct(abdomen_ct)
    ijk = np.random.default_rng(0).uniform(0, 100, size=(50, 3))
    np.testing.assert_allclose(world_to_voxel(ct.affine, voxel_to_world(ct.affine, ijk)), ijk, atol=1e-9)
    assert np.allclose(ct.spacing_mm, 3.0)


def test_organ_volumes_match_voxel_counts(abdomen_ct, abdomen_labels):
    case = load_case(abdomen_ct, abdomen_labels)
    summary = summarise_case(case)
    organs = {o.name: o for o in summary.organs}
    voxel_ml = 3.0 * 3.0 * 3.0 / 1000.0
    for name in ("liver", "stomach", "pancreas", "aorta"):
        count = int((case.labels.ids == case.label_preset.id_of(name)).sum())
        assert organs[name].voxels == count
        assert organs[name].volume_ml == pytest.approx(count * voxel_ml)
    assert organs["liver"].volume_ml == pytest.approx(1126, abs=1.0)
    assert organs["stomach"].volume_ml == pytest.approx(131, abs=1.0)


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(EusaugError, match="does not exist"):
        load_ct(tmp_path / "nope.nii.gz")


def test_not_nifti_is_clear(tmp_path):
    bad = tmp_path / "ct.nii.gz"
    bad.write_text("hello, not an image")
    with pytest.raises(EusaugError, match="not a readable NIfTI"):
        load_ct(bad)


def test_truncated_gzip_is_clear(tmp_path, abdomen_ct):
    truncated = tmp_path / "ct.nii.gz"
    truncated.write_bytes(abdomen_ct.read_bytes()[:200_000])
    with pytest.raises(EusaugError, match="truncated or corrupt"):
        load_ct(truncated)


def test_dicom_folder_points_to_dcm2niix(tmp_path):
    (tmp_path / "series").mkdir()
    (tmp_path / "series" / "IM0001.dcm").write_bytes(b"\0" * 200)
    with pytest.raises(EusaugError, match="dcm2niix"):
        load_ct(tmp_path / "series")


def test_non_integer_labels_rejected(tmp_path, abdomen_ct):
    ct = nib.load(str(abdomen_ct))
    image = nib.Nifti1Image(np.asanyarray(ct.dataobj).astype(np.float32) / 7.0, ct.affine)
    nib.save(image, str(tmp_path / "lab.nii.gz"))
    with pytest.raises(EusaugError, match="non-integer"):
        load_case(abdomen_ct, tmp_path / "lab.nii.gz")


def test_shape_mismatch_rejected(tmp_path, abdomen_ct):
    lab = nib.Nifti1Image(np.zeros((10, 10, 10), np.int16), nib.load(str(abdomen_ct)).affine)
    nib.save(lab, str(tmp_path / "lab.nii.gz"))
    with pytest.raises(EusaugError, match="has shape"):
        load_case(abdomen_ct, tmp_path / "lab.nii.gz")


def test_affine_mismatch_rejected(tmp_path, abdomen_ct, abdomen_labels):
    lab = nib.load(str(abdomen_labels))
    affine = lab.affine.copy()
    affine[:3, 3] += 5.0
    nib.save(nib.Nifti1Image(np.asanyarray(lab.dataobj), affine), str(tmp_path / "lab.nii.gz"))
    with pytest.raises(EusaugError, match="different affines"):
        load_case(abdomen_ct, tmp_path / "lab.nii.gz")


def test_absent_landmark_is_clear(abdomen_ct, abdomen_labels):
    case = load_case(abdomen_ct, abdomen_labels)
    with pytest.raises(EusaugError, match="absent"):
        case.mask("heart")


def test_labels_found_beside_ct(tmp_path):
    for ct_name, label_name in [
        ("case1_ct.nii.gz", "case1_labels.nii.gz"),
        ("vol.nii", "vol_seg.nii.gz"),
        ("img0001.nii.gz", "label0001.nii.gz"),
    ]:
        (tmp_path / ct_name).write_bytes(b"")
        (tmp_path / label_name).write_bytes(b"")
        assert find_labels_beside(tmp_path / ct_name) == tmp_path / label_name
    with pytest.raises(EusaugError, match="--labels"):
        find_labels_beside(tmp_path / "other.nii.gz")


def test_bone_from_labels_and_from_hu(abdomen_ct, abdomen_labels):
    case = load_case(abdomen_ct, abdomen_labels)
    bone = case.bone_mask(rule="labels")
    l3 = case.labels.ids == case.label_preset.id_of("vertebrae_l3")
    assert bone[l3].all() and not bone[case.mask("liver")].any()
    from_hu = case.bone_mask()  # the paper's rule is the default, whatever the preset
    np.testing.assert_array_equal(from_hu, case.ct.hu > 200)
    np.testing.assert_array_equal(case.bone_mask(rule="either"), bone | from_hu)
    btcv_like = load_case(abdomen_ct, abdomen_labels, label_preset="btcv", force=True)  # a deliberate misreading
    np.testing.assert_array_equal(btcv_like.bone_mask(), from_hu)
    np.testing.assert_array_equal(btcv_like.bone_mask(rule="either"), from_hu)  # no bone labels: HU alone
    with pytest.raises(EusaugError, match="bone labels"):
        btcv_like.bone_mask(rule="labels")
    assert from_hu[bone].mean() > 0.4  # the default threshold finds much of the labelled bone
    organs = case.labels.ids == case.label_preset.id_of("liver")
    assert from_hu[organs].mean() < 0.001  # and almost no organ voxels


def test_gzip_module_used_for_fixture(abdomen_ct):
    # The truncation test relies on the shared CT being gzip-compressed.
    with gzip.open(abdomen_ct) as handle:
        assert len(handle.read(348)) == 348
