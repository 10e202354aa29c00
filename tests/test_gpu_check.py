"""The GPU check's reduced CPU mode runs end to end, so the script a GPU machine runs cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from eusaug.io import resolve_precision

ROOT = Path(__file__).resolve().parents[1]


def _lines(text: str) -> dict[str, str]:
    pairs = (line.split(": ", 1) for line in text.splitlines() if ": " in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def test_cpu_smoke_prints_figures_and_learns() -> None:
    env = {**os.environ, "PYTHON": sys.executable, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu-smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    got = _lines(done.stdout)
    assert got["mode"] == "cpu-smoke"
    assert got["gpu"] == "none"
    precision = got["precision"]
    assert precision == resolve_precision("auto")  # on a CPU: bf16 only where it is native
    for name in (f"fast_step_{precision}_s_per_iter", f"fast_loop_{precision}_s_per_iter",
                 "fast_synth_batch4_img_per_s", "paper_synth_batch4_img_per_s"):
        assert float(got[name]) > 0, name
    first, last = float(got["learn_first_epoch_cycle_loss"]), float(got["learn_last_epoch_cycle_loss"])
    assert last < first
    assert got["learn_loss_fell"] == "yes"
    assert got["peak_gpu_memory_mib"].startswith("n/a")
    assert int(got["check_wall_s"]) >= 0


def test_unknown_option_is_refused() -> None:
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--bogus"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--bogus" in done.stderr
