"""Train a small PyTorch classifier on a mixed real + synthetic set, test on held-out real images.

    python examples/train_torch_mixed.py                        # demo data, well under a minute on a CPU
    python examples/train_torch_mixed.py --real REAL --synthetic SYN --test TEST --ratio 0.25 --workers 2

Needs the torch extra (``pip install -e ".[torch]"``). REAL, SYN and TEST are labelled sets
(a folder with one sub-folder per class, or a CSV of path,class) with the same class
names. The training set is ``eusaug.mix.MixedDataset`` -- the same class-stratified
selection ``eusaug mix`` writes to disk, drawn anew each epoch (``redraw=True``) -- with
an albumentations pipeline applied per item; the test set is ``eusaug.mix.LabelledDataset``
with the training set's class order.

Without arguments the demo builds class folders in a temporary folder from raysim frames
of the embedded sample CT, as ``train_keras_mixed.py`` does (no real frames needed): the
three landmarks as classes, 20 training and 12 test frames each from different poses, and
raysim frames of other poses at another frequency, speckled, as stand-ins for sEUS.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import albumentations as A

from eusaug.mix import LabelledDataset, MixedDataset, SpeckleNoise

try:  # the demo data builder is shared with the Keras example
    from train_keras_mixed import demo_sets
except ImportError:  # run as a module from elsewhere
    from examples.train_keras_mixed import demo_sets  # type: ignore[no-redef]


def small_cnn(n_classes: int):
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, n_classes),
    )


def accuracy(model, loader) -> float:
    import torch

    model.eval()
    right = total = 0
    with torch.no_grad():
        for images, labels in loader:
            right += int((model(images).argmax(dim=1) == labels).sum())
            total += len(labels)
    model.train()
    return right / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path)
    parser.add_argument("--synthetic", type=Path)
    parser.add_argument("--test", type=Path, help="Held-out real images (labelled set).")
    parser.add_argument("--ratio", type=float, default=0.5, help="Synthetic share of each class, in [0, 1).")
    parser.add_argument("--mode", choices=["replace", "add"], default="replace")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (same batches for any number).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    given = [args.real, args.synthetic, args.test]
    if any(given) and not all(given):
        raise SystemExit("Pass --real, --synthetic and --test together, or none of them for the demo data.")

    import torch
    from torch.utils.data import DataLoader

    torch.manual_seed(args.seed)
    size = (args.image_size, args.image_size)
    with tempfile.TemporaryDirectory(prefix="eusaug_torch_") as tmp:
        real, synthetic, test = given if all(given) else demo_sets(Path(tmp), seed=args.seed)
        augment = A.Compose([A.HorizontalFlip(p=0.5), SpeckleNoise((0.0, 0.2), p=0.5)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mixed image sizes are expected: both sets are resized
            train = MixedDataset(real, synthetic, args.ratio, seed=args.seed, mode=args.mode, image_size=size,
                                 transform=augment, redraw=True)
            test_set = LabelledDataset(test, image_size=size, class_names=train.class_names)
        counts = Counter(source for _, source, _ in train.items)
        print(f"classes {train.class_names}; training set: {counts['real']} real + {counts['synthetic']} synthetic "
              f"({counts['synthetic'] / len(train):.0%} synthetic, mode {args.mode}, a new draw each epoch)")

        loader = DataLoader(train, batch_size=16, shuffle=True, num_workers=args.workers,
                            generator=torch.Generator().manual_seed(args.seed))
        test_loader = DataLoader(test_set, batch_size=64)
        model = small_cnn(len(train.class_names))
        optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        chance = accuracy(model, test_loader)
        losses = []
        for epoch in range(args.epochs):
            train.set_epoch(epoch)  # new augmentation draws and a new selection, before the workers start
            total = 0.0
            for images, labels in loader:
                optimiser.zero_grad()
                loss = loss_fn(model(images), labels)
                loss.backward()
                optimiser.step()
                total += loss.item() * len(labels)
            losses.append(total / len(train))
            print(f"epoch {epoch + 1}/{args.epochs}: loss {losses[-1]:.3f}")
        print(f"training loss {losses[0]:.3f} -> {losses[-1]:.3f}")
        print(f"held-out real test accuracy: {accuracy(model, test_loader):.1%} (untrained: {chance:.1%}, "
              f"{len(test_set)} images)")


if __name__ == "__main__":
    main()
