"""``SyntheticSwap``: a synthetic ratio on the fly, swapping an image for a synthetic one of its class."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from albumentations.core.transforms_interface import ImageOnlyTransform

from eusaug.errors import EusaugError
from eusaug.io.images import read_grey_uint8
from eusaug.mix.labelled_sets import read_labelled_set
from eusaug.mix.transform_helpers import SWAP_FITS, SwapFit, check_image, check_probability, grey_to_like


class SyntheticSwap(ImageOnlyTransform):
    """With probability ``p``, replace the image by a synthetic image of the same class.

    The class comes from the ``label`` passed with the image:
    ``pipeline(image=img, label="aorta")`` -- a class name, or an integer index into
    ``class_names`` (default: the bank's classes sorted by name, the order Keras'
    ``image_dataset_from_directory`` numbers them). Pass ``is_synthetic=False`` too to get
    back whether the image was swapped. The bank is a labelled set (folder with one
    sub-folder per class, or CSV; see :mod:`eusaug.mix.labelled_sets`); in a CSV with a
    ``source`` column, such as a ``eusaug mix`` manifest, only ``synthetic`` rows are used.

    The synthetic image is read as greyscale and fitted into the input's frame keeping its
    aspect ratio: ``fit="letterbox"`` (default) scales it to fit inside and pads with black,
    so a square 256 x 256 sEUS in a 480 x 640 frame becomes a centred 480 x 480 square;
    ``fit="crop"`` scales it to cover the frame and keeps the centre; ``fit="stretch"``
    resizes to the frame (distorting anatomy). The output has the input's dtype and
    channel count.

    Batches (``pipeline(images=..., label=[...])``, albumentations' ``images`` target) are
    swapped image by image: each image gets its own class (``label`` a sequence with one
    label per image, or one label for all), its own draw of ``p`` and its own bank image,
    so a batch gives what calling the pipeline once per image would; ``is_synthetic``,
    if passed, is one flag per image and comes back as a list. A label whose class the bank lacks is an error, or -- with
    ``missing_class="keep"`` (e.g. a background class with no sEUS) -- never swapped.
    The chosen file is in :meth:`get_applied_params` as ``synthetic_path`` (for a batch:
    ``synthetic_paths``, None where not swapped).
    """

    def __init__(
        self,
        bank: str | os.PathLike[str],
        class_names: Sequence[str] | None = None,
        missing_class: Literal["error", "keep"] = "error",
        fit: SwapFit = "letterbox",
        p: float = 0.5,
    ) -> None:
        super().__init__(p=check_probability(p, "SyntheticSwap"))
        if missing_class not in ("error", "keep"):
            raise EusaugError(f"SyntheticSwap: missing_class={missing_class!r} must be 'error' or 'keep'.")
        if fit not in SWAP_FITS:
            raise EusaugError(f"SyntheticSwap: fit={fit!r} must be one of {', '.join(SWAP_FITS)} "
                              "('letterbox' keeps the synthetic image's aspect ratio and pads with black).")
        self.fit = fit
        self.bank = str(bank)
        self.missing_class = missing_class
        self._images = _read_bank(Path(bank))
        if class_names is not None:
            names = [str(n) for n in class_names]
            if not names or len(set(names)) != len(names):
                raise EusaugError(f"SyntheticSwap: class_names={list(class_names)!r} must list distinct names.")
            self.class_names: list[str] | None = names
        else:
            self.class_names = None

    @property
    def targets(self) -> dict[str, Any]:
        return {"image": self.apply, "is_synthetic": self.apply_to_is_synthetic}

    @property
    def targets_as_params(self) -> list[str]:
        return ["label"]

    def bank_classes(self) -> list[str]:
        """Classes the bank holds images for, sorted."""
        return sorted(self._images)

    def resolve_label(self, label: Any) -> str:
        """The class name a ``label`` (name or integer index) stands for."""
        if isinstance(label, bytes):
            label = label.decode("utf-8")
        if isinstance(label, np.ndarray) and label.ndim == 0:
            label = label.item()
        if isinstance(label, str):
            return label
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            names = self.class_names or self.bank_classes()
            if not 0 <= int(label) < len(names):
                raise EusaugError(f"SyntheticSwap: label {int(label)} is outside 0..{len(names) - 1} "
                                  f"(classes {', '.join(names)}): pass a class name or a valid index.")
            return names[int(label)]
        raise EusaugError(f"SyntheticSwap: label {label!r} must be a class name or an integer index.")

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        name = self.resolve_label(data["label"])
        paths = self._images.get(name)
        if paths is None:
            if self.missing_class == "keep":
                return {"synthetic_path": None}
            raise EusaugError(f"SyntheticSwap: the bank {self.bank} has no class {name!r} (it has "
                              f"{', '.join(self.bank_classes())}): add it, or pass missing_class='keep'.")
        return {"synthetic_path": str(paths[int(self.random_generator.integers(len(paths)))])}

    def apply(self, img: np.ndarray, synthetic_path: str | None = None, **params: Any) -> np.ndarray:
        check_image(img, "SyntheticSwap")
        if synthetic_path is None:
            return img
        return grey_to_like(read_grey_uint8(synthetic_path), img, self.fit)

    def __call__(self, *args: Any, force_apply: bool = False, **data: Any) -> dict[str, Any]:
        if "images" not in data:
            return super().__call__(*args, force_apply=force_apply, **data)
        return self._swap_each(force_apply, data)

    def _swap_each(self, force_apply: bool, data: dict[str, Any]) -> dict[str, Any]:
        """The batch form: each image of ``images`` swapped on its own (see the class doc)."""
        images = data["images"]
        n = len(images)
        labels = self._per_image(data.get("label"), n, "label")
        flags = None if "is_synthetic" not in data else self._per_image(data["is_synthetic"], n, "is_synthetic")
        outs, new_flags, paths = [], [], []
        for i in range(n):
            item: dict[str, Any] = {"image": images[i], "label": labels[i]}
            if flags is not None:
                item["is_synthetic"] = flags[i]
            result = super().__call__(force_apply=force_apply, **item)
            outs.append(result["image"])
            new_flags.append(bool(result.get("is_synthetic", False)))
            paths.append(self.get_applied_params().get("synthetic_path"))
        data["images"] = np.stack(outs) if isinstance(images, np.ndarray) else outs
        if flags is not None:
            data["is_synthetic"] = new_flags
        self.params = {"synthetic_paths": paths}
        return data

    @staticmethod
    def _per_image(value: Any, n: int, name: str) -> list[Any]:
        if value is None:
            raise EusaugError(f"SyntheticSwap: a batch (images=) needs {name}=, one per image or one for all.")
        if isinstance(value, (str, bytes, bool, int, np.integer, np.bool_)) or (
                isinstance(value, np.ndarray) and value.ndim == 0):
            return [value] * n
        values = list(value)
        if len(values) != n:
            raise EusaugError(f"SyntheticSwap: {len(values)} values of {name} for {n} images: pass one per "
                              "image, or a single one for all.")
        return values

    def apply_to_is_synthetic(self, flag: Any, synthetic_path: str | None = None, **params: Any) -> bool:
        return True if synthetic_path is not None else bool(flag)


def _read_bank(bank: Path) -> dict[str, list[Path]]:
    source = None
    if bank.is_file() and bank.suffix.lower() == ".csv":
        with open(bank, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        if "source" in (cell.strip().lower() for cell in header):
            source = "synthetic"
    return read_labelled_set(bank, check_images=False, source=source)
