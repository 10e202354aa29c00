"""Training on several devices and processes (``tf.distribute``), without GPUs.

Logical CPU devices stand in for GPUs and worker processes on 127.0.0.1 for machines;
both must be set up before TensorFlow starts, so each case runs in a fresh subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eusaug import EusaugError, FieldOfView, sample_ct_path, sample_labels_path
from eusaug.io import cluster_environment, parse_devices
from eusaug.io.images import write_png

#: float32 losses of a 1-device run and a 2-replica run of the same global batch differ
#: only by summation order (the all-reduce adds two half-batch gradients, one device sums
#: the batch at once): ~1e-7 relative per operation. Adam divides each gradient by its own
#: running scale, so a parameter whose gradient is ~0 may move by up to the learning rate
#: (2e-4) either way; over 3 steps the losses differed by at most 2e-5 relative (CycleGAN;
#: CUT 1e-6). 1e-3 relative (plus 1e-5 absolute for losses near 0) leaves a 50x margin and
#: still catches a replica that trains on the wrong images, samples other patches, or keeps
#: weights of its own (differences of percents). A wrong loss scale hardly moves Adam's
#: steps, so the optimisers' moments are compared as well.
RTOL, ATOL = 1e-3, 1e-5

SAME_LOSSES_SCRIPT = r"""
import json, sys
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from eusaug_plugins.cyclegan.config import CUTConfig, CycleGANConfig
from eusaug_plugins.cyclegan.cut_model import CUT
from eusaug_plugins.cyclegan.training import CycleGAN
from eusaug.io import choose_placement

tiny = dict(image_size_px=32, ngf=8, ndf=8, n_blocks=1, n_disc_layers=2, denoiser=False, precision="fp32",
            pool_size=50, crop_margin_px=0)
rng = np.random.default_rng(0)
steps = [tuple(np.asarray(a, dtype) for a, dtype in (
    (rng.uniform(-1, 1, (2, 32, 32, 1)), np.float32), (rng.uniform(-1, 1, (2, 32, 32, 1)), np.float32),
    (rng.uniform(0, 1, (2, 2)), np.float32), (rng.integers(0, 50, (2, 2)), np.int32))) for _ in range(3)]
two = choose_placement("2")
assert two.kind == "mirrored" and two.replicas == 2, two
out = {}
for name, model_class, config_class in (("cyclegan", CycleGAN, CycleGANConfig), ("cut", CUT, CUTConfig)):
    one = model_class(config_class(batch_size=2, **tiny))
    split = model_class(config_class(batch_size=1, **tiny), strategy=two.strategy)
    assert split.global_batch_size == 2
    rows = {"one": [], "two": []}
    for batch in steps:
        rows["one"].append({k: float(v) for k, v in one.train_step(*batch).items()})
        for dist in split.distribute(tf.data.Dataset.from_tensors(batch)):
            rows["two"].append({k: float(v) for k, v in split.train_step(*dist).items()})
    # Adam's moments hold the gradients' scale (Adam's steps barely depend on it): a sum over
    # replicas instead of a mean would make the first moments 2x, the second 4x.
    rows["moments"] = [float(sum(np.linalg.norm(np.asarray(v, np.float64)) for v in m.opt_g.variables[2:]))
                       for m in (one, split)]
    out[name] = rows
print("LOSSES " + json.dumps(out))
"""

WORKER_SCRIPT = r"""
import json, sys
import numpy as np
from pathlib import Path
from eusaug import FieldOfView, pose_from_axes, reference_slice
from ball_phantom import ball_liver_case
from eusaug_plugins.cyclegan.data import PlaneSource
from eusaug_plugins.cyclegan.run import train_run
root = Path(sys.argv[1])
case = ball_liver_case()  # tests/ball_phantom.py, on the script's path
poses = np.stack([pose_from_axes(np.array([x, 0.0, 30.0]), np.array([0.0, 0.0, -1.0]), np.array([1.0, 0, 0]))
                  for x in (-2.0, 0.0, 2.0)])
fov = FieldOfView(depth_mm=40, opening_deg=70, height_px=32, width_px=32)
settings = dict(image_size_px=32, ngf=8, ndf=8, n_blocks=1, n_disc_layers=2, pool_size=2, crop_margin_px=4,
                denoiser=False, epochs=2, precision="fp32", val_planes=0)
rows = []
train_run(root / "run", [PlaneSource(case, poses, fov)], root / "eus", "liver", reference_slice, preset="fast",
          overrides=settings, on_epoch=rows.append)
print("ROWS " + json.dumps([{k: v for k, v in r.items() if k.startswith("train_") or k == "step"} for r in rows]))
"""


def _with_tests_on_path() -> str:
    """PYTHONPATH for a script that imports the tests' shared phantoms (tests/ball_phantom.py)."""
    return os.pathsep.join(p for p in (str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")) if p)


def _run_script(script: str, args: list[str], env: dict[str, str] | None = None, timeout: float = 240) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": _with_tests_on_path(),
                               **(env or {})})
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def _tagged(stdout: str, tag: str) -> object:
    lines = [line for line in stdout.splitlines() if line.startswith(tag + " ")]
    assert lines, stdout[-2000:]
    return json.loads(lines[-1][len(tag) + 1 :])


def test_devices_and_cluster_environment_are_read_as_documented() -> None:
    assert parse_devices("all") is None and parse_devices("auto") == 0 and parse_devices(" 3 ") == 3
    with pytest.raises(EusaugError, match="--devices '0'"):
        parse_devices("0")
    two = json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}})
    assert cluster_environment({"TF_CONFIG": two}) == "tf_config"
    assert cluster_environment({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})}) is None
    assert cluster_environment({"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4"}) == "slurm"
    assert cluster_environment({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) is None
    with pytest.raises(EusaugError, match="TF_CONFIG"):
        cluster_environment({"TF_CONFIG": "[1, 2"})
    from eusaug.pipeline.run_config import RunConfig

    assert RunConfig(devices="all").devices == "all"
    with pytest.raises(EusaugError, match="devices: 'two'"):
        RunConfig(devices="two")


def test_two_logical_devices_give_one_devices_losses() -> None:
    """A CycleGAN and a CUT: 3 steps of a global batch of 2, on one device and split over two."""
    losses = _tagged(_run_script(SAME_LOSSES_SCRIPT, []), "LOSSES")
    for name, rows in losses.items():
        one_moments, two_moments = rows["moments"]
        assert two_moments == pytest.approx(one_moments, rel=1e-2), name
        assert len(rows["one"]) == len(rows["two"]) == 3, name
        for step, (one, two) in enumerate(zip(rows["one"], rows["two"])):
            assert one.keys() == two.keys()
            for key in one:
                assert np.isfinite(one[key]), (name, step, key)
                assert two[key] == pytest.approx(one[key], rel=RTOL, abs=ATOL), (name, step, key, one, two)
        # the steps did train: the losses moved
        assert rows["one"][0]["generator"] != rows["one"][-1]["generator"], name


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_two_workers_train_one_run_and_only_the_chief_writes(tmp_path) -> None:
    (tmp_path / "eus").mkdir()
    for n in range(9):  # no validation (val_planes=0): 9 frames make 4 steps of 2 (1 per worker) an epoch
        write_png(tmp_path / "eus" / f"{n}.png", np.random.default_rng(n).uniform(-1, 1, (40, 40)).astype(np.float32))
    hosts = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        scratch = tmp_path / f"tmp{index}"
        scratch.mkdir()
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TMPDIR": str(scratch), "TF_CPP_MIN_LOG_LEVEL": "2",
               "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": _with_tests_on_path()}
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, str(tmp_path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-4000:]
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    chief, other = (_tagged(out, "ROWS") for out in outputs)
    assert [r["step"] for r in chief] == [r["step"] for r in other] == [4, 8]
    for a, b in zip(chief, other):
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-6), (key, a, b)
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]
    record = json.loads((run / "config.json").read_text())
    assert record["strategy"]["kind"] == "multi_worker_mirrored"
    assert record["strategy"]["workers"] == 2 and record["strategy"]["replicas"] == 2
    assert record["strategy"]["task"] == "worker:0"  # written by the chief alone
    assert (run / "generator_ct2eus.keras").is_file() and (run / "losses.csv").is_file()
    assert not any((tmp_path / "tmp1").iterdir())  # the other worker's scratch folder is gone
    assert not list(run.rglob("*.partial*")) and not list(run.rglob(".*tmp*"))


def test_eusaug_train_devices_2_on_a_split_cpu(tmp_path) -> None:
    """``eusaug train --devices 2`` with ``EUSAUG_CPU_DEVICES=2``: two replicas, recorded in config.json."""
    from eusaug import load_case
    from eusaug.poses.sampling import sample_poses, save_poses

    case = load_case(sample_ct_path(), sample_labels_path())
    poses = save_poses(tmp_path / "liver.json", sample_poses(case, "liver", 4, seed=2,
                                                             fov=FieldOfView(height_px=32, width_px=32)))
    (tmp_path / "eus").mkdir()
    for n in range(5):
        write_png(tmp_path / "eus" / f"{n}.png", np.random.default_rng(n).uniform(-1, 1, (40, 44)).astype(np.float32))
    run = tmp_path / "run"
    args = ["train", "--ct", str(sample_ct_path()), "--labels", str(sample_labels_path()), "--poses", str(poses),
            "--eus", str(tmp_path / "eus"), "--landmark", "liver", "-o", str(run), "--preset", "fast",
            "--epochs", "1", "--image-size-px", "32", "--ngf", "8", "--n-blocks", "1", "--precision", "fp32",
            "--no-denoiser", "--option", "ndf=8", "--option", "n_disc_layers=2", "--option", "crop_margin_px=4",
            "--option", "val_planes=0", "--devices", "2"]
    script = "import sys; from eusaug.cli import main; sys.exit(main(sys.argv[1:]))"
    _run_script(script, ["--quiet", *args], env={"EUSAUG_CPU_DEVICES": "2"})
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["devices"] == "2"
    assert record["strategy"]["kind"] == "mirrored" and record["strategy"]["replicas"] == 2
    assert len(record["strategy"]["devices"]) == 2 and record["strategy"]["workers"] == 1
    assert (run / "checkpoints" / "epoch-0001").is_dir()


def test_more_devices_than_the_machine_has_is_a_clean_error(tmp_path) -> None:
    script = ("from eusaug.io import choose_placement\nfrom eusaug import EusaugError\n"
              "try:\n    choose_placement('3')\nexcept EusaugError as e:\n    print('ERR', e)\n")
    out = _run_script(script, [], env={"EUSAUG_CPU_DEVICES": "2"})
    assert "ERR --devices 3: this machine has 2 CPU device(s)" in out


CLASSIFIER_SCRIPT = r"""
import json, sys
from dataclasses import replace
from pathlib import Path
import numpy as np
from eusaug.evaluate.classifier import CLASSIFIER_PRESETS, ratio_sweep
from eusaug.io.images import write_png
root = Path(sys.argv[1])
rng = np.random.default_rng(0)
for name, centre in (("aorta", (10, 10)), ("liver", (22, 22))):
    for set_name, count in (("real", 8), ("synthetic", 4)):
        for k in range(count):
            image = rng.normal(-0.5, 0.2, (32, 32))
            image[centre[0] - 4 : centre[0] + 4, centre[1] - 4 : centre[1] + 4] = 0.8
            write_png(root / set_name / name / f"{'ab'[k % 2]}{k}.png", np.clip(image, -1, 1).astype(np.float32))
base = replace(CLASSIFIER_PRESETS["fast"], input_size_px=32, epochs=2, batch_size=4, ratios=(0.0,),
               test_subjects=("b",), weights=None, learning_rate=float(sys.argv[2]))
losses = {}
for devices in ("2",):
    ratio_sweep(root / "real", root / "synthetic", root / devices, replace(base, devices=devices))
    losses[devices] = [float(line.split(",")[-1]) for line in (root / devices / "history.csv").read_text().split()[1:]]
print("CLASSIFIER " + json.dumps({"losses": losses,
                                  "record": json.loads((root / "2" / "classifier.json").read_text())}))
"""


def test_classifier_trains_on_two_devices_as_on_one(tmp_path) -> None:
    """``devices=2`` (EUSAUG_CPU_DEVICES=2): Keras ``fit`` splits each batch of 4 over two replicas.

    At a learning rate of 1e-6 the random VGG-16 trains smoothly (loss ~21 -> ~5..8 in two
    epochs). Its losses are not compared with one device's: the classifier's Keras
    ``PyDataset`` feeding is not repeatable from run to run even on one device (the same
    script gave 20.8 and 18.0 as the first epoch's loss), so only the split, the training
    and the record are checked here.
    """
    out = _tagged(_run_script(CLASSIFIER_SCRIPT, [str(tmp_path), "1e-6"], env={"EUSAUG_CPU_DEVICES": "2"}),
                  "CLASSIFIER")
    record = out["record"]
    assert record["devices"] == "2" and record["strategy"]["kind"] == "mirrored"
    assert record["strategy"]["replicas"] == 2
    two = out["losses"]["2"]
    assert len(two) == 2 and all(np.isfinite(two)) and two[1] < two[0]
