from __future__ import annotations

import json

import pytest

from eusaug.ct.labels import get_preset
from eusaug.errors import EusaugError


def test_totalsegmentator_ids_and_bone():
    preset = get_preset("totalsegmentator")
    assert [preset.id_of(n) for n in ("liver", "stomach", "pancreas", "aorta")] == [5, 6, 7, 52]
    assert preset.id_of("Portal vein and splenic vein") == 64
    assert {27, 31, 92, 116}.issubset(preset.bone_ids)  # L5, L1, a rib, sternum
    assert not {5, 6, 52, 117}.intersection(preset.bone_ids)  # organs, costal cartilage


def test_btcv_ids():
    preset = get_preset("btcv")
    assert [preset.id_of(n) for n in ("spleen", "liver", "stomach", "aorta", "pancreas")] == [1, 6, 7, 8, 11]
    assert preset.bone_ids == frozenset()


def test_unknown_landmark_lists_known_names():
    with pytest.raises(EusaugError) as info:
        get_preset("btcv").id_of("heart")
    assert "pancreas" in str(info.value) and "Known names" in str(info.value)


def test_unknown_preset():
    with pytest.raises(EusaugError, match="totalsegmentator, btcv"):
        get_preset("amos")


@pytest.mark.parametrize(
    "content",
    [{"liver": 3, "aorta": 9}, {"3": "liver", "9": "aorta"}, {"labels": {"liver": 3, "aorta": 9}, "bone": [20]}],
)
def test_json_preset_forms(tmp_path, content):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(content))
    preset = get_preset(path)
    assert preset.id_of("liver") == 3 and preset.id_of("aorta") == 9
    assert preset.bone_ids == (frozenset({20}) if "bone" in content else frozenset())


def test_bad_json_preset(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(EusaugError, match="not valid JSON"):
        get_preset(path)
    path.write_text(json.dumps({"liver": "six"}))
    with pytest.raises(EusaugError, match="integer id"):
        get_preset(path)
