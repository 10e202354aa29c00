"""Masked instance normalisation: statistics over the fan only, so crops and whole planes agree."""

from __future__ import annotations

import numpy as np
import pytest
from eusaug_plugins.cyclegan.networks import (
    MIN_MASKED_SHARE,
    MaskedInstanceNormalization,
    build_generator,
    instance_norm,
)

from eusaug.io.checkpoint import load_keras_model, save_keras_model


def _features(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Each image and channel its own mean and spread.
    return (rng.normal(0.0, 1.0, (2, 12, 10, 3)) * rng.uniform(0.5, 4.0, (2, 1, 1, 3))
            + rng.uniform(-5.0, 5.0, (2, 1, 1, 3))).astype(np.float32)


def test_a_full_mask_is_plain_instance_norm_and_a_scant_one_falls_back_to_it() -> None:
    x = _features()
    plain = np.asarray(instance_norm(x))
    scant = np.zeros((2, 12, 10, 1), np.float32)
    scant[:, 0, :int(MIN_MASKED_SHARE * 120) - 1] = 1  # just under the share: a few pixels' statistics are noise
    for mask in (np.ones((2, 12, 10, 1), np.float32), np.zeros((2, 12, 10, 1), np.float32), scant):
        np.testing.assert_allclose(np.asarray(MaskedInstanceNormalization()([x, mask])), plain, atol=1e-4)
    scant[:, 1, :2] = 1  # just over it: its own statistics
    assert np.abs(np.asarray(MaskedInstanceNormalization()([x, scant])) - plain).max() > 0.1


def test_statistics_come_from_the_masked_pixels_only() -> None:
    x = _features(1)
    mask = np.zeros((2, 12, 10, 1), np.float32)
    mask[0, :5] = 1  # image 0: the top rows; image 1: a block
    mask[1, 3:9, 2:7] = 1
    y = np.asarray(MaskedInstanceNormalization()([x, mask]))
    for b in range(2):
        inside = y[b][mask[b, ..., 0] > 0]  # (pixels, channels)
        np.testing.assert_allclose(inside.mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(inside.std(axis=0), 1.0, atol=1e-3)
    # The unmasked pixels do not move the statistics: change them and the masked output stays.
    changed = np.where(mask > 0, x, 100.0 * x).astype(np.float32)
    z = np.asarray(MaskedInstanceNormalization()([changed, mask]))
    np.testing.assert_allclose(np.where(mask > 0, z, 0), np.where(mask > 0, y, 0), atol=1e-4)


def test_gradient_matches_weighted_moments_written_op_by_op() -> None:
    import tensorflow as tf

    x = tf.constant(_features(2))
    mask = np.zeros((2, 12, 10, 1), np.float32)
    mask[:, 2:10, 1:8] = 1
    weights = tf.constant(np.random.default_rng(3).normal(size=x.shape).astype(np.float32))

    def textbook(v):
        mean, variance = tf.nn.weighted_moments(v, axes=[1, 2], frequency_weights=mask, keepdims=True)
        return (v - mean) * tf.math.rsqrt(variance + 1e-5)

    grads, outs = [], []
    for fn in (lambda v: MaskedInstanceNormalization()([v, mask]), textbook):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = tf.reduce_sum(y * weights)
        outs.append(np.asarray(y))
        grads.append(np.asarray(tape.gradient(loss, x)))
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)
    scale = np.abs(grads[1]).max()
    np.testing.assert_allclose(grads[0] / scale, grads[1] / scale, atol=1e-4)


def _fan_in(size: tuple[int, int], offset: tuple[int, int], fan: np.ndarray) -> np.ndarray:
    image = -np.ones((1, *size, 1), np.float32)
    image[0, offset[0] : offset[0] + fan.shape[0], offset[1] : offset[1] + fan.shape[1], 0] = fan
    return image


@pytest.mark.parametrize("masked", [False, True])
def test_a_masked_generator_draws_the_fan_alike_however_much_black_surrounds_it(masked: bool) -> None:
    """The crop-versus-plane mismatch of patch training, and its cure."""
    fan = np.random.default_rng(4).uniform(-0.9, 1.0, (40, 48)).astype(np.float32)
    gen = build_generator(None, 8, 2, masked_norm=masked, seed=1)
    crop = np.asarray(gen(_fan_in((72, 80), (16, 16), fan)))[0, 26:46, 26:54]  # fan 33 % of the input
    plane = np.asarray(gen(_fan_in((96, 128), (28, 40), fan)))[0, 38:58, 50:78]  # fan 16 %
    difference = np.abs(crop - plane).mean()  # the fan's centre, output in [-1, 1]
    if masked:
        assert difference < 0.01  # measured 0.0007-0.0031 (seeds 1-3)
    else:
        assert difference > 0.1  # measured 0.15-0.16 (seeds 1-3)


def test_masked_generator_saves_reloads_and_builds_from_the_config(tmp_path) -> None:
    from eusaug_plugins.cyclegan.config import resolve_config
    from eusaug_plugins.cyclegan.translator import any_size_copy

    cfg = resolve_config("fast", image_size_px=32, ngf=8, n_blocks=1, masked_norm=True, precision="fp32")
    gen = build_generator(32, cfg.ngf, cfg.n_blocks, masked_norm=True)
    x = _fan_in((32, 32), (4, 6), np.random.default_rng(5).uniform(-0.9, 1, (24, 20)).astype(np.float32))
    save_keras_model(gen, tmp_path / "g.keras")
    np.testing.assert_array_equal(np.asarray(load_keras_model(tmp_path / "g.keras")(x)), np.asarray(gen(x)))
    free = any_size_copy(gen, cfg)
    assert any(isinstance(layer, MaskedInstanceNormalization) for layer in free.layers)
    np.testing.assert_allclose(np.asarray(free(x)), np.asarray(gen(x)), atol=1e-5)
    assert "masked norm" in cfg.summary()
