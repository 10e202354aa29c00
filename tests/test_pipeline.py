"""The whole-protocol runs: a tiny demo end to end, and reproduce's inputs and config."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from eusaug.cli import main
from eusaug.errors import EusaugError
from eusaug.io import save_checkpoint
from eusaug.pipeline.protocol import RunConfig, check_eus_dir
from eusaug.pipeline.reproduce import find_cases, load_run_config
from eusaug.pipeline.run_files import drop_resume_checkpoints, drop_saved_models

REPORT_SECTIONS = (
    "Probe poses (Fig. 2)",
    "CT planes and synthetic EUS (Fig. 1)",
    "CycleGAN training",
    "Fréchet Inception Distance (Table 3)",
    "Classifier ratio sweep (Table 2) and McNemar tests",
    "Grad-CAM (Fig. 3)",
    "Configuration, versions and timings",
)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2":
            self._in_h2 = True
            self.headings.append("")
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in ("a", "link", "script") and (attrs.get("href") or attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.headings[-1] += data


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(main, ["--quiet", "demo", "--preset", "tiny", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_tiny_demo_report_has_every_section(tiny_demo):
    html = (tiny_demo / "report.html").read_text()
    parser = _Collector()
    parser.feed(html)
    for section in REPORT_SECTIONS:
        assert section in parser.headings, section
    assert len(parser.images) >= 10
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert not [link for link in parser.links if link.startswith(("http:", "https:", "//"))]
    assert "The real domain is simulated" in html
    from eusaug.evaluate import standard_network_available

    if standard_network_available():  # the FID tables name the standard network wherever it is installed
        assert "FID/KID against the training subjects&#x27; frames (standard network" in html or \
            "FID/KID against the training subjects' frames (standard network" in html


def test_tiny_demo_wrote_every_stage(tiny_demo):
    for name in ("poses", "real", "cyclegan-aorta", "cyclegan-liver", "cyclegan-pancreas", "synth", "mix",
                 "fid", "classifier"):
        assert (tiny_demo / name / ".stage.json").is_file(), name
    table2 = (tiny_demo / "classifier" / "sweep" / "table2.csv").read_text().splitlines()
    assert len(table2) == 1 + 2  # header + ratios 0 and 0.5
    assert (tiny_demo / "classifier" / "mcnemar" / "mcnemar.csv").is_file()
    synth = sorted((tiny_demo / "synth" / "cyclegan" / "aorta" / "sample").glob("seus_*.png"))
    assert len(synth) == 8
    # Light: the classifiers' models are gone after Grad-CAM, their metadata and every result stay.
    assert not list((tiny_demo / "classifier").rglob("*.keras"))
    assert len(list((tiny_demo / "classifier" / "sweep" / "models").glob("ratio_*.json"))) == 2
    cams = (tiny_demo / "classifier" / "gradcam" / "gradcam.csv").read_text().splitlines()
    assert "outside_sector_share" in cams[0] and len(cams) > 1
    html = (tiny_demo / "report.html").read_text()
    assert html.count("trained 1 of 1 epoch") == 3  # one subheading per landmark


def test_drop_saved_models_keeps_metadata(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "ratio_0.keras").write_bytes(b"x" * 2**20)
    (models / "ratio_0.json").write_text("{}")
    assert drop_saved_models(models) == {"deleted_models": 1, "freed_mb": 1.0}
    assert sorted(p.name for p in models.iterdir()) == ["ratio_0.json"]
    assert drop_saved_models(tmp_path / "missing") == {"deleted_models": 0, "freed_mb": 0.0}


def test_tiny_demo_drops_resume_checkpoints_but_keeps_generators(tiny_demo):
    runs = sorted(tiny_demo.glob("cyclegan-*"))
    assert runs
    for run in runs:
        assert (run / "generator_ct2eus.keras").stat().st_size > 0
        assert (run / "losses.csv").is_file()
        assert list((run / "samples").glob("*.png"))
    assert not list(tiny_demo.rglob("variables.npz"))


def test_drop_resume_checkpoints_keeps_everything_else(tmp_path):
    import numpy as np

    run = tmp_path / "cyclegan-liver"
    for epoch in (1, 2):
        save_checkpoint(run / "checkpoints", epoch, {"w": np.ones((256, 256), np.float32)}, {})
    (run / "generator_ct2eus.keras").write_bytes(b"g")
    (run / "snapshots").mkdir()
    (run / "snapshots" / "epoch-0002.keras").write_bytes(b"s")
    (tmp_path / "epoch-0001").mkdir()  # not a checkpoint: no variables.npz
    (tmp_path / "epoch-0001" / "state.json").write_text("{}")
    got = drop_resume_checkpoints(tmp_path)
    assert got["deleted_checkpoints"] == 2
    assert got["freed_mb"] >= 0.5
    assert not (run / "checkpoints").exists()
    assert (run / "generator_ct2eus.keras").read_bytes() == b"g"
    assert (run / "snapshots" / "epoch-0002.keras").is_file()
    assert (tmp_path / "epoch-0001" / "state.json").is_file()
    assert drop_resume_checkpoints(tmp_path)["deleted_checkpoints"] == 0


def test_rerun_reuses_finished_stages(tiny_demo):
    before = (tiny_demo / "cyclegan-liver" / "generator_ct2eus.keras").stat().st_mtime_ns
    result = CliRunner().invoke(main, ["--quiet", "demo", "--preset", "tiny", "-o", str(tiny_demo)])
    assert result.exit_code == 0, result.output
    run = json.loads((tiny_demo / "run.json").read_text())
    assert set(run["reused_stages"]) == set(run["timings_s"])
    assert (tiny_demo / "cyclegan-liver" / "generator_ct2eus.keras").stat().st_mtime_ns == before


def test_demo_rejects_unlabelled_eus_folder(tmp_path):
    (tmp_path / "frames").mkdir()
    result = CliRunner().invoke(main, ["demo", "--eus", str(tmp_path / "frames"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "sub-folder" in result.output


def test_check_eus_dir_needs_every_landmark(tmp_path):
    (tmp_path / "aorta").mkdir()
    with pytest.raises(EusaugError, match="liver, pancreas"):
        check_eus_dir(tmp_path, ("aorta", "liver", "pancreas"))


def test_find_cases_pairs_cts_with_labels(tmp_path, abdomen_ct, abdomen_labels):
    (tmp_path / "abdomen_ct.nii.gz").symlink_to(abdomen_ct)
    (tmp_path / "abdomen_labels.nii.gz").symlink_to(abdomen_labels)
    (tmp_path / "img0001.nii.gz").symlink_to(abdomen_ct)
    (tmp_path / "label0001.nii.gz").symlink_to(abdomen_labels)
    cases = find_cases(tmp_path)
    assert [(c.name, c.ct.name, c.labels.name) for c in cases] == [
        ("abdomen", "abdomen_ct.nii.gz", "abdomen_labels.nii.gz"),
        ("img0001", "img0001.nii.gz", "label0001.nii.gz"),
    ]
    (tmp_path / "lonely.nii.gz").symlink_to(abdomen_ct)
    with pytest.raises(EusaugError, match="lonely.nii.gz"):
        find_cases(tmp_path)


def test_run_config_from_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: fast\nlandmarks: [liver]\nratios: [0, 0.5]\ncyclegan_overrides: {epochs: 3}\n")
    config = load_run_config(path)
    assert config.landmarks == ("liver",) and config.ratios == (0.0, 0.5)
    assert config.cyclegan_preset == "fast" and config.cyclegan_overrides == {"epochs": 3}
    assert load_run_config(None).cyclegan_preset == "paper"
    path.write_text("landmark: [liver]\n")
    with pytest.raises(EusaugError, match="Unknown setting"):
        load_run_config(path)
    with pytest.raises(EusaugError, match="positive"):
        RunConfig(minutes=0)
