"""Streaming a planned mix image by image (Python iterator or ``tf.data``), writing nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.mix.labelled_sets import LabelledSource, as_labelled_set
from eusaug.mix.plan import MissingClass, MixMode, MixPlan, emit_notes, plan_mix
from eusaug.mix.ratios import Ratio

if TYPE_CHECKING:
    import tensorflow as tf

#: Suffixes ``tf.io.decode_image`` reads (used by :func:`mixed_dataset`).
TF_DECODABLE = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def read_grey_sized(path: Path, image_size: tuple[int, int] | None) -> np.ndarray:
    """``(H, W)`` uint8 greyscale, resized (bilinear, as Keras does) to ``image_size`` = (H, W) when given."""
    from PIL import Image

    from eusaug.io.images import read_grey_uint8

    pixels = read_grey_uint8(path)
    if image_size is not None and pixels.shape != tuple(image_size):
        height, width = image_size
        pixels = np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR))
    return pixels


def _load_for_stream(path: Path, image_size: tuple[int, int] | None) -> np.ndarray:
    from eusaug.io.images import uint8_to_unit

    return uint8_to_unit(read_grey_sized(path, image_size))


def check_image_size(image_size: Sequence[int] | None) -> tuple[int, int] | None:
    """``image_size`` as ``(height, width)`` in pixels (None stays None), else raise."""
    if image_size is None:
        return None
    size = tuple(int(v) for v in image_size)
    if len(size) != 2 or min(size) < 1:
        raise EusaugError(f"image_size={image_size!r} must be (height, width) in pixels, e.g. (256, 256).")
    return size  # type: ignore[return-value]


def stream_mixed(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratio: float | Ratio,
    seed: int = 0,
    image_size: Sequence[int] | None = None,
    mode: MixMode = "replace",
    shuffle: bool = True,
    missing_class: MissingClass = "warn",
) -> Iterator[tuple[np.ndarray, int, bool]]:
    """Yield ``(image, label, is_synthetic)`` for the selection :func:`plan_mix` makes.

    ``image`` is ``(H, W)`` float32 in [-1, 1] (resized to ``image_size`` = (H, W) when
    given); ``label`` the index of the class in the sorted class names; one pass over the
    mixed set, in a seeded shuffled order (``shuffle=False``: class by class). Images are
    read lazily, so nothing is held in memory and nothing is written.
    """
    size = check_image_size(image_size)
    plan = plan_mix(as_labelled_set(real, check_images=False), as_labelled_set(synthetic, check_images=False),
                    ratio, mode, seed, missing_class)
    emit_notes(plan.notes)
    yield from _iterate_plan(plan, size, shuffle)


def _iterate_plan(plan: MixPlan, size: tuple[int, int] | None, shuffle: bool) -> Iterator[tuple[np.ndarray, int, bool]]:
    label_of = {name: i for i, name in enumerate(plan.class_names)}
    items = list(plan.items())
    order = np.random.default_rng([plan.seed, 1]).permutation(len(items)) if shuffle else range(len(items))
    for index in order:
        name, source, path = items[index]
        yield _load_for_stream(path, size), label_of[name], source == "synthetic"


def mixed_dataset(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratio: float | Ratio,
    seed: int = 0,
    image_size: Sequence[int] = (256, 256),
    mode: MixMode = "replace",
    batch_size: int | None = 32,
    label_mode: Literal["int", "categorical"] = "int",
    with_source: bool = False,
    missing_class: MissingClass = "warn",
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of the mixed set, for ``model.fit``.

    Elements are ``(image, label)`` -- or ``(image, label, is_synthetic)`` with
    ``with_source`` (do not pass that form to ``fit``: Keras reads a third element as
    sample weights). ``image`` is ``(H, W, 1)`` float32 in [-1, 1]; ``label`` int32, or
    one-hot float32 with ``label_mode="categorical"``. The order is reshuffled every epoch
    from ``seed``. ``dataset.class_names`` lists the classes, as with Keras'
    ``image_dataset_from_directory``. Files are decoded by TensorFlow in parallel
    (PNG, JPEG, BMP, GIF). TensorFlow is imported here only.
    """
    import tensorflow as tf

    size = check_image_size(image_size)
    if size is None:
        raise EusaugError("mixed_dataset needs image_size=(height, width): batches need one size.")
    if label_mode not in ("int", "categorical"):
        raise EusaugError(f"label_mode={label_mode!r} is unknown: use 'int' or 'categorical'.")
    if batch_size is not None and batch_size < 1:
        raise EusaugError(f"batch_size={batch_size} must be >= 1 (or None for unbatched elements).")
    plan = plan_mix(as_labelled_set(real), as_labelled_set(synthetic), ratio, mode, seed, missing_class)
    emit_notes(plan.notes)
    n_classes = len(plan.classes)
    label_of = {name: i for i, name in enumerate(plan.class_names)}
    items = list(plan.items())
    undecodable = [str(p) for _, _, p in items if p.suffix.lower() not in TF_DECODABLE]
    if undecodable:
        raise EusaugError(f"TensorFlow cannot decode {undecodable[0]} ({len(undecodable)} such files): "
                          "convert them to PNG, or use stream_mixed, which reads any image Pillow reads.")
    paths = tf.constant([str(p) for _, _, p in items], dtype=tf.string)
    labels = tf.constant([label_of[name] for name, _, _ in items], dtype=tf.int32)
    sources = tf.constant([source == "synthetic" for _, source, _ in items], dtype=tf.bool)
    dataset = tf.data.Dataset.from_tensor_slices((paths, labels, sources))
    # Shuffling file names (not pixels) keeps the buffer tiny whatever the set's size.
    dataset = dataset.shuffle(max(len(items), 1), seed=seed, reshuffle_each_iteration=True)

    def shape(path: tf.Tensor, label: tf.Tensor, is_syn: tf.Tensor) -> tuple[tf.Tensor, ...]:
        pixels = tf.io.decode_image(tf.io.read_file(path), channels=1, expand_animations=False)
        image = tf.image.resize(pixels, size, method="bilinear") / 127.5 - 1.0
        image = tf.ensure_shape(image, (*size, 1))
        target = tf.one_hot(label, n_classes, dtype=tf.float32) if label_mode == "categorical" else label
        return (image, target, is_syn) if with_source else (image, target)

    dataset = dataset.map(shape, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    dataset.class_names = plan.class_names  # type: ignore[attr-defined]
    return dataset
