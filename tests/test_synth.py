"""``eusaug synth``: seeded, atomic, any translator, manifest that matches the files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from eusaug import FieldOfView, load_case, sample_ct_path, sample_labels_path
from eusaug.cli import main
from eusaug.errors import EusaugError
from eusaug.io.images import read_label_png, write_png
from eusaug.poses.sampling import sample_poses, save_poses
from eusaug.translate.model_store import register_model
from eusaug.translate.synth import parse_pose, read_synth_manifest, synthesize
from eusaug.translate.train import train_translator

TINY = {"image_size_px": 32, "ngf": 8, "ndf": 8, "n_blocks": 1, "n_disc_layers": 2, "pool_size": 2,
        "crop_margin_px": 4, "denoiser": False, "epochs": 1, "precision": "fp32"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch liver run on the embedded sample CT and six stripe 'EUS' frames."""
    root = tmp_path_factory.mktemp("synth_run")
    case = load_case(sample_ct_path(), sample_labels_path())
    poses = save_poses(root / "poses.json", sample_poses(case, "liver", 6, seed=1,
                                                         fov=FieldOfView(height_px=32, width_px=32)))
    frames = root / "eus"
    frames.mkdir()
    x = np.arange(48)[None, :] * np.ones((48, 1))
    for k in range(6):
        write_png(frames / f"{k}.png", np.sin(0.3 * x + k).astype(np.float32))
    train_translator(root / "run", [sample_ct_path()], [poses], frames, "liver", labels=[sample_labels_path()],
                     preset="fast", overrides=TINY, register=False)
    return root / "run"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_seeded_synth_writes_the_same_files_twice(tiny_run, tmp_path) -> None:
    kwargs = dict(labels=sample_labels_path(), model=tiny_run, seed=4, batch_size=3)
    rows = synthesize(sample_ct_path(), "liver", 5, tmp_path / "a", **kwargs)
    synthesize(sample_ct_path(), "liver", 5, tmp_path / "b", **kwargs)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    other = synthesize(sample_ct_path(), "liver", 5, tmp_path / "c", **{**kwargs, "seed": 5})
    assert [r["pose"] for r in other] != [r["pose"] for r in rows]

    manifest = read_synth_manifest(tmp_path / "a")
    assert manifest == [{k: str(v) for k, v in row.items()} for row in rows]
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert names == {f"seus_{i:04d}.png" for i in range(5)} | {f"label_{i:04d}.png" for i in range(5)} | {
        "manifest.csv", "synth.json"}
    # The poses are the seeded sampler's; the label planes show the landmark (liver = 5).
    case = load_case(sample_ct_path(), sample_labels_path())
    expected = sample_poses(case, "liver", 5, seed=4, fov=FieldOfView(height_px=32, width_px=32)).poses
    for row, pose in zip(manifest, expected):
        np.testing.assert_allclose(parse_pose(row["pose"]), pose, atol=1e-6)
        assert row["model"] == str(tiny_run.resolve()) and row["translator"] == "cyclegan"
        labels = read_label_png(tmp_path / "a" / row["label_file"])
        assert labels.shape == (32, 32) and (labels == 5).sum() > 0


def test_any_translator_and_the_model_store(tiny_run, tmp_path) -> None:
    rows = synthesize(sample_ct_path(), "aorta", 2, tmp_path / "ray", translator="raysim", seed=1)
    assert len(rows) == 2 and rows[0]["model"] == ""
    with pytest.raises(EusaugError, match="needs no model"):
        synthesize(sample_ct_path(), "aorta", 2, tmp_path / "ray2", translator="raysim", model=tiny_run)

    with pytest.raises(EusaugError, match=r"--landmark liver -o RUN`, or pass --model RUN"):
        synthesize(sample_ct_path(), "liver", 2, tmp_path / "none")
    register_model("liver", tiny_run, summary="tiny")
    rows = synthesize(sample_ct_path(), "liver", 2, tmp_path / "stored")  # labels found beside the CT
    assert rows[0]["model"] == str(tiny_run.resolve())


def test_bad_requests_keep_existing_output(tiny_run, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(EusaugError, match="pass --force"):
        synthesize(sample_ct_path(), "liver", 2, out, model=tiny_run)
    assert (out / "keep.txt").read_text() == "mine"

    case = load_case(sample_ct_path(), sample_labels_path())
    aorta = save_poses(tmp_path / "aorta.json", sample_poses(case, "aorta", 2, seed=0))
    with pytest.raises(EusaugError, match="sampled for landmark 'aorta', not 'liver'"):
        synthesize(sample_ct_path(), "liver", 2, tmp_path / "x", model=tiny_run, poses=aorta)
    with pytest.raises(EusaugError, match="holds 2 poses, fewer than -n 3"):
        synthesize(sample_ct_path(), "aorta", 3, tmp_path / "y", model=tiny_run, poses=aorta)
    rows = synthesize(sample_ct_path(), "aorta", 2, tmp_path / "z", model=tiny_run, poses=aorta)
    np.testing.assert_allclose(parse_pose(rows[1]["pose"]), sample_poses(case, "aorta", 2, seed=0).poses[1],
                               atol=1e-6)


def test_synth_cli_writes_n_images(tiny_run, tmp_path) -> None:
    result = CliRunner().invoke(main, ["--quiet", "synth", "--ct", str(sample_ct_path()), "--landmark", "liver",
                                       "--model", str(tiny_run), "-n", "3", "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "cli" / "manifest.csv") as handle:
        assert [r["file_name"] for r in csv.DictReader(handle)] == [f"seus_{i:04d}.png" for i in range(3)]
    again = CliRunner().invoke(main, ["synth", "--ct", str(sample_ct_path()), "--landmark", "liver",
                                      "--model", str(tmp_path / "nothing"), "-o", str(tmp_path / "cli2")])
    assert again.exit_code == 2 and "Traceback" not in again.output
    assert again.output.count("\n") == 1 and "does not exist" in again.output
