"""The paper's protocol, value by value: each test fails if a ``paper`` preset drifts from it.

Every value is the one Grimwood et al. state (quoted beside it) or, where the paper is
silent, the choice eusaug documents in docs/paper-preset.md. The CycleGAN's losses and
its denoisers are checked numerically on tiny networks, through the public step functions.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from ball_phantom import ball_liver_case
from eusaug_plugins.cyclegan import run as cyclegan_run
from eusaug_plugins.cyclegan import training as cyclegan_training
from eusaug_plugins.cyclegan.config import PRESETS, resolve_config
from eusaug_plugins.cyclegan.data import PlaneSource
from eusaug_plugins.cyclegan.training import CycleGAN, Denoisers
from eusaug_plugins.stomach_cone import StomachConeSampler

from eusaug import FieldOfView, pose_from_axes, reference_slice
from eusaug.ct.volume import DEFAULT_BONE_HU
from eusaug.evaluate import CLASSIFIER_PRESETS, FID_PRESETS, PAPER_ALPHA, compare_models
from eusaug.geometry.planes import KEPT, PAPER_GRID_PX, TOO_FEW_LANDMARK, TOO_MUCH_BONE, SliceFilter
from eusaug.io.images import write_png
from eusaug.pipeline.reproduce import REPRODUCE_PRESETS
from eusaug.poses.sampling import PAPER_FILTER

DOCS = Path(__file__).resolve().parent.parent / "docs"
TINY = dict(image_size_px=32, ngf=4, ndf=4, n_blocks=1, n_disc_layers=2, pool_size=2, crop_margin_px=4,
            precision="fp32")


# -- CycleGAN (section 2.3, and the reference implementation's defaults) ----------------------
def test_cyclegan_paper_hyperparameters():
    paper = PRESETS["paper"]
    # "A batch size of 1 was used for 200 epochs"
    assert paper.batch_size == 1 and paper.epochs == 200
    # "Other hyperparameters were set to the defaults used in the original implementation [5]":
    # cycle weight 10, identity 0.5 (of the cycle weight), Adam beta1 0.5, a pool of 50 fakes.
    assert paper.cycle_weight == 10.0 and paper.identity_weight == 0.5
    assert paper.beta_1 == 0.5 and paper.pool_size == 50
    # "Adam optimization [...] with a learning rate of 0.0002 that decayed linearly after 100 epochs"
    assert paper.learning_rate == 2e-4 and paper.decay_start == 100
    rates = [paper.learning_rate_at(e) for e in range(200)]
    assert rates[:100] == [2e-4] * 100
    steps = np.diff(rates[99:])
    assert np.allclose(steps, steps[0]) and steps[0] == pytest.approx(-2e-4 / 101)  # linear, towards zero
    # "random horizontal flips and random cropping within a 40 pixel margin"
    assert paper.crop_margin_px == 40 and paper.flip and paper.load_size_px == paper.image_size_px + 40
    # "For each epoch, a 90/10 training/validation split"
    assert paper.validation_fraction == 0.1
    # "A small pre-trained Gaussian denoising network was added before each discriminator"
    assert paper.denoiser and paper.denoiser_steps > 0
    # "Image intensity values were normalized between -1 and 1": the soft-tissue window maps onto [-1, 1].
    assert (paper.hu_level, paper.hu_width) == (40.0, 400.0)
    assert PRESETS["fast"].precision == "auto" and paper.precision == "auto"  # bf16 only where native


def test_the_hybrid_changes_only_measured_fields_in_its_fast_preset() -> None:
    from eusaug_plugins.cyclegan.config import CUT_PRESETS, HYBRID_PRESETS

    # Measured on held-out subjects (README, "Realism"): the hybrid scored better without the
    # denoiser and the identity term, with a CUT stage, and with 3 residual blocks instead of 6.
    fast, paper = HYBRID_PRESETS["fast"], HYBRID_PRESETS["paper"]
    assert not fast.denoiser and PRESETS["fast"].denoiser
    assert not fast.nce_identity and CUT_PRESETS["fast"].nce_identity
    assert fast.learned == "cut" and fast.n_blocks == 3 and PRESETS["fast"].n_blocks == 6
    assert paper.denoiser and paper.learned == "cyclegan"  # the paper's method keeps both
    assert paper.nce_identity and paper.n_blocks == PRESETS["paper"].n_blocks  # and CUT's own default
    measured = ("denoiser", "nce_identity", "learned", "n_blocks")
    rest = {k: v for k, v in fast.to_dict().items() if k not in measured}
    assert all(PRESETS["fast"].to_dict()[k] == v for k, v in rest.items() if k in PRESETS["fast"].to_dict())
    assert all(CUT_PRESETS["fast"].to_dict()[k] == v for k, v in rest.items() if k in CUT_PRESETS["fast"].to_dict())


def _tiny_images(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ct = np.tanh(rng.normal(0, 0.7, (1, 32, 32, 1))).astype(np.float32)
    eus = np.tanh(rng.normal(0.2, 0.5, (1, 32, 32, 1))).astype(np.float32)
    return ct, eus


def _np(x: tf.Tensor) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def test_losses_are_lsgan_l1_cycle_and_identity_by_hand():
    """eval_step's losses equal MSE against 1/0 targets (LSGAN) and L1 cycle/identity terms."""
    model = CycleGAN(resolve_config("paper", **TINY))
    ct, eus = _tiny_images(0)
    got = {k: float(v) for k, v in model.eval_step(tf.constant(ct), tf.constant(eus)).items()}

    g, f, d_eus, d_ct = model.g_ct2eus, model.g_eus2ct, model.d_eus, model.d_ct
    fake_eus, fake_ct = _np(g(ct, training=True)), _np(f(eus, training=True))
    rec_ct, rec_eus = _np(f(fake_eus, training=True)), _np(g(fake_ct, training=True))

    def mse(x: np.ndarray, target: float) -> float:
        return float(np.mean((x - target) ** 2))

    def l1(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(np.abs(x - y)))

    score = {name: _np(d(x, training=True)) for name, d, x in
             [("eus_fake", d_eus, fake_eus), ("ct_fake", d_ct, fake_ct), ("eus_real", d_eus, eus),
              ("ct_real", d_ct, ct)]}
    expected = {
        "generator": mse(score["eus_fake"], 1.0) + mse(score["ct_fake"], 1.0),
        "discriminator": 0.5 * (mse(score["eus_real"], 1.0) + mse(score["eus_fake"], 0.0))
        + 0.5 * (mse(score["ct_real"], 1.0) + mse(score["ct_fake"], 0.0)),
        "cycle": 10.0 * (l1(rec_ct, ct) + l1(rec_eus, eus)),
        "identity": 0.5 * 10.0 * (l1(_np(g(eus, training=True)), eus) + l1(_np(f(ct, training=True)), ct)),
    }
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)
    # Not a cross-entropy GAN: binary cross-entropy on the same scores would differ.
    bce = -np.mean(np.log(1 / (1 + np.exp(-score["eus_fake"])))) - np.mean(np.log(1 / (1 + np.exp(-score["ct_fake"]))))
    assert abs(got["generator"] - bce) > 1e-3


def _constant_denoiser(value: float, name: str) -> keras.Model:
    """A stand-in denoiser whose output is ``value`` everywhere: whatever judges it sees only that."""
    inputs = keras.Input((None, None, 1))
    return keras.Model(inputs, keras.layers.Rescaling(0.0, offset=value)(inputs), name=name)


def test_training_step_puts_each_denoiser_in_front_of_its_discriminator():
    """With the denoiser on, both discriminators judge denoised images, in the G and the D loss."""
    config = resolve_config("paper", **TINY)
    ct, eus = _tiny_images(1)
    c_ct, c_eus = 0.37, -0.52
    denoisers = Denoisers(ct=_constant_denoiser(c_ct, "spy_ct"), eus=_constant_denoiser(c_eus, "spy_eus"))
    model = CycleGAN(config, denoisers)
    # The discriminators' scores of the denoised images, before the step (the step updates the
    # generators first and the discriminators last, so both losses use these weights).
    s_eus = _np(model.d_eus(np.full_like(eus, c_eus), training=True))
    s_ct = _np(model.d_ct(np.full_like(ct, c_ct), training=True))
    draws = tf.constant([[0.9, 0.9]], tf.float32)
    slots = tf.constant([[0, 0]], tf.int32)
    losses = {k: float(v) for k, v in model.train_step(tf.constant(ct), tf.constant(eus), draws, slots).items()}

    def mse(x: np.ndarray, target: float) -> float:
        return float(np.mean((x - target) ** 2))

    assert losses["generator"] == pytest.approx(mse(s_eus, 1.0) + mse(s_ct, 1.0), rel=1e-5)
    # Real and fake are the same constant once denoised: each D loss is 0.5 (mse(s, 1) + mse(s, 0)).
    expected_d = 0.5 * (mse(s_eus, 1.0) + mse(s_eus, 0.0)) + 0.5 * (mse(s_ct, 1.0) + mse(s_ct, 0.0))
    assert losses["discriminator"] == pytest.approx(expected_d, rel=1e-5)
    # The check tells the domains apart: swapped denoisers would give another generator loss.
    swapped = mse(_np(model.d_eus(np.full_like(eus, c_ct), training=True)), 1.0) + mse(
        _np(model.d_ct(np.full_like(ct, c_eus), training=True)), 1.0)
    assert abs(swapped - losses["generator"]) > 1e-4


def test_a_run_with_the_denoiser_on_trains_and_uses_both_denoisers(tmp_path, monkeypatch):
    """train_run with denoiser on: two trained denoisers, handed to the CycleGAN, one per domain."""
    seen: list[Denoisers] = []

    class Spy(CycleGAN):
        def __init__(self, config, denoisers=None, strategy=None):
            seen.append(denoisers)
            super().__init__(config, denoisers, strategy)

    # The run loop builds its model through a ModelKind, which takes the class from the training module.
    monkeypatch.setattr(cyclegan_training, "CycleGAN", Spy)
    rng = np.random.default_rng(2)
    frames = tmp_path / "eus"
    for n in range(4):
        write_png(frames / f"f{n}.png", np.tanh(rng.normal(0, 0.5, (40, 40))).astype(np.float32))
    poses = np.stack([pose_from_axes([0.0, rng.normal(0, 2), 30.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0])
                      for _ in range(4)])
    fov = FieldOfView(depth_mm=40, opening_deg=70, height_px=32, width_px=32)
    overrides = {**TINY, "epochs": 1, "denoiser": True, "denoiser_steps": 2, "denoiser_depth": 2,
                 "denoiser_filters": 2, "denoiser_patch_px": 16}
    cyclegan_run.train_run(tmp_path / "run", [PlaneSource(ball_liver_case(), poses, fov)], frames, "liver",
                           reference_slice, preset="paper", overrides=overrides)
    (denoisers,) = seen
    assert denoisers.ct is not None and denoisers.eus is not None and denoisers.ct is not denoisers.eus
    assert (denoisers.ct.name, denoisers.eus.name) == ("denoiser_ct", "denoiser_eus")
    assert not denoisers.ct.trainable and not denoisers.eus.trainable
    assert (tmp_path / "run" / "denoiser_ct.keras").is_file() and (tmp_path / "run" / "denoiser_eus.keras").is_file()


# -- classifier (section 2.4) -------------------------------------------------------------------
def test_classifier_paper_preset():
    paper = CLASSIFIER_PRESETS["paper"]
    # "with the weights of 4.23, 4.40, 4.48, and 2.78 for aorta, background, liver and pancreas"
    assert dict(paper.class_weights) == {"aorta": 4.23, "background": 4.40, "liver": 4.48, "pancreas": 2.78}
    # "pre-trained weights from ImageNet, a batch size of 64, a learning rate of 1e-7 and 100 epochs"
    assert (paper.weights, paper.batch_size, paper.learning_rate, paper.epochs) == ("imagenet", 64, 1e-7, 100)
    # "0% synthetic + 100% real, 25% [...], 50% [...], 75% synthetic and 25% real"
    assert paper.ratios == (0.0, 0.25, 0.5, 0.75)
    assert paper.background_class == "background"
    # "All models were implemented in TensorFlow 2.2": float32, for VGG and for Inception (FID).
    assert paper.precision == "fp32" and FID_PRESETS["paper"].precision == "fp32"
    assert FID_PRESETS["paper"].weights == "imagenet" and FID_PRESETS["paper"].backbone == "inception"
    # The bad-FID control: "a Gaussian distribution with 0 mean and a standard deviation of 0.1"
    assert FID_PRESETS["paper"].noise_sd == 0.1
    assert FID_PRESETS["fast"].precision == "bf16"


def test_mcnemar_default_is_the_papers_uncorrected_one_sided_test():
    """"Single-sided McNemar tests [...] statistically significant (p < 0.05)": no correction named."""
    answers = {"a": dict.fromkeys("0123456789", True), "c": dict.fromkeys("0123456789", True),
               "b": {k: int(k) >= 5 for k in "0123456789"}}
    first = compare_models(answers, models=["a", "b", "c"])[0]
    assert PAPER_ALPHA == 0.05 and first.alternative == "greater"
    assert first.exact_p == pytest.approx(1 / 32) and first.significant  # 1/32 < 0.05 ...
    assert first.significant_holm is False  # ... though not after Holm over 3 pairs (3/32)


# -- slicing (sections 2.2 and 2.3) -------------------------------------------------------------
def test_slice_filter_thresholds_and_bone_rule():
    """">1000 labelled pixels and < 50 pixels with high Hounsfield Units, indicative of bone"."""
    paper = SliceFilter()
    assert (paper.min_landmark_px, paper.max_bone_px, PAPER_GRID_PX) == (1000, 50, 256 * 256)
    assert paper.bone_rule == "hu" and paper.bone_hu == DEFAULT_BONE_HU == 200.0
    assert PAPER_FILTER == paper and REPRODUCE_PRESETS["paper"].slice_filter == paper
    fov = FieldOfView()
    assert paper.verdicts(np.array([1001, 1000, 5000, 5000]), np.array([49, 0, 50, 0]), fov) == [
        KEPT, TOO_FEW_LANDMARK, TOO_MUCH_BONE, KEPT]


def test_default_field_of_view_and_cone():
    fov = FieldOfView()
    # The paper's imaging depths ("from 4 mm to 6 mm", i.e. 40-60 mm) contain the default depth.
    assert 40.0 <= fov.depth_mm <= 60.0 and fov.kind == "sector"
    # eusaug's choices where the paper gives no number (docs/paper-preset.md):
    assert (fov.opening_deg, fov.probe_radius_mm, fov.height_px, fov.width_px) == (60.0, 10.0, 256, 256)
    assert fov.pixel_mm == pytest.approx(2 * 60.0 * np.sin(np.deg2rad(30.0)) / 256)  # 0.234 mm
    # "randomly generating poses within a 30 deg cone normal to the stomach"
    assert StomachConeSampler().cone_deg == 30.0


def test_docs_state_the_values_the_code_uses():
    text = (DOCS / "poses-and-slicing.md").read_text()
    fov = FieldOfView()
    assert f"{fov.opening_deg:g} deg convex sector" in text
    assert f"{fov.pixel_mm:.3f} mm pixels" in text
    assert f"HU > {DEFAULT_BONE_HU:g}" in text
    assert not re.search(r"90 deg convex sector|0\.33 mm|350 HU", text)
    table = (DOCS / "paper-preset.md").read_text()
    for value in ("4.23", "4.40", "4.48", "2.78", "200 HU", "fp32", "uncorrected"):
        assert value in table


def test_paper_yaml_resolves_to_the_papers_protocol_in_run_json(tmp_path):
    """What run.json records (``asdict`` of the resolved RunConfig) for ``preset: paper``."""
    from dataclasses import asdict

    from eusaug.errors import EusaugError
    from eusaug.pipeline.reproduce import load_run_config

    path = tmp_path / "paper.yaml"
    path.write_text("preset: paper\ntest_subjects: [EUS5]\n")
    written = asdict(load_run_config(path))
    assert written["class_weights"] == {"aorta": 4.23, "background": 4.40, "liver": 4.48, "pancreas": 2.78}
    assert (written["bone_rule"], written["bone_hu"]) == ("hu", 200.0)
    assert (written["fid_precision"], written["classifier_precision"]) == ("fp32", "fp32")
    assert written["mcnemar_significance"] == "uncorrected"
    assert (written["classifier_preset"], written["cyclegan_preset"]) == ("paper", "paper")
    fast = asdict(load_run_config(None, preset="fast"))
    assert (fast["class_weights"], fast["fid_precision"]) == ("balanced", "bf16")
    path.write_text("preset: paper\nbone_rule: labels\nclass_weights: balanced\nmcnemar_significance: holm\n")
    changed = load_run_config(path)
    assert (changed.bone_rule, changed.class_weights, changed.mcnemar_significance) == ("labels", "balanced", "holm")
    assert changed.slice_filter.bone_rule == "labels"
    for bad in ("bone_rule: density", "fid_precision: fp16", "mcnemar_significance: bonferroni",
                "class_weights: inverse"):
        path.write_text(f"preset: paper\n{bad}\n")
        with pytest.raises(EusaugError, match=bad.split(":")[0]):
            load_run_config(path)
