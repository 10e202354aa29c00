"""Feature extraction: the paper's FID controls on real frames, the on-disk cache, weights."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.evaluate.features import (
    InceptionExtractor,
    PixelExtractor,
    cached_features,
    folder_features,
    make_extractor,
    resize_image,
)
from eusaug.evaluate.fid_compare import FIDConfig, compare_sets
from eusaug.evaluate.weights import resolve_weights


def _small_copies(frames, folder, n, size, seed=0):
    """``n`` of the shared frames, downsized to ``size`` x ``3/4 size`` (PNG) in ``folder``."""
    folder.mkdir(parents=True)
    paths = sorted(frames.glob("*.jpg"))
    rng = np.random.default_rng(seed)
    for i in sorted(rng.choice(len(paths), n, replace=False)):
        with Image.open(paths[i]) as image:
            image.convert("L").resize((size, size * 3 // 4), Image.Resampling.BICUBIC).save(folder / f"{paths[i].stem}.png")
    return folder


def test_noise_control_is_far_above_split_halves_on_real_frames(us_frames, tmp_path):
    # Small copies keep the test quick and honest: the noise (sd 0.1 on [-1, 1]) is added at
    # the images' own resolution, as in the paper, and the network sees them without further
    # downsampling (which would average the noise away).
    real = _small_copies(us_frames, tmp_path / "real", n=80, size=128)
    extractor = InceptionExtractor(weights=None, precision="bf16", seed=0, input_size_px=128)
    config = FIDConfig(weights=None, controls=True, seed=0, cache_dir=tmp_path / "cache")
    report = compare_sets(real, None, tmp_path / "out", config, extractor=extractor)
    halves, noisy = report.rows
    assert (halves.n_images, halves.n_images_compared) == (40, 40)
    assert "noise sd 0.1" in noisy.compared_to
    assert noisy.fid > 3 * halves.fid > 0
    assert noisy.kid > 10 * abs(halves.kid)
    assert any("RANDOM weights" in note for note in report.notes)
    assert "rank deficient" in halves.note  # 40 images <= 2048 dimensions
    assert (tmp_path / "out" / "fid.csv").read_text().count("\n") == 3


def test_cache_hits_for_same_contents_and_misses_after_a_change(us_frames, tmp_path):
    folder = _small_copies(us_frames, tmp_path / "set", n=6, size=64)
    extractor = PixelExtractor()
    first = folder_features(folder, extractor, cache_dir=tmp_path / "cache")
    second = folder_features(folder, extractor, cache_dir=tmp_path / "cache")
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.features, second.features)
    assert first.features.shape == (6, 256)
    # A copy of the folder elsewhere has the same contents: same cache entry.
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for path in folder.iterdir():
        (moved / path.name).write_bytes(path.read_bytes())
    assert folder_features(moved, extractor, cache_dir=tmp_path / "cache").from_cache
    # Changing one image's pixels changes the key.
    target = min(folder.iterdir())
    with Image.open(target) as image:
        pixels = np.asarray(image).copy()
    pixels[:8, :8] = 255
    Image.fromarray(pixels).save(target)
    third = folder_features(folder, extractor, cache_dir=tmp_path / "cache")
    assert not third.from_cache
    assert not np.array_equal(third.features[0], first.features[0])
    np.testing.assert_array_equal(third.features[1:], first.features[1:])
    # No cache at all when asked.
    assert not cached_features(third.paths, extractor, cache_dir=tmp_path / "cache", use_cache=False).from_cache


def test_resize_is_antialiased():
    stripes = np.tile(np.array([1.0, -1.0], np.float32), (480, 320))  # 1-pixel stripes, mean 0
    small = resize_image(stripes, 299)
    assert small.shape == (299, 299)
    assert np.abs(small).max() < 0.2  # point sampling would give +-1


def test_imagenet_weights_missing_names_the_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(EusaugError) as caught:
        make_extractor("inception", "imagenet")
    message = str(caught.value)
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "keras" / "models") in message and "never downloads" in message
    with pytest.raises(EusaugError, match="does not exist"):
        resolve_weights(tmp_path / "missing.h5", "vgg16")
    with pytest.raises(EusaugError, match="Unknown backbone 'resnet'"):
        make_extractor("resnet")


def test_a_keras_file_is_a_backbone(tmp_path):
    import keras

    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(5, 3, kernel_initializer=keras.initializers.GlorotUniform(seed=0))(inputs)
    keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x)).save(tmp_path / "us_features.keras")
    extractor = make_extractor(str(tmp_path / "us_features.keras"))
    assert (extractor.input_size_px, extractor.dims) == (32, 5)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32)).astype(np.float32)
    features = extractor.features(images)
    assert features.shape == (3, 5) and np.isfinite(features).all()
    assert extractor.identity().startswith("keras-file:sha256=")


def test_unreadable_image_is_named(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not a png")
    with pytest.raises(EusaugError, match="broken.png cannot be read"):
        folder_features(folder, PixelExtractor(), cache_dir=tmp_path / "cache")
