"""Image features for FID/KID: Inception-v3 pool features by default, any backbone by name.

The paper computed FID on the 2048-d average-pool features of Keras' InceptionV3 at
299x299. Greyscale images are resized with antialiasing (Pillow's bicubic filter widens
with the scale factor) and copied to three channels; intensities stay in [-1, 1], which
is InceptionV3's own input range. Batches run through one compiled graph, in float32
under the ``paper`` FID preset (the paper ran TensorFlow 2.2, float32) or in bfloat16
mixed precision, the extractor's default and the ``fast`` preset's (1.5-2x the fp32 rate on
an AVX-512 BF16 CPU; features agree with fp32 to about 1 %, so the precision is part of
the cache key).

Backbones are found by name through the plugin registry (the ``eusaug_feature_backbones`` hook),
or given as a ``.keras`` file whose output is the feature vector -- e.g. an
ultrasound-specific network. ``"none"`` is no network at all: 16x16 antialiased pixels
(256-d), for tests and sanity checks.

Features of a list of files are cached on disk, keyed by the files' contents and the
extractor's identity (backbone, weights file hash or random seed, precision), so
comparing many sets re-uses every set's features.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.extractor import (  # noqa: F401 -- NoisyImage, load_resized, resize_image: re-exported
    FeatureExtractor,
    ImageSource,
    NoisyImage,
    Precision,
    load_resized,
    resize_image,
)
from eusaug.evaluate.weights import (
    WeightsChoice,
    file_sha256,
    load_into,
    resolve_weights,
    warn_random,
)
from eusaug.io.atomic import write_bytes
from eusaug.io.images import list_images

if TYPE_CHECKING:
    import keras

    from eusaug.plugin.registry import Registry

CACHE_FORMAT = 1


class PixelExtractor(FeatureExtractor):
    """No network: the antialiased ``size_px`` x ``size_px`` image itself as the feature vector."""

    def __init__(self, size_px: int = 16) -> None:
        self.name = "none"
        self.input_size_px = size_px
        self.dims = size_px * size_px
        note = (f"Backbone 'none': features are the {size_px}x{size_px} pixels, not Inception features; values "
                "are not comparable with published FIDs.")
        self.notes = (note,)

    def identity(self) -> str:
        return f"pixels:{self.input_size_px}"

    def features(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(batch, dtype=np.float32).reshape(len(batch), -1)


class _KerasExtractor(FeatureExtractor):
    """Runs a Keras model (built lazily, on first use) in one graph with a dynamic batch size."""

    def __init__(self) -> None:
        self._model: keras.Model | None = None
        self._function: Callable[..., object] | None = None

    @abstractmethod
    def build(self) -> keras.Model:
        """The Keras model: ``(N, S, S, C)`` input, ``(N, D)`` or any-rank output."""

    @property
    def model(self) -> keras.Model:
        if self._model is None:
            self._model = self.build()
        return self._model

    def features(self, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        if self._function is None:
            model = self.model
            channels = int(model.inputs[0].shape[-1])
            size = self.input_size_px

            @tf.function(input_signature=[tf.TensorSpec([None, size, size], tf.float32)])
            def run(images: tf.Tensor) -> tf.Tensor:
                x = images[..., None]
                if channels != 1:
                    x = tf.repeat(x, channels, axis=-1)
                out = model(x, training=False)
                return tf.reshape(tf.cast(out, tf.float32), [tf.shape(images)[0], -1])

            self._function = run
        return np.asarray(self._function(tf.constant(batch, dtype=tf.float32)))  # type: ignore[misc]


def _policy_name(precision: Precision) -> str:
    if precision == "bf16":
        return "mixed_bfloat16"
    if precision == "fp32":
        return "float32"
    raise EusaugError(f"Unknown precision {precision!r}: use 'bf16' (mixed precision, faster) or 'fp32'.")


class InceptionExtractor(_KerasExtractor):
    """Keras InceptionV3 without its top, global average pool: 2048-d at 299x299.

    ``input_size_px`` other than 299 (at least 75) gives features that are no longer
    FID's; it exists for quick experiments and tests.
    """

    def __init__(self, weights: str | os.PathLike[str] | None = "imagenet", precision: Precision = "bf16",
                 seed: int = 0, input_size_px: int = 299) -> None:
        super().__init__()
        if input_size_px < 75:
            raise EusaugError(f"InceptionV3 needs inputs of at least 75 pixels (got {input_size_px}).")
        self.name = "inception"
        self.input_size_px = input_size_px
        self.dims = 2048
        self.precision = precision
        _policy_name(precision)
        self.weights: WeightsChoice = resolve_weights(weights, "inception_v3", seed)
        self.notes = (warn_random("InceptionV3 (FID/KID features)"),) if self.weights.is_random else ()

    def identity(self) -> str:
        return f"inception_v3:pool:{self.input_size_px}:{self.precision}:{self.weights.identity()}"

    def build(self) -> keras.Model:
        import keras

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(_policy_name(self.precision))
        try:
            size = self.input_size_px
            model = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                                   input_shape=(size, size, 3))
        finally:
            keras.config.set_dtype_policy(previous)
        load_into(model, self.weights)
        return model


class KerasFileExtractor(_KerasExtractor):
    """A user's ``.keras`` model whose output (flattened) is the feature vector."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.name = str(path)
        model = self.model
        shape = model.inputs[0].shape
        if len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] not in (1, 3):
            raise EusaugError(f"Backbone {path} takes input {tuple(shape)}: eusaug needs (None, S, S, 1 or 3).")
        self.input_size_px = int(shape[1])
        self.dims = int(np.prod([d for d in model.outputs[0].shape[1:]]))

    def identity(self) -> str:
        return f"keras-file:sha256={file_sha256(self.path)}"

    def build(self) -> keras.Model:
        import keras

        try:
            return keras.saving.load_model(self.path, compile=False, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 -- Keras raises many types for a file it cannot load
            raise EusaugError(f"Backbone {self.path} cannot be loaded as a Keras model "
                              f"({type(exc).__name__}: {str(exc)[:200]}): pass a .keras file saved by Keras 3.") from None


#: ``factory(weights, precision, seed) -> FeatureExtractor`` by backbone name.
BackboneFactory = Callable[[str | os.PathLike | None, Precision, int], FeatureExtractor]

#: Backbones added at run time with the deprecated :func:`register_backbone` (they win over
#: the registry's). The bundled ones (``inception``, ``standard``, ``none``) and any
#: plugin's come through the ``eusaug_feature_backbones`` hook (:meth:`Registry.backbones`).
BACKBONES: dict[str, BackboneFactory] = {}


def register_backbone(name: str, factory: BackboneFactory) -> None:
    """Deprecated (one release): contribute backbones with the ``eusaug_feature_backbones`` hook."""
    warnings.warn("register_backbone is deprecated: contribute backbones with the eusaug_feature_backbones "
                  "plugin hook (see docs/writing-a-plugin.md).", DeprecationWarning, stacklevel=2)
    BACKBONES[name] = factory


def backbone_factories(registry: Registry | None = None) -> dict[str, BackboneFactory]:
    """Every backbone by name: the plugins' (``eusaug_feature_backbones``), then :data:`BACKBONES`."""
    from eusaug.plugin.registry import Registry

    return {**(registry or Registry()).backbones(), **BACKBONES}


def make_extractor(backbone: str = "inception", weights: str | os.PathLike[str] | None = "imagenet",
                   precision: Precision = "bf16", seed: int = 0, registry: Registry | None = None) -> FeatureExtractor:
    """The extractor for a backbone name (see :func:`backbone_factories`) or a ``.keras`` file."""
    factories = backbone_factories(registry)
    if backbone in factories:
        return factories[backbone](weights, precision, seed)
    path = Path(backbone)
    if path.suffix == ".keras":
        if not path.is_file():
            raise EusaugError(f"Backbone file {path} does not exist: check the path.")
        return KerasFileExtractor(path)
    raise EusaugError(f"Unknown backbone {backbone!r}: use one of {', '.join(sorted(factories))}, "
                      "or the path of a .keras feature model.")


def extract_features(sources: Sequence[ImageSource], extractor: FeatureExtractor, batch_size: int = 32,
                     description: str = "Features") -> np.ndarray:
    """``(N, D)`` float32 features of image files or in-memory images, with a progress bar."""
    if batch_size < 1:
        raise EusaugError(f"batch_size={batch_size} must be >= 1.")
    return extractor.features_of(sources, batch_size, description)


def default_cache_dir() -> Path:
    """``$EUSAUG_CACHE_DIR``, else ``$EUSAUG_HOME/cache/features``, else ``~/.cache/eusaug/features``."""
    if os.environ.get("EUSAUG_CACHE_DIR"):
        return Path(os.environ["EUSAUG_CACHE_DIR"])
    if os.environ.get("EUSAUG_HOME"):
        return Path(os.environ["EUSAUG_HOME"]) / "cache" / "features"
    return Path.home() / ".cache" / "eusaug" / "features"


@dataclass(frozen=True)
class FeatureSet:
    """Features of a list of image files, in their order."""

    paths: tuple[Path, ...]
    features: np.ndarray
    from_cache: bool
    cache_file: Path | None = None


def cache_key(paths: Sequence[Path], extractor: FeatureExtractor) -> str:
    """SHA-256 of the extractor's identity and every file's contents, in order."""
    digest = hashlib.sha256(f"eusaug-features:{CACHE_FORMAT}:{extractor.identity()}".encode())
    for path in paths:
        try:
            digest.update(file_sha256(Path(path)).encode())
        except FileNotFoundError:
            raise EusaugError(f"Image {path} does not exist: check the path.") from None
    return digest.hexdigest()


def cached_features(paths: Sequence[Path], extractor: FeatureExtractor, batch_size: int = 32,
                    cache_dir: Path | None = None, use_cache: bool = True,
                    description: str = "Features") -> FeatureSet:
    """Features of ``paths``, read from the on-disk cache when the same files were seen before."""
    paths = tuple(Path(p) for p in paths)
    if not paths:
        raise EusaugError("No images given to extract features from: check the folder.")
    cache_file = None
    if use_cache:
        cache_file = (cache_dir or default_cache_dir()) / f"{cache_key(paths, extractor)}.npz"
        if cache_file.is_file():
            try:
                with np.load(cache_file) as stored:
                    features = stored["features"]
                if features.shape == (len(paths), extractor.dims):
                    return FeatureSet(paths, features, True, cache_file)
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry is recomputed and replaced
    features = extract_features(paths, extractor, batch_size, description)
    if cache_file is not None:
        buffer = io.BytesIO()
        np.savez(buffer, features=features, identity=np.array(extractor.identity()))
        write_bytes(cache_file, buffer.getvalue())
    return FeatureSet(paths, features, False, cache_file)


def folder_features(folder: str | os.PathLike[str], extractor: FeatureExtractor, batch_size: int = 32,
                    cache_dir: Path | None = None, use_cache: bool = True) -> FeatureSet:
    """Features of every image under ``folder`` (recursively, sorted by path), cached."""
    paths = list_images(folder, recursive=True)
    return cached_features(paths, extractor, batch_size, cache_dir, use_cache, f"Features of {Path(folder).name}")
