"""The CycleGAN networks: shapes, value ranges, custom layers, safe-mode round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from eusaug_plugins.cyclegan.config import PRESETS
from eusaug_plugins.cyclegan.networks import (
    InstanceNormalization,
    ReflectionPadding2D,
    build_discriminator,
    build_generator,
)

from eusaug.io.checkpoint import load_keras_model, save_keras_model


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 1)).astype(np.float32)


@pytest.mark.parametrize("preset, patches", [("paper", 30), ("fast", 14)])
def test_preset_networks_have_reference_shapes(preset: str, patches: int) -> None:
    cfg = PRESETS[preset]
    gen = build_generator(cfg.image_size_px, cfg.ngf, cfg.n_blocks, dtype=cfg.dtype_policy)
    disc = build_discriminator(cfg.image_size_px, cfg.ndf, cfg.n_disc_layers, dtype=cfg.dtype_policy)
    x = _images(1, cfg.image_size_px)
    y = np.asarray(gen(x))
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.all(np.abs(y) <= 1.0) and y.std() > 0
    score = np.asarray(disc(x))
    # 70x70 PatchGAN: 256 -> 30x30 scores, 128 -> 14x14.
    assert score.shape == (1, patches, patches, 1) and score.dtype == np.float32
    blocks = [layer for layer in gen.layers if layer.name.endswith("_add")]
    assert len(blocks) == cfg.n_blocks
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in gen.layers + disc.layers)


def test_reflection_padding_mirrors_the_border() -> None:
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    y = np.asarray(ReflectionPadding2D(1)(x))[0, :, :, 0]
    assert y.shape == (5, 5)
    np.testing.assert_array_equal(y[1:4, 1:4], x[0, :, :, 0])
    np.testing.assert_array_equal(y[0, 1:4], x[0, 1, :, 0])  # row above = the second row
    np.testing.assert_array_equal(y[1:4, 0], x[0, :, 1, 0])


@pytest.mark.parametrize("padding", [1, 3])
def test_reflection_padding_inference_path_equals_the_mirror_pad_kernel(padding: int) -> None:
    x = np.random.default_rng(5).normal(size=(2, 9, 7, 3)).astype(np.float32)
    layer = ReflectionPadding2D(padding)
    inference = np.asarray(layer(x, training=False))
    mirror = np.asarray(layer(x, training=True))
    assert inference.shape == (2, 9 + 2 * padding, 7 + 2 * padding, 3)
    np.testing.assert_array_equal(inference, mirror)
    np.testing.assert_array_equal(inference[:, padding - 1, padding:-padding], x[:, 1])  # the row above mirrors row 1


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_instance_norm_gives_zero_mean_unit_variance_per_image_and_channel(dtype: str) -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(3.0, 5.0, (2, 16, 16, 3)) * np.array([1, 2, 3])).astype(np.float32)
    y = np.asarray(InstanceNormalization(dtype=dtype)(x), dtype=np.float32)
    tol = 1e-4 if dtype == "float32" else 3e-2
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=tol)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=tol * 3)


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_saved_generator_reloads_in_safe_mode_with_same_output(tmp_path, dtype: str) -> None:
    gen = build_generator(32, ngf=8, n_blocks=2, dtype=dtype, seed=3)
    x = _images(2, 32, seed=4)
    path = save_keras_model(gen, tmp_path / "g.keras")
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(gen(x)))
    assert load_keras_model(path).count_params() == gen.count_params()
    assert not list(tmp_path.glob(".*"))  # no temporary left behind


def test_seeded_builds_are_identical_and_seeds_differ() -> None:
    a, b, c = (build_generator(32, 8, 1, seed=s) for s in (5, 5, 6))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    # The reference initialisation: N(0, 0.02).
    assert abs(float(np.std(build_generator(32, 32, 1).get_weights()[2])) - 0.02) < 0.002


def _upsampling_path(upsample: str) -> keras.Model:
    """The generator from its last residual block to the output (the two upsamplings and conv_out)."""
    gen = build_generator(64, ngf=8, n_blocks=1, seed=2, upsample=upsample)
    return keras.Model(gen.get_layer("block0_add").output, gen.output)


def test_transposed_convolutions_paint_a_checkerboard_and_resize_convolutions_do_not() -> None:
    """A constant feature map into the upsampling path: the transposed convolutions' uneven
    kernel overlap turns it into a periodic pattern (period 2 from the last upsampling, 4
    from both); resize-convolution keeps it constant."""
    features = np.ones((1, 16, 16, 32), np.float32)
    transposed = np.asarray(_upsampling_path("transpose")(features))[0, 12:-12, 12:-12, 0]
    resized = np.asarray(_upsampling_path("resize")(features))[0, :, :, 0]

    assert resized.std() < 1e-6  # nothing but the output bias: no pattern at all
    assert transposed.std() > 1e-3
    # Away from the border the transposed output repeats every 4 pixels in y and x, not every 1 or 2...
    np.testing.assert_allclose(transposed[4:, :], transposed[:-4, :], atol=1e-5)
    np.testing.assert_allclose(transposed[:, 4:], transposed[:, :-4], atol=1e-5)
    assert np.abs(transposed[2:, :] - transposed[:-2, :]).max() > 1e-3
    # ... so all its energy sits at the pattern's frequencies (periods 4 and 2), none elsewhere.
    power = np.abs(np.fft.fft2(transposed - transposed.mean())) ** 2
    k = np.arange(transposed.shape[0]) % (transposed.shape[0] // 4) == 0
    assert power[np.ix_(k, k)].sum() > 0.999 * power.sum()
    assert power[transposed.shape[0] // 2, :].sum() + power[:, transposed.shape[0] // 2].sum() > 0.01 * power.sum()


def test_resize_upsampling_generator_has_the_same_shapes_and_saves() -> None:
    gen = build_generator(32, ngf=8, n_blocks=1, upsample="resize")
    x = _images(2, 32)
    y = np.asarray(gen(x))
    assert y.shape == x.shape and np.all(np.abs(y) <= 1) and y.std() > 0
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in gen.layers)
    with pytest.raises(ValueError, match="upsample"):
        build_generator(32, ngf=8, n_blocks=1, upsample="bilinear")


def test_upsample_is_a_config_option(tmp_path) -> None:
    from eusaug_plugins.cyclegan.config import CycleGANConfig, resolve_config
    from eusaug_plugins.cyclegan.training import CycleGAN

    from eusaug.errors import EusaugError
    from eusaug.plugin import parse_assignments

    assert PRESETS["paper"].upsample == "transpose"
    assert parse_assignments(["upsample=resize"], CycleGANConfig) == {"upsample": "resize"}
    with pytest.raises(EusaugError, match="upsample"):
        resolve_config("fast", upsample="bicubic")
    cfg = resolve_config("fast", image_size_px=32, ngf=8, ndf=8, n_blocks=1, n_disc_layers=2, upsample="resize",
                         denoiser=False)
    model = CycleGAN(cfg)
    assert "up0_resize" in [layer.name for layer in model.g_ct2eus.layers]
    assert "resize upsampling" in cfg.summary()


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_fused_instance_norm_matches_the_textbook_expression_and_its_gradient(dtype: str, batch: int) -> None:
    import tensorflow as tf
    from eusaug_plugins.cyclegan.networks import instance_norm

    rng = np.random.default_rng(2)
    # Each image and channel its own mean and spread, so statistics pooled over the batch would show.
    x32 = rng.normal(0.0, 1.0, (batch, 9, 7, 3)) * rng.uniform(0.5, 4.0, (batch, 1, 1, 3)) + rng.uniform(
        -5.0, 5.0, (batch, 1, 1, 3))
    x = tf.cast(tf.constant(x32.astype(np.float32)), dtype)
    weights = tf.constant(rng.normal(0.0, 1.0, x32.shape).astype(np.float32))

    def textbook(v):  # differentiated op by op
        v = tf.cast(v, tf.float32)
        mean, variance = tf.nn.moments(v, axes=[1, 2], keepdims=True)
        return (v - mean) * tf.math.rsqrt(variance + 1e-5)

    grads, outs = [], []
    for fn in (instance_norm, textbook):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
        outs.append(np.asarray(tf.cast(y, tf.float32)))
        grads.append(np.asarray(tf.cast(tape.gradient(loss, x), tf.float32)))
    assert instance_norm(x).dtype == x.dtype
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5 if dtype == "float32" else 2e-2)
    scale = np.abs(grads[1]).max()
    np.testing.assert_allclose(grads[0] / scale, grads[1] / scale, atol=1e-5 if dtype == "float32" else 2e-2)


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_instance_norm_gives_the_same_values_in_inference_as_in_training(dtype: str) -> None:
    """Float32 inference takes reductions written out (no transposes), training the fused kernel."""
    rng = np.random.default_rng(4)
    x = (rng.normal(0.0, 1.0, (3, 12, 10, 5)) * rng.uniform(0.5, 4.0, (3, 1, 1, 5)) + rng.uniform(-5, 5, (3, 1, 1, 5)))
    layer = InstanceNormalization(dtype=dtype)
    trained = np.asarray(layer(x.astype(np.float32), training=True), np.float32)
    inferred = np.asarray(layer(x.astype(np.float32), training=False), np.float32)
    np.testing.assert_allclose(inferred, trained, atol=1e-5 if dtype == "float32" else 2e-2)
    per_image = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(inferred, per_image, atol=1e-4 if dtype == "float32" else 6e-2)
