"""PyTorch datasets of labelled and mixed sets, for training code written in PyTorch.

Most medical-imaging training code (MONAI, TorchIO, nnU-Net) is PyTorch. These map-style
``torch.utils.data.Dataset`` classes give it what :func:`eusaug.mix.mixing.mixed_dataset`
gives Keras:

* :class:`MixedDataset` -- the class-stratified selection of ``eusaug mix`` (the same
  :func:`~eusaug.mix.mixing.plan_mix`, so the same files for the same seed), read image by
  image; ``redraw=True`` draws a new selection each epoch with the same per-class counts;
* :class:`LabelledDataset` -- a labelled set as it is, e.g. real images into which a
  :class:`~eusaug.mix.augment.SyntheticSwap` pipeline swaps synthetic ones on the fly.

Items are ``(image, label)`` -- ``(image, label, is_synthetic)`` with ``with_source`` --
where ``image`` is a ``(1, H, W)`` float32 tensor in [-1, 1] (eusaug's scale, as in
``mixed_dataset``) and ``label`` the index of the class in ``class_names`` (sorted).

An albumentations pipeline (``transform``) is applied per item as
``transform(image=uint8 (H, W), label=class name, is_synthetic=bool)``, so
``SyntheticSwap`` knows the class (an ``A.Compose(..., strict=True)`` would refuse those
keys: use the default ``strict=False``). Its randomness is re-seeded for every item from
``(seed, epoch, index)``: an item is the same whichever ``DataLoader`` worker reads it, so
``num_workers=0`` and ``num_workers=2`` give the same batches, and a run is reproducible.
Call :meth:`set_epoch` before each epoch for new draws (not with ``persistent_workers=True``:
persistent workers keep the epoch they were started with).

PyTorch is an optional extra (``pip install -e ".[torch]"``); importing this module
without it raises :class:`~eusaug.errors.EusaugError`. ``import eusaug.mix`` does not
import it: ``eusaug.mix.MixedDataset`` loads it on first use.
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.errors import EusaugError
from eusaug.mix.labelled_sets import LabelledSetWarning, LabelledSource, as_labelled_set
from eusaug.mix.plan import MissingClass, MixMode, MixPlan, Source, plan_mix
from eusaug.mix.stream import check_image_size, read_grey_sized
from eusaug.mix.write import read_set_metadata

try:
    import torch
    from torch.utils.data import Dataset
except ImportError:
    raise EusaugError('eusaug.mix.torch_data needs PyTorch, which is not installed: pip install -e ".[torch]" '
                      "(or pip install torch).") from None

__all__ = ["LabelledDataset", "MixedDataset", "epoch_seed", "item_seed"]

#: ``transform(image=..., label=..., is_synthetic=...) -> {"image": ..., ...}``, e.g. ``A.Compose``.
Pipeline = Callable[..., Mapping[str, Any]]
Item = tuple[str, Source, Path]


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one item's augmentation: a function of the three numbers only."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(1)[0])


def epoch_seed(seed: int, epoch: int) -> int:
    """The selection seed of ``epoch`` with ``redraw``: ``seed`` itself at epoch 0 (what ``eusaug mix`` draws)."""
    if epoch == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(epoch), 0x5EED]).generate_state(1)[0])


def _check_epoch(epoch: int) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise EusaugError(f"set_epoch({epoch!r}): the epoch must be an integer >= 0.")
    return int(epoch)


def _to_tensor(pixels: Any, item: Item) -> torch.Tensor:
    """A pipeline's output (uint8 [0, 255] or float32 [0, 1], ``(H, W)`` or ``(H, W, C)``) as ``(C, H, W)`` in [-1, 1]."""
    if not isinstance(pixels, np.ndarray) or pixels.ndim not in (2, 3) or pixels.dtype not in (np.uint8, np.float32):
        kind = type(pixels).__name__ if not isinstance(pixels, np.ndarray) else f"{pixels.dtype} {pixels.shape}"
        raise EusaugError(f"The transform returned {kind} for {item[2]}: it must return a numpy image, uint8 or "
                          "float32 in [0, 1], (H, W) or (H, W, C) -- leave out ToTensorV2 and Normalize, "
                          "the dataset makes the tensor.")
    if pixels.dtype == np.uint8:
        values = pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    else:
        values = pixels * np.float32(2.0) - np.float32(1.0)
    values = values[None] if values.ndim == 2 else np.moveaxis(values, -1, 0)
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))


class _ImageItems(Dataset):
    """Reading, augmenting and labelling a list of ``(class, source, path)`` items."""

    def __init__(
        self,
        items: list[Item],
        class_names: list[str],
        image_size: Sequence[int] | None,
        transform: Pipeline | None,
        seed: int,
        with_source: bool,
    ) -> None:
        if transform is not None and not callable(transform):
            raise EusaugError(f"transform={transform!r} must be an albumentations pipeline (e.g. A.Compose) or None.")
        self._items = items
        self.class_names = class_names
        self._label_of = {name: i for i, name in enumerate(class_names)}
        self.image_size = check_image_size(image_size)
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0
        self.with_source = bool(with_source)

    @property
    def items(self) -> list[Item]:
        """``(class, source, original path)`` of every item, in index order."""
        return list(self._items)

    def set_epoch(self, epoch: int) -> None:
        """Use the augmentation draws of ``epoch`` (call before iterating each epoch)."""
        self.epoch = _check_epoch(epoch)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | tuple[torch.Tensor, int, bool]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is outside a dataset of {len(self)} items")
        index %= len(self)
        item = self._items[index]
        name, source, path = item
        pixels: Any = read_grey_sized(path, self.image_size)
        is_synthetic = source == "synthetic"
        if self.transform is not None:
            pixels, is_synthetic = self._augment(pixels, item, index)
        image = _to_tensor(pixels, item)
        label = self._label_of[name]
        return (image, label, is_synthetic) if self.with_source else (image, label)

    def _augment(self, pixels: np.ndarray, item: Item, index: int) -> tuple[Any, bool]:
        seed = item_seed(self.seed, self.epoch, index)
        reseed = getattr(self.transform, "set_random_state", None)
        if reseed is not None:
            # One generator shared by all the pipeline's transforms, as A.Compose(seed=...) sets up.
            reseed(np.random.default_rng(seed), random.Random(seed))
        name, source, _ = item
        out = self.transform(image=pixels, label=name, is_synthetic=source == "synthetic")  # type: ignore[misc]
        return out["image"], bool(out.get("is_synthetic", source == "synthetic"))


class LabelledDataset(_ImageItems):
    """A labelled set (class folders, CSV, or ``{class: [paths]}``) as ``(image, label)`` items.

    ``class_names`` fixes the label order (e.g. a training set's, for its test set); by
    default the set's classes sorted by name. Every item counts as real (``is_synthetic``
    False) unless the ``transform`` swaps it (:class:`~eusaug.mix.augment.SyntheticSwap`).
    ``image_size`` = (H, W) resizes on reading (bilinear); None keeps each file's size
    (batches then need equal sizes). See the module doc for items, transforms and seeding.
    """

    def __init__(
        self,
        images: LabelledSource,
        image_size: Sequence[int] | None = (256, 256),
        transform: Pipeline | None = None,
        seed: int = 0,
        class_names: Sequence[str] | None = None,
        with_source: bool = False,
    ) -> None:
        labelled = as_labelled_set(images)
        names = sorted(labelled) if class_names is None else [str(n) for n in class_names]
        if len(set(names)) != len(names):
            raise EusaugError(f"class_names={list(names)!r} repeats a name: list each class once.")
        unknown = sorted(set(labelled) - set(names))
        if unknown:
            raise EusaugError(f"Classes {', '.join(unknown)} of {images} are not in class_names "
                              f"({', '.join(names)}): add them, or leave class_names out.")
        items: list[Item] = [(name, "real", path) for name in names for path in labelled.get(name, ())]
        super().__init__(items, names, image_size, transform, seed, with_source)

    @classmethod
    def from_mixed_set(
        cls,
        folder: str | os.PathLike[str],
        image_size: Sequence[int] | None = (256, 256),
        transform: Pipeline | None = None,
        seed: int = 0,
        with_source: bool = False,
    ) -> LabelledDataset:
        """A set written by ``eusaug mix`` read through its ``metadata.csv``, wherever it was copied.

        Items keep the set's real/synthetic flags (``with_source``); labels index the set's classes sorted.
        """
        rows = read_set_metadata(folder)
        names = sorted({row.class_name for row in rows})
        dataset = cls.__new__(cls)
        _ImageItems.__init__(dataset, [(row.class_name, row.source, row.output_path) for row in rows], names,
                             image_size, transform, seed, with_source)
        return dataset


class MixedDataset(_ImageItems):
    """A mixed real + synthetic set: the selection ``eusaug mix`` writes, as a PyTorch dataset.

    Arguments as :func:`eusaug.mix.mixing.plan_mix` (``ratio`` in [0, 1), ``mode``
    ``replace`` or ``add``, ``seed``, ``missing_class``) and :class:`LabelledDataset`.
    Items are in plan order (class by class, real first): shuffle with the ``DataLoader``
    (``shuffle=True, generator=torch.Generator().manual_seed(seed)`` for a reproducible order).

    ``redraw=False`` (default): the selection is ``plan_mix(..., seed)`` every epoch;
    ``redraw=True``: :meth:`set_epoch` draws epoch ``e``'s selection with
    :func:`epoch_seed` (epoch 0 is still ``eusaug mix``'s), so over the epochs the model
    sees more of the synthetic (and, in ``replace`` mode, real) images while every class
    keeps its exact counts -- the length never changes. ``plan`` is the current selection.
    """

    def __init__(
        self,
        real: LabelledSource,
        synthetic: LabelledSource,
        ratio: float,
        seed: int = 0,
        mode: MixMode = "replace",
        image_size: Sequence[int] | None = (256, 256),
        transform: Pipeline | None = None,
        redraw: bool = False,
        missing_class: MissingClass = "warn",
        with_source: bool = False,
    ) -> None:
        self._real = as_labelled_set(real)
        self._synthetic = as_labelled_set(synthetic)
        self._options = (ratio, mode, missing_class)
        self.redraw = bool(redraw)
        self.plan: MixPlan = plan_mix(self._real, self._synthetic, ratio, mode, seed, missing_class)
        for note in self.plan.notes:
            warnings.warn(note, LabelledSetWarning, stacklevel=2)
        super().__init__(list(self.plan.items()), self.plan.class_names, image_size, transform, seed, with_source)

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s augmentation draws and, with ``redraw``, its selection."""
        super().set_epoch(epoch)
        if self.redraw:
            ratio, mode, missing_class = self._options
            self.plan = plan_mix(self._real, self._synthetic, ratio, mode, epoch_seed(self.seed, self.epoch),
                                 missing_class)
            self._items = list(self.plan.items())
