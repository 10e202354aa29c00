"""Label preset plausibility (eusaug.ct.preset_check): no silent wrong organ."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from ct_layouts import write_flat

from eusaug.ct import (
    AUTO,
    BTCV_LABELS,
    assess_preset,
    check_preset,
    choose_preset,
    get_preset,
    label_stats,
    load_case,
    sample_ct_path,
    sample_labels_path,
)
from eusaug.ct.describe import summarise_case
from eusaug.errors import EusaugError

TS = get_preset("totalsegmentator")
BTCV = get_preset("btcv")


@pytest.fixture(scope="module")
def btcv_files(tmp_path_factory):
    return write_flat(tmp_path_factory.mktemp("btcv"), btcv=True)


def _block_map(liver_ml: int, stomach_ml: int, liver_at_edge: bool, liver_hu: float = 50.0):
    """A 20^3 grid of 10 mm voxels (1 ml each) holding a liver and a stomach slab of known size."""
    ids = np.zeros((20, 20, 20), np.int16)
    hu = np.full(ids.shape, -100.0, np.float32)
    start = 0 if liver_at_edge else 2
    flat_liver = np.zeros(16 * 16 * 16, bool)
    flat_liver[:liver_ml] = True
    region = np.zeros(ids.shape, bool)
    region[start:start + 16, 2:18, 2:18] = flat_liver.reshape(16, 16, 16)
    ids[region] = TS.id_of("liver")
    hu[region] = liver_hu
    stomach = np.zeros(ids.shape, bool)
    stomach[18, 2:18, 2:18].flat[:stomach_ml] = True
    ids[stomach] = TS.id_of("stomach")
    hu[stomach] = 30.0
    return ids, hu, np.diag([10.0, 10.0, 10.0, 1.0])


def test_stats_are_exact_counts_means_and_edge_contact():
    ids = np.zeros((4, 4, 4), np.int16)
    ids[1:3, 1:3, 1:3] = 5  # inner cube, 8 voxels
    ids[0, 0, 0] = 7  # a corner voxel
    hu = np.where(ids == 5, 40.0, 0.0).astype(np.float32)
    hu[1, 1, 1] = 80.0
    stats = label_stats(ids, hu, np.diag([2.0, 5.0, 10.0, 1.0]))
    assert stats.counts == {0: 55, 5: 8, 7: 1}
    assert stats.mean_hu[5] == pytest.approx((7 * 40 + 80) / 8)
    assert stats.voxel_ml == pytest.approx(0.1)
    assert 7 in stats.edge_ids and 5 not in stats.edge_ids


def test_cut_organ_gets_the_looser_lower_bound():
    # 300 ml of liver is implausible for a whole liver, plausible for one cut by the scan's edge.
    inside = label_stats(*_block_map(300, 100, liver_at_edge=False))
    at_edge = label_stats(*_block_map(300, 100, liver_at_edge=True))
    problem = assess_preset(inside, TS).readings[0].problem
    assert problem is not None and "300 ml" in problem and "500" in problem
    assert assess_preset(at_edge, TS).fits
    assert not assess_preset(label_stats(*_block_map(100, 100, liver_at_edge=True)), TS).fits


def test_lung_density_liver_is_refused():
    stats = label_stats(*_block_map(1500, 100, liver_at_edge=False, liver_hu=-750.0))
    with pytest.raises(EusaugError, match=r"liver \(label 5\) has mean -750 HU"):
        check_preset(stats, TS, path="x.nii.gz")


def test_real_totalsegmentator_map_fits_and_auto_keeps_it():
    case = load_case(sample_ct_path(), sample_labels_path())
    assert case.label_preset.name == "totalsegmentator"
    # The truncated sample (pancreas 17 ml, liver cut) passes even when the pancreas is checked.
    assert load_case(sample_ct_path(), sample_labels_path(), "totalsegmentator", organs=["pancreas", "aorta"])


def test_btcv_map_read_as_totalsegmentator_stops_naming_btcv(btcv_files):
    ct, labels = btcv_files
    with pytest.raises(EusaugError) as info:
        load_case(ct, labels, "totalsegmentator", organs=["liver"])
    message = str(info.value)
    assert "\n" not in message
    assert "looks like btcv ids, not totalsegmentator" in message
    assert "liver (label 5) is 30 ml" in message and "--label-preset btcv" in message and "--force" in message


def test_auto_picks_btcv_for_btcv_ids(btcv_files):
    case = load_case(*btcv_files, AUTO, organs=["liver"])
    assert case.label_preset.name == "btcv"
    liver = case.mask("liver")
    # The BTCV liver is the sample's own liver: same voxels, not the 30 ml oesophagus.
    assert int(liver.sum()) == int((case.labels.ids == BTCV_LABELS["liver"]).sum()) == 38634


def test_force_keeps_the_preset_asked_for(btcv_files):
    case = load_case(*btcv_files, "totalsegmentator", organs=["liver"], force=True)
    assert case.label_preset.name == "totalsegmentator"


def test_btcv_preset_on_totalsegmentator_map_names_totalsegmentator():
    with pytest.raises(EusaugError, match="looks like totalsegmentator ids, not btcv"):
        load_case(sample_ct_path(), sample_labels_path(), "btcv")


def test_json_preset_is_checked_never_replaced(tmp_path, btcv_files):
    wrong = tmp_path / "mine.json"
    wrong.write_text(json.dumps({"liver": 5, "stomach": 6}))
    with pytest.raises(EusaugError, match="looks like btcv ids, not mine"):
        load_case(*btcv_files, wrong)
    right = tmp_path / "ours.json"
    right.write_text(json.dumps({"liver": 6, "stomach": 7}))
    assert load_case(*btcv_files, right).preset.name == "ours"


def test_a_map_that_cannot_tell_presets_apart_is_refused_in_auto():
    ids = np.zeros((10, 10, 10), np.int16)
    ids[2:8, 2:8, 2:8] = 1  # spleen in both presets; no liver, no stomach
    stats = label_stats(ids, np.full(ids.shape, 40.0, np.float32), np.diag([5.0, 5.0, 5.0, 1.0]))
    with pytest.raises(EusaugError, match="Cannot tell which label preset"):
        choose_preset(stats, path="spleen.nii.gz")
    assert choose_preset(stats, force=True).name == "totalsegmentator"


def test_info_summary_says_which_preset_fits(btcv_files):
    summary = summarise_case(load_case(*btcv_files, AUTO))
    line, *warns = summary.preset_lines(auto=True)
    assert line.startswith("btcv (auto), fits: liver 1043 ml, stomach 126 ml")
    assert "totalsegmentator would read liver as 30 ml" in line and not warns
    forced = summarise_case(load_case(*btcv_files, "totalsegmentator", force=True))
    line, warn = forced.preset_lines()
    assert "does not fit" in line and "--label-preset btcv" in warn


def test_old_keyword_still_works_with_a_deprecation_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        case = load_case(sample_ct_path(), sample_labels_path(), preset="totalsegmentator")
    assert case.label_preset.name == "totalsegmentator"
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_shared_abdomen_fits_totalsegmentator(abdomen_ct, abdomen_labels):
    case = load_case(abdomen_ct, abdomen_labels, AUTO, organs=["liver", "aorta", "pancreas"])
    assert case.label_preset.name == "totalsegmentator"
    fit = assess_preset(label_stats(case.labels.ids, case.ct.hu, case.affine), BTCV)
    assert not fit.fits and fit.unnamed_ids  # BTCV names no id above 13
