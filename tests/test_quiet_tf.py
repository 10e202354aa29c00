"""TensorFlow's C++ start-up lines stay off stderr for ordinary commands; --debug shows them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eusaug.io.quiet_tf import stderr_fd_silenced

REPO = Path(__file__).resolve().parents[1]
#: absl's first-log notice and its "I0000 00:00:... file.cc:NN]" lines.
TF_STARTUP = re.compile(r"absl::InitializeLog|^[IWE]\d{4} [\d:.]+\s+\d+ \S+\.cc:\d+\]", re.MULTILINE)


def _eusaug(*args: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "GLOG", "GRPC"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-c", "from eusaug.cli import main; main()", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=REPO)


def test_fd2_is_silenced_inside_the_block_and_restored_after(capfd):
    os.write(2, b"before\n")
    with stderr_fd_silenced():
        os.write(2, b"hidden\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\nafter\n"


def test_a_command_importing_tensorflow_prints_no_startup_lines(tmp_path):
    import keras

    from eusaug.evaluate.classifier import save_classifier
    from eusaug.io.images import write_png

    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, keras.layers.Activation("softmax")(x))
    model_path = save_classifier(model, tmp_path / "m.keras", {"classes": ["a", "b"]})
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        write_png(tmp_path / "real" / name / "x.png", rng.uniform(-1, 1, (16, 16)).astype(np.float32))
    args = ("evaluate", "gradcam", "--model", model_path, "--real", tmp_path / "real")

    loud = _eusaug("--debug", *args, "-o", tmp_path / "loud")
    assert loud.returncode == 0, loud.stderr
    if not TF_STARTUP.search(loud.stderr):
        pytest.skip("this TensorFlow build prints no C++ start-up lines: nothing to hide")
    quiet = _eusaug(*args, "-o", tmp_path / "quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert not TF_STARTUP.search(quiet.stderr), quiet.stderr
    assert (tmp_path / "quiet" / "gradcam.csv").is_file()
    # User errors still reach the terminal.
    failed = _eusaug(*args, "-o", tmp_path / "quiet")
    assert failed.returncode == 2 and "gradcam.csv" in failed.stderr and "Error:" in failed.stderr
