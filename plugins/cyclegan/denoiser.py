"""The small Gaussian denoiser placed in front of each discriminator (paper refs 10, 11).

A CycleGAN generator can hide what it needs for the cycle in low-amplitude,
high-frequency noise the discriminator ignores (Chu et al. 2017). Passing real and
generated images through a frozen denoiser before the discriminator removes that channel.
The network is a DnCNN (Zhang et al. 2017): it predicts the noise and subtracts it.
eusaug trains one per domain on that domain's own images with Gaussian noise of random
strength, before the CycleGAN itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from eusaug import EusaugError


@keras.saving.register_keras_serializable(package="eusaug")
class NoiseSubtract(layers.Subtract):
    """``noisy - predicted_noise``: the residual-learning output of DnCNN."""


def build_denoiser(depth: int = 7, filters: int = 32, channels: int = 1, seed: int = 0,
                   name: str = "denoiser", dtype: str = "float32") -> keras.Model:
    """DnCNN: ``(B, H, W, channels)`` noisy -> denoised, float32, any H and W.

    ``depth`` convolutions of 3x3: conv+ReLU, ``depth - 2`` x conv+BN+ReLU, conv. With
    ``dtype="mixed_bfloat16"`` the convolutions run in bfloat16; the subtraction of the
    predicted noise is always float32, so clean regions stay exact.
    """
    inputs = keras.Input((None, None, channels), name="noisy")
    x = layers.Conv2D(filters, 3, padding="same", dtype=dtype, name="conv_in",
                      kernel_initializer=keras.initializers.HeNormal(seed=seed * 1000 + 900))(inputs)
    x = layers.ReLU(dtype=dtype, name="conv_in_relu")(x)
    for i in range(depth - 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                          kernel_initializer=keras.initializers.HeNormal(seed=seed * 1000 + 901 + i),
                          dtype=dtype, name=f"conv{i}")(x)
        x = layers.BatchNormalization(dtype=dtype, name=f"conv{i}_bn")(x)
        x = layers.ReLU(dtype=dtype, name=f"conv{i}_relu")(x)
    noise = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", dtype=dtype, name="noise")(x)
    outputs = NoiseSubtract(dtype="float32", name="denoised")([inputs, noise])
    return keras.Model(inputs, outputs, name=name)


def random_patches(
    images: np.ndarray, count: int, patch_px: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` random ``patch_px`` squares (random flips too) from ``(N, H, W)`` images."""
    n, h, w = images.shape
    patch_px = min(patch_px, h, w)
    idx = rng.integers(0, n, count)
    ys = rng.integers(0, h - patch_px + 1, count)
    xs = rng.integers(0, w - patch_px + 1, count)
    flips = rng.random(count) < 0.5
    out = np.empty((count, patch_px, patch_px), np.float32)
    for k in range(count):
        patch = images[idx[k], ys[k] : ys[k] + patch_px, xs[k] : xs[k] + patch_px]
        out[k] = patch[:, ::-1] if flips[k] else patch
    return out


def train_denoiser(
    images: np.ndarray,
    steps: int,
    rng: np.random.Generator,
    depth: int = 7,
    filters: int = 32,
    sigma_max: float = 0.2,
    patch_px: int = 48,
    batch_size: int = 16,
    learning_rate: float = 1e-3,
    seed: int = 0,
    name: str = "denoiser",
    dtype: str = "float32",
    on_step: Callable[[int, float], Any] | None = None,
) -> keras.Model:
    """Train a frozen denoiser on clean ``(N, H, W)`` float32 images in [-1, 1].

    Each step draws patches and a noise level in ``[0, sigma_max]`` per patch from ``rng``;
    the loss is the MSE of the denoised patch against the clean one. The returned model
    has ``trainable = False``.
    """
    model = build_denoiser(depth, filters, seed=seed, name=name, dtype=dtype)
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(noisy: tf.Tensor, clean: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(noisy, training=True) - clean))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for i in range(steps):
        clean = random_patches(images, batch_size, patch_px, rng)[..., None]
        sigma = rng.uniform(0.0, sigma_max, (batch_size, 1, 1, 1)).astype(np.float32)
        noisy = clean + sigma * rng.standard_normal(clean.shape).astype(np.float32)
        loss = float(step(tf.constant(noisy), tf.constant(clean)))
        if not np.isfinite(loss):
            raise EusaugError(
                f"The {name} diverged at step {i + 1} of {steps} (loss {loss}): check its frames for NaN, or "
                "train again with --option precision=fp32 or fewer --option denoiser_steps (0: no denoiser).")
        if on_step is not None:
            on_step(i, loss)
    model.trainable = False
    return model


def denoise(model: keras.Model, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Apply ``model`` to ``(N, H, W)`` images; returns ``(N, H, W)`` float32."""
    out = [np.asarray(model(images[i : i + batch_size, ..., None], training=False))[..., 0]
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float32)
