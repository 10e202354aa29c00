"""export_slices: PNGs for kept poses, a manifest for all, atomic replacement."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
from stomach_phantom import AORTA, phantom_case

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, pose_from_axes
from eusaug.geometry.planes import HUWindow
from eusaug.io.images import read_grey_uint8, read_label_png, unit_to_uint8
from eusaug.plugin.interfaces import Slicer
from eusaug.poses.export import export_slices
from eusaug.poses.sampling import sample_poses
from eusaug.poses.slicing import slice_case

FOV = FieldOfView(height_px=128, width_px=128)


@pytest.fixture(scope="module")
def case():
    return phantom_case()


@pytest.fixture(scope="module")
def pose_set(case):
    sampled = sample_poses(case, "aorta", 4, seed=2, fov=FOV)
    # A fifth pose looking forward, away from the aorta behind the stomach and out of the phantom.
    away = pose_from_axes([0.0, 20.0, 0.0], [0, 1, 0], [1, 0, 0])
    return dataclasses.replace(sampled, poses=np.concatenate([sampled.poses, away[None]]))


def test_writes_kept_pngs_and_a_manifest_of_all(tmp_path, case, pose_set):
    window = HUWindow(level=0, width=500)
    rows = export_slices(case, pose_set, tmp_path / "slices", window=window)
    out = tmp_path / "slices"
    with open(out / "manifest.csv") as handle:
        manifest = list(csv.DictReader(handle))
    assert [r["status"] for r in manifest] == ["kept"] * 4 + ["too much outside the CT"]
    assert [int(r["pose_index"]) for r in manifest] == list(range(5)) == [r["pose_index"] for r in rows]
    assert sorted(p.name for p in (out / "images").iterdir()) == [f"pose_{i:05d}.png" for i in range(4)]
    assert manifest[4]["file_name"] == "" and int(manifest[4]["landmark_px"]) == 0
    planes = slice_case(case, pose_set.poses[:4], FOV)
    for i in range(4):
        image = read_grey_uint8(out / manifest[i]["file_name"])
        np.testing.assert_array_equal(image, unit_to_uint8(planes.windowed(window)[i]))
        labels = read_label_png(out / manifest[i]["label_file"])
        np.testing.assert_array_equal(labels, np.where(planes.mask[i], planes.labels[i], 0))
        assert int(manifest[i]["landmark_px"]) == int(((labels == AORTA)).sum()) > 250
    config = json.loads((out / "slices.json").read_text())
    assert config["kept"] == 4 and config["window"] == {"level": 0, "width": 500}
    assert config["poses"]["ct"]["sha256"] == pose_set.ct_sha256


class Exploding(Slicer):
    name = "exploding"

    def slice(self, case, poses, fov):
        raise EusaugError("boom")


def test_never_overwrites_without_force_and_keeps_old_output_on_failure(tmp_path, case, pose_set):
    out = tmp_path / "slices"
    export_slices(case, pose_set, out)
    before = sorted(p.name for p in (out / "images").iterdir())
    with pytest.raises(EusaugError, match="--force"):
        export_slices(case, pose_set, out)
    with pytest.raises(EusaugError, match="boom"):
        export_slices(case, pose_set, out, force=True, slicer=Exploding())
    assert sorted(p.name for p in (out / "images").iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["slices"]  # no partial folder left
    export_slices(case, dataclasses.replace(pose_set, poses=pose_set.poses[:2]), out, force=True)
    assert len(list((out / "images").iterdir())) == 2
