"""The Gaussian denoiser in front of the discriminators."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from eusaug_plugins.cyclegan.denoiser import denoise, random_patches, train_denoiser

from eusaug import EusaugError
from eusaug.io.checkpoint import save_keras_model


def _smooth_images(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Piecewise-smooth phantoms: a few soft discs on a gradient, in [-1, 1]."""
    y, x = np.mgrid[:size, :size] / size
    out = []
    for _ in range(n):
        img = 0.6 * (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))
        for _ in range(3):
            cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.2)
            img = img + rng.uniform(-0.6, 0.6) * (((y - cy) ** 2 + (x - cx) ** 2) < r * r)
        out.append(np.clip(img, -1, 1))
    return np.asarray(out, np.float32)


def test_denoiser_lowers_the_mse_of_noisy_images(tmp_path) -> None:
    rng = np.random.default_rng(0)
    clean_train = _smooth_images(16, 48, rng)
    model = train_denoiser(clean_train, steps=120, rng=rng, depth=4, filters=16, sigma_max=0.2,
                           patch_px=32, batch_size=16, seed=0)
    assert not model.trainable and not model.trainable_weights

    clean = _smooth_images(6, 48, np.random.default_rng(99))
    noisy = clean + 0.1 * np.random.default_rng(5).standard_normal(clean.shape).astype(np.float32)
    denoised = denoise(model, noisy)
    mse_noisy = float(np.mean((noisy - clean) ** 2))
    mse_denoised = float(np.mean((denoised - clean) ** 2))
    assert mse_denoised < 0.6 * mse_noisy, (mse_noisy, mse_denoised)

    # Saved with the run, it reloads in safe mode and denoises the same way.
    loaded = keras.saving.load_model(save_keras_model(model, tmp_path / "d.keras"), safe_mode=True)
    np.testing.assert_allclose(denoise(loaded, noisy), denoised, atol=1e-6)


def test_random_patches_come_from_the_images() -> None:
    images = np.arange(2 * 10 * 10, dtype=np.float32).reshape(2, 10, 10)
    patches = random_patches(images, 20, 4, np.random.default_rng(1))
    assert patches.shape == (20, 4, 4)
    for patch in patches:
        rows = patch if patch[0, 1] > patch[0, 0] else patch[:, ::-1]  # undo a flip
        n, r, c = np.unravel_index(int(rows[0, 0]), images.shape)
        np.testing.assert_array_equal(images[n, r : r + 4, c : c + 4], rows)


def test_a_diverging_denoiser_stops_with_a_clear_error() -> None:
    images = _smooth_images(4, 40, np.random.default_rng(0))
    images[:, 10:30, 10:30] = np.nan  # every patch of 32 px overlaps it: the first loss is NaN
    with pytest.raises(EusaugError, match="denoiser_ct diverged at step 1 of 5 .*--option precision=fp32"):
        train_denoiser(images, steps=5, rng=np.random.default_rng(1), depth=2, filters=4, patch_px=32,
                       name="denoiser_ct")
