"""Train a small Keras classifier on a mixed real + synthetic set, test on held-out real images.

    python examples/train_keras_mixed.py                        # demo data, about a minute on a CPU
    python examples/train_keras_mixed.py --real REAL --synthetic SYN --test TEST --ratio 0.25

REAL, SYN and TEST are labelled sets (a folder with one sub-folder per class, or a CSV of
path,class) with the same class names. The mixed training set is streamed by
``eusaug.mix.mixing.mixed_dataset`` -- the same class-stratified selection ``eusaug mix`` writes
to disk -- and the test set is read with Keras' own ``image_dataset_from_directory``.

Without arguments the demo builds class folders in a temporary folder from raysim frames
of the embedded sample CT (``demo_data.py``, no real frames needed): the classes are the
three landmarks, 20 training and 12 test frames each from different poses, and the
"synthetic" images are raysim frames of other poses at another frequency, speckled and
gain-shifted with ``eusaug.mix.augment``. They stand in for EUS and sEUS only so that the
example runs anywhere without a trained translator.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import albumentations as A
import numpy as np
from PIL import Image

from eusaug.mix import DepthGain, SpeckleNoise, mixed_dataset

try:  # run as a script from the repository root, or as a module (examples.train_keras_mixed)
    from demo_data import raysim_sets
except ImportError:
    from examples.demo_data import raysim_sets  # type: ignore[no-redef]

# TensorFlow is imported later (in main and mixed_dataset), so this still quiets its log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")



def demo_sets(folder: Path, n_train: int = 20, n_synthetic: int = 30, n_test: int = 12,
              seed: int = 0) -> tuple[Path, Path, Path]:
    """REAL (20 per class), SYN (30 per class) and TEST (12 per class) as class folders of raysim frames."""
    sets = raysim_sets(folder, {"real": n_train, "test": n_test, "synthetic": n_synthetic}, seed=seed)
    stand_in = A.Compose([A.HorizontalFlip(p=0.5), DepthGain((-4.0, 4.0), p=1.0),
                          SpeckleNoise((0.2, 0.4), grain_px=2.0, p=1.0)], seed=seed)
    for path in sorted(sets["synthetic"].glob("*/*.png")):
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"))
        Image.fromarray(stand_in(image=pixels)["image"]).save(path)
    return sets["real"], sets["synthetic"], sets["test"]


def small_cnn(image_size: tuple[int, int], n_classes: int):
    import keras

    return keras.Sequential([
        keras.Input((*image_size, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(n_classes, activation="softmax"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path)
    parser.add_argument("--synthetic", type=Path)
    parser.add_argument("--test", type=Path, help="Held-out real images: a folder with one sub-folder per class.")
    parser.add_argument("--ratio", type=float, default=0.5, help="Synthetic share of each class, in [0, 1).")
    parser.add_argument("--mode", choices=["replace", "add"], default="replace")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    given = [args.real, args.synthetic, args.test]
    if any(given) and not all(given):
        raise SystemExit("Pass --real, --synthetic and --test together, or none of them for the demo data.")

    import keras

    keras.utils.set_random_seed(args.seed)
    size = (args.image_size, args.image_size)
    with tempfile.TemporaryDirectory(prefix="eusaug_keras_") as tmp:
        real, synthetic, test = given if all(given) else demo_sets(Path(tmp), seed=args.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mixed image sizes are expected: both sets are resized
            train = mixed_dataset(real, synthetic, args.ratio, seed=args.seed, image_size=size,
                                  mode=args.mode, batch_size=16)
        counts = np.zeros(2, dtype=int)
        for _, _, is_syn in mixed_dataset(real, synthetic, args.ratio, seed=args.seed, image_size=size,
                                          mode=args.mode, batch_size=None, with_source=True):
            counts[int(is_syn)] += 1
        print(f"classes {train.class_names}; training set: {counts[0]} real + {counts[1]} synthetic "
              f"({counts[1] / counts.sum():.0%} synthetic, mode {args.mode})")

        test_ds = keras.utils.image_dataset_from_directory(
            test, class_names=train.class_names, color_mode="grayscale", image_size=size, batch_size=32,
            shuffle=False, verbose=False,
        ).map(lambda x, y: (x / 127.5 - 1.0, y))  # the same [-1, 1] scale as mixed_dataset

        model = small_cnn(size, len(train.class_names))
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        _, chance = model.evaluate(test_ds, verbose=0)
        history = model.fit(train, epochs=args.epochs, verbose=2, shuffle=False)  # mixed_dataset shuffles
        _, accuracy = model.evaluate(test_ds, verbose=0)
        first, last = history.history["loss"][0], history.history["loss"][-1]
        print(f"training loss {first:.3f} -> {last:.3f}")
        print(f"held-out real test accuracy: {accuracy:.1%} (untrained: {chance:.1%}, "
              f"{sum(1 for _ in test_ds.unbatch())} images)")


if __name__ == "__main__":
    main()
