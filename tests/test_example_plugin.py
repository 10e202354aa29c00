"""The example third-party plugin package installs, is listed and is used like a bundled one.

It is installed with pip into a temporary ``--target`` folder (from a copy, so no build
files land in the repository) and put on the path only for these tests: the
environment is left as it was. ``importlib.metadata`` finds the ``.dist-info`` folder,
and with it the entry point, on any ``sys.path`` entry, which is all eusaug needs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from eusaug import FieldOfView, Planes, Registry, sample_ct_path
from eusaug.pipeline import CaseInput, run_pipeline

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eusaug-plugin-example"
DIST = "eusaug-plugin-example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed into a temporary target folder; returns that folder."""
    work = tmp_path_factory.mktemp("example_plugin")
    source = shutil.copytree(EXAMPLE, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
               "--no-index", "--disable-pip-version-check", "--target", str(target), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(installed))
    yield installed
    for name in [m for m in sys.modules if m.startswith("eusaug_example_plugin")]:
        del sys.modules[name]


def planes_of(height: int, width: int, n: int = 2) -> Planes:
    fov = FieldOfView(height_px=height, width_px=width)
    _, v = fov.pixel_coordinates_mm()
    hu = np.where(v > 20.0, 60.0, -80.0).astype(np.float32)  # fat over soft tissue: one edge
    hu = np.broadcast_to(hu, (n, height, width)).copy()
    mask = np.broadcast_to(fov.mask(), hu.shape).copy()
    return Planes(hu, np.zeros(hu.shape, np.int16), mask, np.repeat(np.eye(4)[None], n, axis=0), fov)


def test_listed_by_eusaug_plugins(installed: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "250"}
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from eusaug.cli import main; sys.exit(main())", "plugins"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "edge-echo" in line)
    assert DIST in line and "0.1.0" in line and "warning" not in line


def test_used_by_eusaug_synth(installed: Path, tmp_path: Path) -> None:
    """`eusaug synth --translator edge-echo` on the embedded sample, as a user would run it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "seus"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from eusaug.cli import main; sys.exit(main())", "synth",
         "--ct", str(sample_ct_path()), "--translator", "edge-echo", "--landmark", "liver", "-n", "3", "--seed", "1", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = (out / "manifest.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 and all(",edge-echo," in row for row in rows[1:])
    assert len(list(out.glob("seus_*.png"))) == 3


def test_resolved_and_used_through_the_registry(on_path: Path) -> None:
    registry = Registry()
    cls = registry.translator("edge-echo")
    assert cls.__module__ == "eusaug_example_plugin.plugin" and not cls.needs_model
    info = next(r for r in registry.plugins("translator") if r.name == "edge-echo")
    assert (info.package, info.version, info.error) == (DIST, "0.1.0", None)
    translator = cls.load(None, edge_gain=2.0)
    for height, width in ((64, 48), (96, 128)):
        planes = planes_of(height, width)
        image = translator.translate(planes, np.random.default_rng(0))
        assert image.shape == (2, height, width) and image.dtype == np.float32
        assert image.min() >= -1.0 and image.max() <= 1.0
        assert np.all(image[~planes.mask] == -1.0)
        np.testing.assert_array_equal(image, translator.translate(planes, np.random.default_rng(0)))
    # The one HU edge (20 mm deep) is the brightest depth of the image.
    u, v = planes.fov.pixel_coordinates_mm()
    central = planes.fov.mask() & (np.abs(u) < 10.0)
    profile = [image[:, r, central[r]].mean() if central[r].any() else -1.0 for r in range(len(central))]
    assert abs(v[int(np.argmax(profile)), 0] - 20.0) < 3.0


def test_bad_option_is_a_clear_error(on_path: Path) -> None:
    from eusaug import EusaugError

    cls = Registry().translator("edge-echo")
    with pytest.raises(EusaugError, match="edge_gain"):
        cls.load(None, edge_gain=-1.0)


def test_environment_is_left_unchanged() -> None:
    """Runs last: after the tests above, the plugin is gone again."""
    if any(d.metadata["Name"] == DIST for d in metadata.distributions()):
        pytest.skip("the example is installed in this environment; the isolation check does not apply")
    assert all(r.name != "edge-echo" for r in Registry().plugins("translator"))


def _cli(installed: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", "import sys; from eusaug.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


def _frames(folder: Path, mean: float) -> Path:
    """Dark-surround frames whose sector holds grey levels around ``mean``."""
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for k in range(6):
        pixels = np.zeros((64, 64), np.uint8)
        pixels[8:56, 8:56] = np.clip(rng.normal(mean, 12.0, (48, 48)), 10, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"a{k}.png")
    return folder


def test_a_trainable_third_party_translator_trains_and_synthesises(installed: Path, tmp_path: Path) -> None:
    """`eusaug train --translator echo-match` gets the plugin's own options; synth then uses the model."""
    from eusaug.poses import sample_poses, save_poses

    help_text = _cli(installed, "train", "--translator", "echo-match", "--help").stdout
    assert "--quantiles" in help_text and "--ngf" not in help_text
    case = __import__("eusaug").load_case(sample_ct_path(), None, "totalsegmentator")
    poses = save_poses(tmp_path / "poses.json", sample_poses(case, "liver", 2, seed=0))
    run = tmp_path / "run"
    trained = _cli(installed, "train", "--translator", "echo-match", "--ct", str(sample_ct_path()), "--poses",
                   str(poses), "--eus", str(_frames(tmp_path / "frames", 180.0)), "--landmark", "liver",
                   "--quantiles", "8", "-o", str(run))
    assert trained.returncode == 0, trained.stdout + trained.stderr
    model = json.loads((run / "echo-match.json").read_text())
    assert model["config"]["quantiles"] == 8 and len(model["levels"]) == 8
    out = tmp_path / "seus"
    made = _cli(installed, "synth", "--ct", str(sample_ct_path()), "--translator", "echo-match", "--model", str(run),
                "--landmark", "liver", "-n", "2", "-o", str(out))
    assert made.returncode == 0, made.stdout + made.stderr
    from PIL import Image

    image = np.asarray(Image.open(out / "seus_0000.png"), np.float32)
    inside = image[image > 8]
    assert abs(np.median(inside) - 180.0) < 25.0  # the real frames' grey levels, learned


def test_a_third_party_translator_runs_in_the_pipeline(on_path: Path, tmp_path: Path) -> None:
    from eusaug.pipeline.demo import DEMO_PRESETS

    config = replace(DEMO_PRESETS["tiny"], translator="echo-match", cyclegan_preset="coarse", cyclegan_overrides={},
                     landmarks=("liver", "aorta"), minutes=None)
    report = run_pipeline(tmp_path / "run", [CaseInput("sample", sample_ct_path(), None)], config)
    assert (tmp_path / "run" / "echo-match-liver" / "echo-match.json").is_file()
    rows = (tmp_path / "run" / "synth" / "echo-match.csv").read_text().splitlines()
    assert len(rows) == 1 + config.synth_per_case * len(config.landmarks)
    assert "echo-match" in report.read_text()
