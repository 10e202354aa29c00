"""CycleGAN training: losses fall, pools and schedules behave, runs resume exactly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from ball_phantom import ball_liver_case
from eusaug_plugins.cyclegan.config import CycleGANConfig, resolve_config
from eusaug_plugins.cyclegan.data import PlaneSource, TrainingData, load_eus_frames
from eusaug_plugins.cyclegan.run import train_run
from eusaug_plugins.cyclegan.training import CycleGAN, ImagePool

from eusaug import FieldOfView, pose_from_axes, reference_slice
from eusaug.ct.volume import CTCase
from eusaug.errors import EusaugError
from eusaug.io.images import write_png
from eusaug.plugin import parse_assignments

TINY = dict(image_size_px=32, ngf=8, ndf=8, n_blocks=1, n_disc_layers=2, pool_size=3, crop_margin_px=4,
            denoiser=False)


# -- tiny domains -------------------------------------------------------------------------
def stripes(rng: np.random.Generator, n: int, size: int = 32) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    out = [np.sin(rng.uniform(0.2, 0.6) * (x * np.cos(t) + y * np.sin(t)) + rng.uniform(0, 6.3))
           for t in rng.uniform(0, np.pi, n)]
    return np.asarray(out, np.float32)


def blobs(rng: np.random.Generator, n: int, size: int = 32) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    out = []
    for _ in range(n):
        img = -np.ones((size, size))
        for _ in range(3):
            cy, cx, r = *rng.uniform(4, size - 4, 2), rng.uniform(3, 7)
            img = np.maximum(img, 2 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r)) - 1)
        out.append(img)
    return np.asarray(out, np.float32)


@pytest.fixture(scope="module")
def phantom_case() -> CTCase:
    return ball_liver_case()


def phantom_sources(case: CTCase, count: int = 6) -> list[PlaneSource]:
    rng = np.random.default_rng(0)
    poses = [pose_from_axes(np.array([0.0, 0.0, 30.0]) + rng.normal(0, 2, 3),
                            np.array([0.0, 0.0, -1.0]) + rng.normal(0, 0.1, 3), np.array([1.0, 0.0, 0.0]))
             for _ in range(count)]
    return [PlaneSource(case, np.asarray(poses), FieldOfView(depth_mm=40, opening_deg=70, height_px=32,
                                                            width_px=32))]


def write_frames(folder: Path, count: int, size: int = 48) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, image in enumerate(stripes(np.random.default_rng(3), count, size)):
        write_png(folder / f"f{n:03d}.png", 0.8 * image)
    return folder


# -- the step ------------------------------------------------------------------------------
def test_losses_fall_on_stripes_versus_blobs() -> None:
    cfg = resolve_config("fast", **{**TINY, "precision": "fp32", "pool_size": 4})
    model = CycleGAN(cfg)
    rng = np.random.default_rng(0)
    a, b = stripes(rng, 60), blobs(rng, 60)
    history = []
    for i in range(60):
        losses = model.train_step(
            tf.constant(a[i : i + 1, ..., None]), tf.constant(b[i : i + 1, ..., None]),
            tf.constant(rng.random((1, 2), np.float32)), tf.constant(rng.integers(0, 4, (1, 2), dtype=np.int32)))
        history.append({k: float(v) for k, v in losses.items()})
    first = {k: np.mean([h[k] for h in history[:10]]) for k in history[0]}
    last = {k: np.mean([h[k] for h in history[-10:]]) for k in history[0]}
    assert last["cycle"] < 0.75 * first["cycle"], (first, last)
    assert last["identity"] < 0.75 * first["identity"], (first, last)
    assert last["discriminator"] < first["discriminator"], (first, last)
    assert model.step_count == 60


def test_image_pool_follows_the_reference_rules() -> None:
    pool = ImagePool(2, (1, 1, 1), "p")
    img = lambda v: tf.fill((1, 1, 1, 1), float(v))  # noqa: E731
    query = lambda v, u, i: float(pool.query(img(v), tf.constant([u]), tf.constant([i]))[0, 0, 0, 0])  # noqa: E731
    assert query(1, 0.9, 0) == 1.0 and query(2, 0.9, 0) == 2.0  # filling: returned as is
    assert query(3, 0.2, 0) == 3.0   # u <= 0.5: the new fake, pool unchanged
    assert query(4, 0.7, 1) == 2.0   # u > 0.5: the stored image at slot 1, replaced by 4
    assert query(5, 0.7, 1) == 4.0
    assert int(pool.count.numpy()) == 2
    assert ImagePool(0, (1, 1, 1), "off").query(img(7), tf.constant([0.9]), tf.constant([0])).numpy().item() == 7.0


def test_learning_rate_is_constant_then_decays_linearly() -> None:
    cfg = CycleGANConfig(epochs=200, learning_rate=2e-4)
    assert cfg.decay_start == 100
    assert cfg.learning_rate_at(0) == cfg.learning_rate_at(99) == 2e-4
    assert cfg.learning_rate_at(100) == pytest.approx(2e-4 * (1 - 1 / 101))
    assert cfg.learning_rate_at(199) == pytest.approx(2e-4 / 101)
    lrs = [cfg.learning_rate_at(e) for e in range(100, 200)]
    assert np.allclose(np.diff(lrs), -2e-4 / 101)


def test_config_validation_and_overrides() -> None:
    assert resolve_config("fast", ngf=16).ngf == 16
    assert parse_assignments(["denoiser=false"], CycleGANConfig) == {"denoiser": False}
    assert parse_assignments(["decay_start_epoch=none"], CycleGANConfig) == {"decay_start_epoch": None}
    with pytest.raises(EusaugError, match="image_size_px=30"):
        resolve_config("fast", image_size_px=30)
    with pytest.raises(EusaugError, match="Unknown CycleGAN option"):
        resolve_config("fast", colour=True)
    with pytest.raises(EusaugError, match="Unknown CycleGAN preset"):
        resolve_config("huge")


# -- data ----------------------------------------------------------------------------------
def test_epoch_plans_are_seeded_split_and_augmented(phantom_case, tmp_path) -> None:
    cfg = resolve_config("fast", **TINY)
    data = TrainingData(phantom_sources(phantom_case), load_eus_frames(write_frames(tmp_path, 20), cfg), cfg,
                        reference_slice)
    a, b, c = data.plan(3), data.plan(3), data.plan(4)
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.array_equal(a.train["eus"], c.train["eus"])
    assert len(a.train) == 18 and len(a.validation) == 2 == data.n_eus - data.iterations_per_epoch()
    assert not set(a.train["eus"]) & set(a.validation["eus"])
    assert a.train["ct_y"].max() <= cfg.crop_margin_px and a.train["ct_flip"].any()
    ct, eus, draws, slots = next(iter(data.dataset(a.train)))
    assert ct.shape == eus.shape == (1, 32, 32, 1)
    assert -1.0 <= float(tf.reduce_min(ct)) and float(tf.reduce_max(eus)) <= 1.0
    # CT planes are sliced on the fly: the ball (60 HU -> 0.1 in the window) is in view.
    assert np.isclose(np.asarray(ct), 0.1, atol=0.01).mean() > 0.2


def test_background_batches_equal_the_tf_data_pipeline_and_give_the_same_losses(phantom_case, tmp_path) -> None:
    """The loop's thread-prefetched batches are the ``tf.data`` pipeline's, in order, and a
    model trained on each gives bit-identical losses."""
    cfg = resolve_config("fast", **{**TINY, "precision": "fp32", "batch_size": 2})
    data = TrainingData(phantom_sources(phantom_case), load_eus_frames(write_frames(tmp_path, 11), cfg), cfg,
                        reference_slice)
    plan = data.plan(0)
    assert len(plan.train) == 10
    threaded = [tuple(np.asarray(t) for t in b) for b in data.batches(plan.train, prefetch=2)]
    piped = [tuple(np.asarray(t) for t in b) for b in data.dataset(plan.train)]
    assert len(threaded) == len(piped) == 5
    for a, b in zip(threaded, piped):
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)
    losses = []
    for feed in (data.batches(plan.train), data.dataset(plan.train)):
        model = CycleGAN(cfg)
        losses.append([{k: float(v) for k, v in model.train_step(*batch).items()} for batch in feed])
    assert losses[0] == losses[1]


def test_background_batches_stop_early_and_raise_the_threads_errors(phantom_case, tmp_path) -> None:
    cfg = resolve_config("fast", **TINY)
    data = TrainingData(phantom_sources(phantom_case), load_eus_frames(write_frames(tmp_path, 11), cfg), cfg,
                        reference_slice)
    plan = data.plan(0)
    feed = data.batches(plan.train, prefetch=1)
    next(feed)
    feed.close()  # leaving the loop early ends the thread
    broken = plan.train.copy()
    broken["pose"][3] = 10_000
    with pytest.raises(IndexError):
        list(data.batches(broken))


def test_run_meter_reports_images_per_second_and_time_left_for_the_whole_run() -> None:
    from eusaug_plugins.cyclegan.run import RunMeter, _clock_text, _describe

    now = [100.0]
    meter = RunMeter(total_steps=10, images_per_step=2, clock=lambda: now[0])
    assert np.isnan(meter.images_per_s) and np.isnan(meter.seconds_left)
    meter.step()  # the first step (tracing) starts the clock
    now[0] += 30.0
    meter.step()
    assert meter.images_per_s == pytest.approx(2 / 30.0)
    for _ in range(3):
        now[0] += 0.5
        meter.step()
    # 4 steps (8 images) in the 31.5 s since the first step ended; 5 steps (10 images) to go.
    assert meter.done == 5
    assert meter.images_per_s == pytest.approx(8 / 31.5)
    assert meter.seconds_left == pytest.approx(5 * 2 / (8 / 31.5))
    text = _describe({"generator": 1.0, "discriminator": 0.5, "cycle": 2.0, "identity": 0.25}, meter)
    assert "0.25 img/s" in text and f"run {_clock_text(meter.seconds_left)} left" in text
    assert _clock_text(3725.2) == "1:02:05"


def test_bad_eus_folders_are_clear_errors(tmp_path) -> None:
    cfg = resolve_config("fast", **TINY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EusaugError, match="holds no images"):
        load_eus_frames(tmp_path / "empty", cfg)
    write_frames(tmp_path / "small", 2, size=20)
    with pytest.raises(EusaugError, match="smaller than the training size 32"):
        load_eus_frames(tmp_path / "small", cfg)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(EusaugError, match="cannot be read"):
        load_eus_frames(tmp_path / "broken", cfg)


# -- runs ----------------------------------------------------------------------------------
def _run(path: Path, case: CTCase, frames: Path, **kwargs) -> Path:
    return train_run(path, phantom_sources(case), frames, "liver", reference_slice, **kwargs)


def test_resume_after_one_epoch_equals_two_epochs_in_one_go(phantom_case, tmp_path) -> None:
    frames = write_frames(tmp_path / "eus", 10)
    settings = {**TINY, "epochs": 2, "precision": "fp32"}
    _run(tmp_path / "once", phantom_case, frames, preset="fast", overrides=settings)
    _run(tmp_path / "split", phantom_case, frames, preset="fast", overrides=settings, stop_after=1)
    assert [p.name for p in (tmp_path / "split" / "checkpoints").iterdir()] == ["epoch-0001"]
    _run(tmp_path / "split", phantom_case, frames)  # a fresh model object, resumed from disk

    once = np.load(tmp_path / "once/checkpoints/epoch-0002/variables.npz")
    split = np.load(tmp_path / "split/checkpoints/epoch-0002/variables.npz")
    assert once.files == split.files
    for name in once.files:
        np.testing.assert_array_equal(once[name], split[name], err_msg=name)
    rows = [list(csv.DictReader(open(tmp_path / run / "losses.csv"))) for run in ("once", "split")]
    assert [r["step"] for r in rows[0]] == [r["step"] for r in rows[1]] == ["9", "18"]
    assert [r["learning_rate"] for r in rows[0]] == [r["learning_rate"] for r in rows[1]]
    assert float(rows[0][1]["learning_rate"]) == pytest.approx(1e-4)  # decays over the second half
    assert rows[0][0]["train_cycle"] == rows[1][0]["train_cycle"]
    for name in ("config.json", "losses.png", "generator_ct2eus.keras", "samples/epoch-0002.png"):
        assert (tmp_path / "split" / name).is_file()

    # Training on finished runs does nothing more; extending the epochs continues them.
    _run(tmp_path / "split", phantom_case, frames)
    assert len(list(csv.DictReader(open(tmp_path / "split/losses.csv")))) == 2
    _run(tmp_path / "split", phantom_case, frames, overrides={"epochs": 3})
    assert len(list(csv.DictReader(open(tmp_path / "split/losses.csv")))) == 3


def test_a_diverged_run_stops_at_once_and_keeps_its_last_good_epoch(phantom_case, tmp_path, monkeypatch) -> None:
    frames = write_frames(tmp_path / "eus", 10)
    steps = []
    build = CycleGAN.__init__

    def build_failing(self, *args, **kwargs):  # epoch 2's third step gives nan, as an overflowing step does
        build(self, *args, **kwargs)
        healthy = self.train_step

        def failing(*step_args):
            steps.append(1)
            losses = healthy(*step_args)
            return {k: (float("nan") if len(steps) == 9 + 3 else v) for k, v in losses.items()}

        self.train_step = failing

    monkeypatch.setattr(CycleGAN, "__init__", build_failing)
    run = tmp_path / "run"
    with pytest.raises(EusaugError, match="diverged in epoch 2: the .* loss") as caught:
        _run(run, phantom_case, frames, preset="fast", overrides={**TINY, "epochs": 3, "precision": "fp32"})
    assert "keeps the run up to epoch 1)" in str(caught.value) and "new folder" in str(caught.value)
    assert len(steps) == 12  # not one step more
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["epoch-0001"]
    rows = list(csv.DictReader(open(run / "losses.csv")))
    assert len(rows) == 1 and np.isfinite(float(rows[0]["train_cycle"]))


def test_run_folder_errors_are_clear(phantom_case, tmp_path) -> None:
    frames = write_frames(tmp_path / "eus", 4)
    run = tmp_path / "run"
    with pytest.raises(EusaugError, match="no run to resume"):
        _run(run, phantom_case, frames, resume=True)
    _run(run, phantom_case, frames, preset="fast", overrides={**TINY, "epochs": 2}, stop_after=1)
    with pytest.raises(EusaugError, match=r"other settings \(ngf: 8 -> 16\)"):
        _run(run, phantom_case, frames, overrides={"ngf": 16})
    with pytest.raises(EusaugError, match="is a 'liver' run, not 'aorta'"):
        train_run(run, phantom_sources(phantom_case), frames, "aorta", reference_slice)

    variables = run / "checkpoints" / "epoch-0001" / "variables.npz"
    data = variables.read_bytes()
    variables.write_bytes(data[: len(data) // 2])  # a half-written checkpoint
    with pytest.raises(EusaugError, match="epoch-0001.*does not match its checksum"):
        _run(run, phantom_case, frames)
    variables.write_bytes(data)

    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "format_version": 0}))
    with pytest.raises(EusaugError, match="run format 0"):
        _run(run, phantom_case, frames)

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    for force in (False, True):
        with pytest.raises(EusaugError, match="not a CycleGAN run folder"):
            _run(tmp_path / "other", phantom_case, frames, preset="fast", overrides=TINY, force=force)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"

    # --force replaces a run (even of another version), but only once the new inputs are fine.
    with pytest.raises(EusaugError, match="holds no images"):
        _run(run, phantom_case, tmp_path / "other", preset="fast", overrides=TINY, force=True)
    assert (run / "checkpoints" / "epoch-0001").is_dir()
    _run(run, phantom_case, frames, preset="fast", overrides={**TINY, "epochs": 1}, force=True)
    assert json.loads((run / "config.json").read_text())["format_version"] == 1


MIRRORED_SCRIPT = r"""
import csv, sys, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pathlib import Path
from eusaug import FieldOfView, pose_from_axes, reference_slice
from eusaug.io.images import write_png
from ball_phantom import ball_liver_case
from eusaug_plugins.cyclegan.data import PlaneSource
from eusaug_plugins.cyclegan.run import train_run
root = Path(sys.argv[1])
case = ball_liver_case()  # tests/ball_phantom.py, on the script's path
poses = np.stack([pose_from_axes(np.array([x, 0.0, 30.0]), np.array([0.0, 0.0, -1.0]), np.array([1.0, 0, 0]))
                  for x in (-2.0, 0.0, 2.0)])
fov = FieldOfView(depth_mm=40, opening_deg=70, height_px=32, width_px=32)
(root / "eus").mkdir()
for n in range(11):
    write_png(root / "eus" / f"{n}.png", np.random.default_rng(n).uniform(-1, 1, (40, 40)).astype(np.float32))
settings = dict(image_size_px=32, ngf=8, ndf=8, n_blocks=1, n_disc_layers=2, pool_size=2, crop_margin_px=4,
                denoiser=False, epochs=2, precision="fp32", distribute="mirrored")
train_run(root / "run", [PlaneSource(case, poses, fov)], root / "eus", "liver", reference_slice, preset="fast",
          overrides=settings, stop_after=1)
train_run(root / "run", [PlaneSource(case, poses, fov)], root / "eus", "liver", reference_slice)
rows = list(csv.DictReader(open(root / "run" / "losses.csv")))
print("STEPS", [r["step"] for r in rows], "FINITE", all(np.isfinite(float(r["train_cycle"])) for r in rows))
"""


def test_mirrored_strategy_over_two_logical_devices(tmp_path) -> None:
    """The multi-GPU path, on two logical CPUs: 10 training frames, 2 per step -> 5 steps an epoch."""
    import os
    import subprocess
    import sys

    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(Path(__file__).parent),
                                                                     os.environ.get("PYTHONPATH", ""))))}
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "STEPS ['5', '10'] FINITE True" in done.stdout, done.stdout
