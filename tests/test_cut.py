"""``cut`` (contrastive unpaired translation): PatchNCE's known answers, training on the
shipped CT, synthesis and resume through the CLI, and the hybrid with a CUT stage."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from eusaug_plugins.cyclegan.config import CUT_PRESETS, CUTConfig, HybridConfig, resolve_config
from eusaug_plugins.cyclegan.cut_model import CUT, patch_nce_loss

from eusaug import FieldOfView, Registry, load_case, sample_ct_path, sample_labels_path
from eusaug.cli import main
from eusaug.errors import EusaugError
from eusaug.io.images import read_grey_uint8, write_png
from eusaug.poses.sampling import sample_poses, save_poses

TINY = ["--image-size-px", "32", "--ngf", "8", "--n-blocks", "1", "--precision", "fp32", "--no-denoiser",
        "--set", "ndf=8", "--set", "n_disc_layers=2", "--set", "crop_margin_px=4", "--set", "nce_patches=64",
        "--set", "nce_mlp_units=32", "--set", "learning_rate=1e-3"]


# -- PatchNCE ------------------------------------------------------------------------------
def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def test_matching_features_score_lower_than_shuffled_ones() -> None:
    rng = np.random.default_rng(0)
    q = unit(rng.normal(size=(2, 16, 8)))
    matched = float(patch_nce_loss(q, q, 0.07))
    shuffled = float(patch_nce_loss(q, q[:, rng.permutation(16)], 0.07))
    assert matched < 0.5 < shuffled


def test_patch_nce_equals_the_hand_computed_infonce() -> None:
    # One image, two locations: q0 = (1, 0), q1 = (0, 1); k0 = (0.6, 0.8), k1 = (1, 0); tau = 0.5.
    q = np.array([[[1.0, 0.0], [0.0, 1.0]]], np.float32)
    k = np.array([[[0.6, 0.8], [1.0, 0.0]]], np.float32)
    # q0: positive k0 (0.6 / 0.5 = 1.2), negative k1 (1 / 0.5 = 2); q1: positive k1 (0), negative k0 (1.6).
    loss0 = -math.log(math.exp(1.2) / (math.exp(1.2) + math.exp(2.0)))
    loss1 = -math.log(math.exp(0.0) / (math.exp(1.6) + math.exp(0.0)))
    assert float(patch_nce_loss(q, k, 0.5)) == pytest.approx((loss0 + loss1) / 2, rel=1e-5)


def test_cut_config_checks_its_layers_and_presets() -> None:
    assert CUT_PRESETS["fastcut"].nce_weight == 10 and not CUT_PRESETS["fastcut"].nce_identity
    assert CUT_PRESETS["fast"].image_size_px == 128 and CUT_PRESETS["fast"].nce_identity
    with pytest.raises(EusaugError, match="nce_layers='block4_add'"):
        CUTConfig(n_blocks=2, nce_layers="block4_add")
    with pytest.raises(EusaugError, match="Unknown CUT option"):
        CUTConfig().replace(cycle_wait=1)
    with pytest.raises(EusaugError, match="learned='unit'"):
        HybridConfig(learned="unit")


def test_cut_step_learns_one_generator_and_one_discriminator() -> None:
    cfg = resolve_config("fast", CUT_PRESETS, image_size_px=32, ngf=8, ndf=8, n_blocks=1, n_disc_layers=2,
                         denoiser=False, precision="fp32", nce_patches=32, nce_mlp_units=16, nce_identity=False,
                         nce_weight=10.0, flip_equivariance=True)
    model = CUT(cfg)
    assert {m.name for m in (model.g_ct2eus, model.d_eus)} == {"g_ct2eus", "d_eus"}
    assert len(model.heads) == 5 and "rng/state" in model.state_variables()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32))
    y = tf.constant(rng.uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32))
    before = [v.numpy().copy() for v in model.generator_variables]
    losses = model.train_step(x, y, tf.zeros((1, 2)), tf.zeros((1, 2), tf.int32))
    assert float(losses["nce_identity"]) == 0.0 and float(losses["nce"]) > 0
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.generator_variables))
    # Validation draws the same patch locations every time.
    assert float(model.eval_step(x, y)["nce"]) == float(model.eval_step(x, y)["nce"])


# -- training and synthesis on the shipped CT ----------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Poses on the shipped CT and stand-in frames: raysim images of other planes of it."""
    root = tmp_path_factory.mktemp("cut")
    case = load_case(sample_ct_path(), sample_labels_path())
    fov = FieldOfView(height_px=32, width_px=32)
    poses = save_poses(root / "liver.json", sample_poses(case, "liver", 6, seed=2, fov=fov))
    big = FieldOfView(height_px=40, width_px=40)
    other = sample_poses(case, "liver", 10, seed=9, fov=big)
    from eusaug import reference_slice

    raysim = Registry().translator("raysim").load(None, preset="eus")
    frames = root / "eus"
    frames.mkdir()
    for k, image in enumerate(raysim.translate(reference_slice(case, other.poses, big), np.random.default_rng(1))):
        write_png(frames / f"{k:02d}.png", image)
    return {"poses": poses, "eus": frames}


def run(*args: str) -> object:
    return CliRunner().invoke(main, ["--quiet", *args])


def train_args(inputs: dict[str, Path], run_dir: Path) -> list[str]:
    return ["train", "--ct", str(sample_ct_path()), "--labels", str(sample_labels_path()), "--poses",
            str(inputs["poses"]), "--eus", str(inputs["eus"]), "--landmark", "liver", "-o", str(run_dir)]


def synth(run_dir: Path, out: Path, translator: str) -> list[np.ndarray]:
    made = run("synth", "--ct", str(sample_ct_path()), "--labels", str(sample_labels_path()), "--landmark", "liver",
               "--translator", translator, "--model", str(run_dir), "-n", "2", "-o", str(out))
    assert made.exit_code == 0, made.output
    return [read_grey_uint8(p) for p in sorted(out.glob("seus_*.png"))]


def test_cut_trains_resumes_and_synthesises_through_the_cli(inputs, tmp_path) -> None:
    run_dir = tmp_path / "cut"
    first = run(*train_args(inputs, run_dir), "--translator", "cut", "--epochs", "4", "--stop-after", "3", *TINY)
    assert first.exit_code == 0, first.output
    rows = list(csv.DictReader(open(run_dir / "losses.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert {"train_nce", "train_nce_identity", "train_generator", "train_discriminator"} <= set(rows[0])
    assert "train_cycle" not in rows[0]  # one-sided: no cycle loss
    assert float(rows[-1]["train_nce"]) < float(rows[0]["train_nce"])
    assert float(rows[-1]["train_nce_identity"]) < float(rows[0]["train_nce_identity"])
    # The discriminator's loss is a game's, not a fit's: it need not fall, only stay a real contest (finite, and
    # below what a discriminator that says 1 for everything would score, 0.5 for LSGAN's two halves).
    assert all(0.0 < float(r["train_discriminator"]) < 0.5 for r in rows), [r["train_discriminator"] for r in rows]
    record = json.loads((run_dir / "config.json").read_text())
    assert record["translator"] == "cut" and record["config"]["nce_patches"] == 64
    assert not (run_dir / "denoiser_ct.keras").exists()
    # Resuming continues after epoch 3 with the run's own settings.
    again = run(*train_args(inputs, run_dir), "--translator", "cut", "--resume")
    assert again.exit_code == 0, again.output
    rows = list(csv.DictReader(open(run_dir / "losses.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert int(rows[3]["step"]) == 4 * int(rows[0]["step"])
    images = synth(run_dir, tmp_path / "seus", "cut")
    fov = FieldOfView.from_dict(record["inputs"]["field_of_view"])
    assert len(images) == 2 and all(image.shape == (32, 32) for image in images)
    for image in images:
        assert np.all(image[~fov.mask()] == 0)  # -1 (black) outside the fan
        assert image[fov.mask()].std() > 0
    listing = run("models")
    assert "cut" in listing.output
    wrong = run("synth", "--ct", str(sample_ct_path()), "--landmark", "liver", "--translator", "cyclegan", "--model",
                str(run_dir), "-n", "1", "-o", str(tmp_path / "wrong"))
    assert wrong.exit_code == 2 and "is a cut run, not cyclegan: use --translator cut" in wrong.output


def test_hybrid_with_a_cut_stage_trains_and_synthesises(inputs, tmp_path) -> None:
    run_dir = tmp_path / "hybrid"
    result = run(*train_args(inputs, run_dir), "--translator", "hybrid", "--learned", "cut", "--epochs", "1", *TINY)
    assert result.exit_code == 0, result.output
    record = json.loads((run_dir / "config.json").read_text())
    assert record["translator"] == "hybrid" and record["config"]["learned"] == "cut"
    assert "train_nce" in next(csv.DictReader(open(run_dir / "losses.csv")))
    hybrid = Registry().translator("hybrid").load(run_dir)
    assert hybrid.config.learned == "cut" and hybrid.raysim is not None
    images = synth(run_dir, tmp_path / "seus", "hybrid")
    assert len(images) == 2 and all(image.shape == (32, 32) for image in images)



# -- the run loop with CUT (the ball phantom: fast) ---------------------------------------------------
PHANTOM_FOV = FieldOfView(depth_mm=40, opening_deg=70, height_px=36, width_px=50)
SMALL = dict(image_size_px=16, ngf=4, ndf=4, n_blocks=1, n_disc_layers=2, denoiser=False, precision="fp32",
             crop_margin_px=4, epochs=1, nce_patches=16, nce_mlp_units=8)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, Path]:
    from ball_phantom import ball_liver_case
    from eusaug_plugins.cyclegan.data import PlaneSource

    from eusaug import pose_from_axes

    rng = np.random.default_rng(0)
    poses = np.asarray([pose_from_axes(np.array([0.0, 0.0, 30.0]) + rng.normal(0, 2, 3), np.array([0.0, 0.0, -1.0]),
                                       np.array([1.0, 0.0, 0.0])) for _ in range(4)])
    frames = tmp_path_factory.mktemp("phantom_eus")
    for n in range(6):
        write_png(frames / f"f{n}.png", rng.uniform(-1, 1, (36, 50)).astype(np.float32))
    return [PlaneSource(ball_liver_case(), poses, PHANTOM_FOV)], frames


def train_cut(run_dir: Path, phantom: tuple[list, Path], **kwargs: object) -> Path:
    from eusaug_plugins.cyclegan.kinds import CUT_KIND
    from eusaug_plugins.cyclegan.run import train_run

    from eusaug import reference_slice

    return train_run(run_dir, phantom[0], phantom[1], "liver", reference_slice, kind=CUT_KIND, **kwargs)


def test_resumed_cut_run_equals_one_in_one_go(phantom, tmp_path) -> None:
    """The step's random stream (patch locations, flips) is checkpointed with the weights."""
    settings = {**SMALL, "epochs": 2, "flip_equivariance": True}
    train_cut(tmp_path / "once", phantom, preset="fast", overrides=settings)
    train_cut(tmp_path / "split", phantom, preset="fast", overrides=settings, stop_after=1)
    train_cut(tmp_path / "split", phantom)
    once = np.load(tmp_path / "once/checkpoints/epoch-0002/variables.npz")
    split = np.load(tmp_path / "split/checkpoints/epoch-0002/variables.npz")
    assert once.files == split.files and any("nce_head" in name for name in once.files)
    for name in once.files:
        np.testing.assert_array_equal(once[name], split[name], err_msg=name)


def test_patch_trained_cut_translates_whole_planes_at_their_grid(phantom, tmp_path) -> None:
    """``patch_training``: 16 px crops in training, then whole 36x50 planes (the CycleGAN's path)."""
    from eusaug_plugins.cyclegan.cut import CUTTranslator

    from eusaug import reference_slice

    train_cut(tmp_path / "run", phantom, preset="fast", overrides={**SMALL, "patch_training": True})
    translator = CUTTranslator.load(tmp_path / "run")
    assert translator.image_size_px is None and translator.field_of_view == PHANTOM_FOV
    source = phantom[0][0]
    out = translator.translate(reference_slice(source.case, source.poses[:2], PHANTOM_FOV), np.random.default_rng(0))
    assert out.shape == (2, 36, 50)
    assert np.all(out[:, ~PHANTOM_FOV.mask()] == -1.0) and out[:, PHANTOM_FOV.mask()].std() > 0
    assert "PatchNCE x1 + identity" in CUTTranslator.summary(tmp_path / "run")
