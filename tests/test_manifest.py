"""One manifest schema: slice, synth and mix write the same head; old manifests still read, with a warning."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke
from PIL import Image

from eusaug.ct import sample_ct_path, sample_labels_path
from eusaug.errors import EusaugError
from eusaug.io.images import read_grey_uint8, read_label_png
from eusaug.io.manifest import MANIFEST_HEAD, manifest_text, read_manifest
from eusaug.mix import read_labelled_set, read_mix_manifest
from eusaug.mix.write import METADATA_COLUMNS


def _header(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        return next(csv.reader(handle))


def _frames(root: Path, name: str, n: int) -> Path:
    (root / name).mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((16, 16), 40 + 10 * i, np.uint8)).save(root / name / f"f{i}.png")
    return root


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """A slice folder, a synth folder and a mix of real frames with the synth folder's manifest."""
    root = tmp_path_factory.mktemp("stages")
    ct, labels = sample_ct_path(), sample_labels_path()
    steps = [
        ("poses", "--ct", ct, "--labels", labels, "--landmark", "liver", "-n", 2, "-o", root / "poses.json"),
        ("slice", "--ct", ct, "--labels", labels, "--poses", root / "poses.json", "-o", root / "slices"),
        ("synth", "--ct", ct, "--labels", labels, "--landmark", "liver", "--translator", "raysim", "-n", 3,
         "--seed", 2, "-o", root / "synth"),
        ("mix", "--real", _frames(root / "real", "liver", 4), "--synthetic", root / "synth" / "manifest.csv",
         "--ratio", "0.5", "--seed", 1, "-o", root / "mix"),
    ]
    for step in steps:
        result = invoke(*step)
        assert result.exit_code == 0, result.output
    return root


def test_every_command_writes_the_same_head(written):
    heads = {name: _header(written / name / "manifest.csv") for name in ("slices", "synth", "mix")}
    for name, header in heads.items():
        assert tuple(header[:len(MANIFEST_HEAD)]) == MANIFEST_HEAD, name
    assert heads["slices"][len(MANIFEST_HEAD):] == ["pose_index", "status", "landmark_px", "bone_px"]
    assert "seed" in heads["synth"] and "pose" in heads["synth"]
    # metadata.csv keeps the imagefolder columns: the head without the label plane.
    assert tuple(_header(written / "mix" / "metadata.csv")) == METADATA_COLUMNS == MANIFEST_HEAD[:4]


def test_rows_mean_the_same_in_every_stage(written):
    ct = str(sample_ct_path().resolve())
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        slices, synth, mixed = (read_manifest(written / n / "manifest.csv") for n in ("slices", "synth", "mix"))
    for row in slices + synth:
        assert row["label"] == "liver" and row["synthetic"] == "true" and row["source"] == ct
    for folder, rows in (("slices", slices), ("synth", synth)):
        for row in rows:
            if row["file_name"]:
                image = read_grey_uint8(written / folder / row["file_name"])
                assert read_label_png(written / folder / row["label_file"]).shape == image.shape
    # The mix took its synthetic images from the synth manifest: their source is the synth PNG.
    synthetic = [r for r in mixed if r["synthetic"] == "true"]
    real = [r for r in mixed if r["synthetic"] == "false"]
    assert len(synthetic) == len(real) == 2 and all(r["label_file"] == "" for r in mixed)
    assert {Path(r["source"]).parent for r in synthetic} == {(written / "synth").resolve()}
    assert {Path(r["source"]).parent for r in real} == {(written / "real" / "liver").resolve()}
    for row in mixed:
        assert (written / "mix" / row["file_name"]).resolve() == Path(row["source"]).resolve()


def test_a_synth_manifest_is_a_labelled_set(written):
    classes = read_labelled_set(written / "synth" / "manifest.csv")
    assert classes == {"liver": sorted(written / "synth" / f"seus_{i:04d}.png" for i in range(3))}
    assert read_labelled_set(written / "synth" / "manifest.csv", source="synthetic") == classes
    mixed = written / "mix" / "manifest.csv"
    assert [p.parent.name for p in read_labelled_set(mixed, source="real")["liver"]] == ["liver"] * 2
    assert {r.source for r in read_mix_manifest(mixed)} == {"real", "synthetic"}
    # A slice manifest is a labelled set of its kept slices (a rejected slice has no file).
    kept = read_labelled_set(written / "slices" / "manifest.csv")["liver"]
    assert [p.name for p in kept] == [r["file_name"].split("/")[-1] for r in
                                     read_manifest(written / "slices" / "manifest.csv") if r["file_name"]]


OLD_SLICE = "pose_index,status,landmark,landmark_px,bone_px,image,labels\n" \
            "0,kept,aorta,300,0,images/pose_00000.png,labels/pose_00000.png\n1,no landmark,aorta,0,0,,\n"
OLD_SYNTH = "file,label_file,source_ct,source_labels,pose_index,pose,landmark,model,translator,seed\n" \
            "seus_0000.png,label_0000.png,/data/ct.nii.gz,/data/lab.nii.gz,0,1 0,liver,,raysim,3\n"
OLD_MIX = "output_path,class,source,original_path\na/real_x.png,a,real,/in/x.png\na/synthetic_y.png,a,synthetic,/s/y.png\n"


@pytest.mark.parametrize("text, old, expected", [
    (OLD_SLICE, "image, labels, landmark",
     [{"file_name": "images/pose_00000.png", "label": "aorta", "synthetic": "true", "source": "",
       "label_file": "labels/pose_00000.png", "pose_index": "0", "status": "kept", "landmark_px": "300",
       "bone_px": "0"},
      {"file_name": "", "label": "aorta", "synthetic": "true", "source": "", "label_file": "",
       "pose_index": "1", "status": "no landmark", "landmark_px": "0", "bone_px": "0"}]),
    (OLD_SYNTH, "file, source_ct, landmark",
     [{"file_name": "seus_0000.png", "label": "liver", "synthetic": "true", "source": "/data/ct.nii.gz",
       "label_file": "label_0000.png", "source_labels": "/data/lab.nii.gz", "pose_index": "0", "pose": "1 0",
       "model": "", "translator": "raysim", "seed": "3"}]),
    (OLD_MIX, "output_path, class, source, original_path",
     [{"file_name": "a/real_x.png", "label": "a", "synthetic": "false", "source": "/in/x.png", "label_file": ""},
      {"file_name": "a/synthetic_y.png", "label": "a", "synthetic": "true", "source": "/s/y.png",
       "label_file": ""}]),
])
def test_old_manifests_read_under_the_new_names_with_a_warning(tmp_path, text, old, expected):
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    with pytest.warns(DeprecationWarning, match="old manifest columns") as caught:
        rows = read_manifest(path)
    assert rows == expected
    named = str(caught[0].message)
    assert all(name in named for name in old.split(", ")), named


def test_an_old_mix_manifest_still_mixes_and_labels(tmp_path):
    for rel in ("in/x.png", "s/y.png"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / rel)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.csv").write_text(OLD_MIX.replace("/in/", "../in/").replace("/s/", "../s/"))
    with pytest.warns(DeprecationWarning, match="output_path"):
        rows = read_mix_manifest(tmp_path / "old" / "manifest.csv")
    assert [(r.output_path, r.class_name, r.source) for r in rows] == [
        (tmp_path / "old" / "a" / "real_x.png", "a", "real"), (tmp_path / "old" / "a" / "synthetic_y.png", "a", "synthetic")]
    # The labelled-set reader reads the old columns as before (paths from ``output_path``).
    (tmp_path / "old" / "a").mkdir()
    for r in rows:
        r.output_path.symlink_to((tmp_path / "old" / r.original_path).resolve())
    assert read_labelled_set(tmp_path / "old" / "manifest.csv", source="synthetic") == {
        "a": [tmp_path / "old" / "a" / "synthetic_y.png"]}


def test_a_written_manifest_round_trips_and_refuses_what_is_not_one(tmp_path):
    rows = [{"file_name": "x.png", "label": "liver", "synthetic": "true", "source": "/ct.nii", "seed": 4}]
    (tmp_path / "m.csv").write_text(manifest_text(rows, ("seed",)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert read_manifest(tmp_path / "m.csv") == [{**rows[0], "label_file": "", "seed": "4"}]
    with pytest.raises(EusaugError, match="label"):
        manifest_text(rows, ("label",))
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(EusaugError, match="not a eusaug manifest"):
        read_manifest(tmp_path / "other.csv")
    with pytest.raises(EusaugError, match="does not exist"):
        read_manifest(tmp_path / "none.csv")
