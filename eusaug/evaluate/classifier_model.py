"""The classifier's network: VGG-16 with a new softmax head, its training loop, prediction and files.

A model takes ``(N, S, S, 1)`` greyscale images in [-1, 1] (eusaug's in-memory
convention); the VGG preprocessing (three channels, 0..255, ImageNet channel means) is
part of the model, so a saved model needs nothing else to run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.classifier_config import ClassifierConfig
from eusaug.evaluate.features import Precision
from eusaug.evaluate.weights import WeightsChoice, load_into, randomise
from eusaug.io.progress import make_progress
from eusaug.io.tables import write_json

if TYPE_CHECKING:
    import keras

#: ImageNet BGR channel means that VGG-16's weights expect ("caffe" preprocessing).
VGG_MEANS_BGR = (103.939, 116.779, 123.68)


def build_classifier(n_classes: int, input_size_px: int, weights: WeightsChoice,
                     precision: Precision = "fp32") -> keras.Model:
    """VGG-16 (no top) + global average pool + softmax head, taking greyscale [-1, 1] images.

    The VGG layers are re-applied in one flat graph, so every layer (e.g. ``block5_conv3``
    for Grad-CAM) is reachable from the top-level model. ``precision`` sets the layers'
    dtype policy: ``fp32``, float32 throughout (the paper's TensorFlow 2.2 default), or
    ``bf16``, Keras mixed bfloat16; the probabilities are float32 either way.
    """
    import keras

    if input_size_px < 32:
        raise EusaugError(f"input_size_px={input_size_px}: VGG-16 needs at least 32 pixels.")
    if precision not in ("fp32", "bf16"):
        raise EusaugError(f"Classifier precision {precision!r} is unknown: use fp32 (the paper's) or bf16.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if precision == "fp32" else "mixed_bfloat16")
    try:
        return _build_vgg(keras, n_classes, input_size_px, weights)
    finally:
        keras.config.set_dtype_policy(previous)


def _build_vgg(keras: Any, n_classes: int, input_size_px: int, weights: WeightsChoice) -> keras.Model:
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(input_size_px, input_size_px, 3))
    if not weights.is_random:
        load_into(vgg, weights)
    image = keras.Input((input_size_px, input_size_px, 1), name="image")
    x = keras.layers.Concatenate(name="grey_to_rgb")([image, image, image])
    x = keras.layers.Rescaling(127.5, offset=127.5, name="to_0_255")(x)
    x = keras.layers.Normalization(mean=list(VGG_MEANS_BGR), variance=[1.0, 1.0, 1.0], name="imagenet_means")(x)
    for layer in vgg.layers[1:]:
        x = layer(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(n_classes, name="logits")(x)
    probabilities = keras.layers.Activation("softmax", name="probabilities", dtype="float32")(logits)
    model = keras.Model(image, probabilities, name="vgg16_classifier")
    if weights.is_random:
        randomise(model, weights.seed)
    else:
        randomise(model.get_layer("logits"), weights.seed)
    return model


def _batches(images: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_classes: int, batch_size: int,
             seed: int) -> Any:
    """A ``keras.utils.PyDataset`` of shuffled ``(images, one-hot labels, sample weights)`` batches.

    Images stay uint8 in memory and become float [-1, 1] one batch at a time.
    """
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(labels))

        def __len__(self) -> int:
            return int(np.ceil(len(labels) / batch_size))

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            idx = self.order[index * batch_size:(index + 1) * batch_size]
            x = images[idx].astype(np.float32)[..., None] / np.float32(127.5) - np.float32(1.0)
            return x, np.eye(n_classes, dtype=np.float32)[labels[idx]], weights[idx]

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(labels))

    return Batches()


def train_classifier(model: keras.Model, images: np.ndarray, labels: np.ndarray, class_weights: np.ndarray,
                     config: ClassifierConfig, description: str = "Training") -> list[float]:
    """Fit ``model`` on ``(N, S, S)`` uint8 images with int labels; return the loss per epoch.

    The loss is categorical cross-entropy with each image weighted by its class weight.
    """
    import keras

    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy())
    data = _batches(images, labels, class_weights[labels].astype(np.float32), int(model.outputs[0].shape[-1]),
                    config.batch_size, config.seed)
    losses: list[float] = []
    with make_progress() as progress:
        task = progress.add_task(description, total=config.epochs)

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                losses.append(float((logs or {}).get("loss", float("nan"))))
                progress.advance(task)
                if not np.isfinite(losses[-1]):  # every later epoch would be too, and its metrics meaningless
                    raise EusaugError(
                        f"{description}: the classifier diverged in epoch {epoch + 1} (loss {losses[-1]}); no "
                        "model or metric of it is kept. Train again with a lower learning_rate, precision fp32, "
                        "or check the images and class weights for NaN.")

        model.fit(data, epochs=config.epochs, verbose=0, callbacks=[Report()])
    return losses


def predict(model: keras.Model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class probabilities ``(N, K)`` for ``(N, S, S)`` uint8 images."""
    out = []
    # Direct calls rather than model.predict: no new graph per model, so sweeps stay quiet.
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].astype(np.float32)[..., None] / np.float32(127.5) - np.float32(1.0)
        out.append(np.asarray(model(x, training=False), dtype=np.float32))
    return np.concatenate(out) if out else np.zeros((0, int(model.outputs[0].shape[-1])), np.float32)


def save_classifier(model: keras.Model, path: Path, metadata: Mapping[str, Any]) -> Path:
    """Save ``model`` as ``.keras`` (atomically) and its metadata as JSON beside it."""
    from eusaug.io.checkpoint import save_keras_model

    save_keras_model(model, path)
    write_json(path.with_suffix(".json"), metadata)
    return path


def load_classifier(path: str | os.PathLike[str]) -> tuple[keras.Model, dict[str, Any]]:
    """A saved classifier (safe mode) and its metadata (``{}`` when the JSON is missing)."""
    import json

    import keras

    path = Path(path)
    if not path.is_file():
        raise EusaugError(f"Model {path} does not exist: pass a .keras file (eusaug evaluate classifier writes "
                          "them under models/).")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 -- Keras raises many types for files it cannot read
        raise EusaugError(f"Model {path} cannot be loaded ({type(exc).__name__}: {str(exc)[:200]}): pass a .keras "
                          "file saved by Keras 3.") from None
    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return model, metadata


