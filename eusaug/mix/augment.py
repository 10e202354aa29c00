"""Albumentations transforms for ultrasound and for synthetic data.

They subclass albumentations' own base classes, so they go into ``A.Compose`` next to
the built-in transforms, are reproducible under ``A.Compose(..., seed=...)`` and
serialise with ``A.to_dict`` / ``A.from_dict``:

* :class:`SyntheticSwap` -- with probability ``p`` replaces the image by a synthetic one
  of the same class, drawn from a bank; a synthetic ratio on the fly;
* :class:`TranslateCT` -- turns a CT plane into sEUS with any registered translator;
* :class:`SectorMask` -- blanks what lies outside a curvilinear (or linear) field of view;
* :class:`SpeckleNoise` -- multiplicative Rayleigh speckle;
* :class:`DepthGain` -- a random time-gain-compensation curve along depth.

Images follow albumentations' conventions: ``uint8`` in [0, 255] or ``float32`` in
[0, 1] (eusaug's own [-1, 1] arrays map to it as ``(x + 1) / 2``), greyscale ``(H, W)``
or ``(H, W, C)``; every transform returns the dtype and shape it was given. Each
validates its arguments in ``__init__`` (raising :class:`~eusaug.errors.EusaugError`),
draws all its randomness in ``get_params_dependent_on_data`` from the generator
albumentations seeds, and its ``apply`` is a function of the image and those parameters.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from albumentations.core.transforms_interface import DualTransform, ImageOnlyTransform

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.planes import Planes
from eusaug.io.images import read_grey_uint8, unit_to_uint8
from eusaug.mix.labelled_sets import read_labelled_set
from eusaug.plugin.interfaces import Translator
from eusaug.plugin.registry import Registry
from eusaug.translate.speckle import RAYLEIGH_MEAN

__all__ = ["DepthGain", "SectorMask", "SpeckleNoise", "SyntheticSwap", "TranslateCT", "fit_into_frame"]



# ---------------------------------------------------------------------------------------
# Shared helpers: argument checks and dtype round trips.


def _check_probability(p: float, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise EusaugError(f"{name}: p={p!r} must be a probability in [0, 1].")
    return float(p)


def _check_range(value: Sequence[float], name: str, low: float, high: float) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise EusaugError(f"{name}={value!r} must be a pair (low, high) of numbers.") from None
    if not (low <= lo <= hi <= high):
        raise EusaugError(f"{name}=({lo:g}, {hi:g}) must satisfy {low:g} <= low <= high <= {high:g}.")
    return lo, hi


def _check_image(img: np.ndarray, name: str) -> None:
    if img.ndim not in (2, 3) or img.dtype not in (np.uint8, np.float32):
        raise EusaugError(f"{name} takes (H, W) or (H, W, C) uint8 or float32 images, got "
                          f"{img.dtype} of shape {img.shape}.")


def _to_unit_interval(img: np.ndarray) -> np.ndarray:
    """uint8 -> float32 [0, 1]; float32 as is."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    return img.astype(np.float32, copy=False)


def _from_unit_interval(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """float [0, 1] -> ``like``'s dtype (clipped; uint8 rounded)."""
    clipped = np.clip(values, 0.0, 1.0)
    if like.dtype == np.uint8:
        return np.rint(clipped * 255.0).astype(np.uint8)
    return clipped.astype(like.dtype, copy=False)


def _per_pixel(field: np.ndarray, img: np.ndarray) -> np.ndarray:
    """Broadcast an (H, W) field over the channels of ``img``."""
    return field[..., None] if img.ndim == 3 else field


def _grey_to_like(grey: np.ndarray, like: np.ndarray, fit: SwapFit = "stretch") -> np.ndarray:
    """``(h, w)`` uint8 greyscale -> the shape and dtype of ``like`` (fitted as ``fit`` says, channels repeated)."""
    height, width = like.shape[:2]
    grey = fit_into_frame(grey, height, width, fit)
    out = grey if like.dtype == np.uint8 else grey.astype(np.float32) / np.float32(255.0)
    if like.ndim == 3:
        out = np.repeat(out[..., None], like.shape[2], axis=2)
    return np.ascontiguousarray(out.astype(like.dtype, copy=False))


SwapFit = Literal["letterbox", "crop", "stretch"]
SWAP_FITS = ("letterbox", "crop", "stretch")


def _resize_grey(grey: np.ndarray, height: int, width: int) -> np.ndarray:
    shrink = grey.shape[0] > height or grey.shape[1] > width
    return cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def fit_into_frame(grey: np.ndarray, height: int, width: int, fit: SwapFit = "letterbox") -> np.ndarray:
    """``(h, w)`` uint8 greyscale fitted into a ``height x width`` frame.

    ``letterbox`` scales it to fit inside with its aspect ratio and centres it on black;
    ``crop`` scales it to cover the frame with its aspect ratio and keeps the centre;
    ``stretch`` resizes to the frame, distorting anatomy whose aspect differs.
    """
    h, w = grey.shape
    if (h, w) == (height, width):
        return grey
    if fit == "stretch":
        return _resize_grey(grey, height, width)
    scale = min(height / h, width / w) if fit == "letterbox" else max(height / h, width / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if fit == "letterbox":
        new_h, new_w = min(new_h, height), min(new_w, width)
        canvas = np.zeros((height, width), dtype=grey.dtype)
        top, left = (height - new_h) // 2, (width - new_w) // 2
        canvas[top:top + new_h, left:left + new_w] = _resize_grey(grey, new_h, new_w)
        return canvas
    new_h, new_w = max(new_h, height), max(new_w, width)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return _resize_grey(grey, new_h, new_w)[top:top + height, left:left + width]


def _fov_dict(fov: FieldOfView | Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    """A field of view as the plain dict that ``A.to_dict`` can store (validated)."""
    if fov is None:
        return None
    if isinstance(fov, FieldOfView):
        return fov.to_dict()
    if isinstance(fov, Mapping):
        unknown = set(fov) - set(FieldOfView.__dataclass_fields__)
        if unknown:
            raise EusaugError(f"{name}: unknown field-of-view keys {sorted(unknown)}; use "
                              f"{', '.join(FieldOfView.__dataclass_fields__)}.")
        return FieldOfView.from_dict(dict(fov)).to_dict()
    raise EusaugError(f"{name}: fov={fov!r} must be a eusaug.geometry.field_of_view.FieldOfView or a dict of its fields.")


def fov_on_grid(fov: Mapping[str, Any] | None, height: int, width: int) -> FieldOfView:
    """The field of view ``fov`` (default :class:`FieldOfView`) sampled on an ``height x width`` grid."""
    return FieldOfView.from_dict({**(fov or {}), "height_px": int(height), "width_px": int(width)})


# ---------------------------------------------------------------------------------------


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
        super().__init__(p=_check_probability(p, "SyntheticSwap"))
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
        _check_image(img, "SyntheticSwap")
        if synthetic_path is None:
            return img
        return _grey_to_like(read_grey_uint8(synthetic_path), img, self.fit)

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


# ---------------------------------------------------------------------------------------


class TranslateCT(ImageOnlyTransform):
    """Translate a CT plane into sEUS with a registered translator plugin.

    ``translator`` is a plugin name (``eusaug plugins`` lists them; ``Registry.add`` adds
    one at run time -- pass that ``registry``), ``model_path`` its trained model when it
    needs one, ``translator_options`` keyword options for its ``load``.

    Input ``image``: the CT plane in HU as float32, or a uint8 display of it through
    ``hu_window`` = (level, width) (0 and 255 map back to the window's ends). An optional
    ``mask`` passed with it is the plane's label map (integer ids) for translators that use
    labels; it is passed through unchanged. ``fov`` is the field of view the plane was
    sliced with (default :class:`~eusaug.geometry.field_of_view.FieldOfView`), laid on the image's grid.
    Output: the sEUS image, uint8 for uint8 input and float32 in [0, 1] for float input,
    with the input's channel count. The translator's randomness is seeded per call from
    albumentations' generator.

    ``registry`` is not serialised: ``A.from_dict`` resolves the name among the installed
    (entry-point) plugins. The loaded model is cached on the transform and dropped when it
    is pickled (e.g. into data-loader workers), where it is loaded again on first use.
    """

    def __init__(
        self,
        translator: str,
        model_path: str | os.PathLike[str] | None = None,
        translator_options: Mapping[str, Any] | None = None,
        fov: FieldOfView | Mapping[str, Any] | None = None,
        hu_window: Sequence[float] = (40.0, 400.0),
        registry: Registry | None = None,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=_check_probability(p, "TranslateCT"))
        if not isinstance(translator, str) or not translator:
            raise EusaugError(f"TranslateCT: translator={translator!r} must be a plugin name (eusaug plugins).")
        cls = (registry or Registry()).get("translator", translator)
        if model_path is not None and not Path(model_path).exists():
            raise EusaugError(f"TranslateCT: model {model_path} does not exist: pass the model folder or file "
                              f"that training of {translator!r} wrote.")
        if getattr(cls, "needs_model", False) and model_path is None:
            raise EusaugError(f"TranslateCT: translator {translator!r} needs a trained model: pass model_path.")
        if translator_options is not None and not isinstance(translator_options, Mapping):
            raise EusaugError(f"TranslateCT: translator_options={translator_options!r} must be a dict.")
        try:
            level, width = (float(v) for v in hu_window)
        except (TypeError, ValueError):
            raise EusaugError(f"TranslateCT: hu_window={hu_window!r} must be (level, width) in HU.") from None
        if not width > 0:
            raise EusaugError(f"TranslateCT: hu_window width {width:g} must be positive.")
        self.translator = translator
        self.model_path = None if model_path is None else str(model_path)
        self.translator_options = dict(translator_options or {})
        self.fov = _fov_dict(fov, "TranslateCT")
        self.hu_window = (level, width)
        self._translator_cls = cls
        self._loaded: Translator | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_loaded"] = None
        return state

    def loaded_translator(self) -> Translator:
        """The translator instance (loaded on first use)."""
        if self._loaded is None:
            model = None if self.model_path is None else Path(self.model_path)
            self._loaded = self._translator_cls.load(model=model, **self.translator_options)  # type: ignore[attr-defined]
        return self._loaded

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return {
            "translate_seed": int(self.random_generator.integers(0, 2**63 - 1)),
            "labels": data.get("mask"),
        }

    def to_hu(self, img: np.ndarray) -> np.ndarray:
        """The input plane as ``(H, W)`` float32 HU."""
        plane = img[..., 0] if img.ndim == 3 else img
        if plane.dtype == np.uint8:
            level, width = self.hu_window
            return (plane.astype(np.float32) / np.float32(255.0) * np.float32(width)
                    + np.float32(level - width / 2.0))
        return plane.astype(np.float32, copy=False)

    def apply(self, img: np.ndarray, translate_seed: int = 0, labels: np.ndarray | None = None,
              **params: Any) -> np.ndarray:
        _check_image(img, "TranslateCT")
        height, width = img.shape[:2]
        fov = fov_on_grid(self.fov, height, width)
        hu = self.to_hu(img)
        if labels is None:
            ids = np.zeros((height, width), dtype=np.int16)
        else:
            ids = np.asarray(labels)
            ids = ids[..., 0] if ids.ndim == 3 else ids
            if ids.shape != (height, width):
                raise EusaugError(f"TranslateCT: mask shape {ids.shape} differs from the image's {(height, width)}.")
        planes = Planes(hu=hu[None], labels=ids[None].astype(np.int32), mask=fov.mask()[None],
                        poses=np.eye(4)[None], fov=fov)
        out = self.loaded_translator().translate(planes, np.random.default_rng(translate_seed))
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 3 or out.shape[0] != 1:
            raise EusaugError(f"TranslateCT: translator {self.translator!r} returned shape {out.shape}, "
                              "expected (1, H, W) for one plane.")
        return _grey_to_like(unit_to_uint8(out[0]), img) if img.dtype == np.uint8 else \
            _unit_float_to_like(out[0], img)


def _unit_float_to_like(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """float [-1, 1] ``(h, w)`` -> float32 [0, 1] with ``like``'s size and channels (no 8-bit rounding)."""
    height, width = like.shape[:2]
    values = (np.clip(image, -1.0, 1.0) + 1.0) / 2.0
    if values.shape != (height, width):
        values = cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)
    if like.ndim == 3:
        values = np.repeat(values[..., None], like.shape[2], axis=2)
    return np.ascontiguousarray(values.astype(like.dtype, copy=False))


# ---------------------------------------------------------------------------------------


class SectorMask(DualTransform):
    """Blank everything outside an ultrasound field of view (a convex sector by default).

    ``fov`` is a :class:`~eusaug.geometry.field_of_view.FieldOfView` (or a dict of its fields) laid on the
    image's grid, transducer at the top; pixels outside get ``fill`` (image units: 0..255
    for uint8, 0..1 for float32) and, in a ``mask`` target, ``fill_mask``. Deterministic:
    it draws nothing. Bounding boxes and keypoints pass through unchanged.
    """

    def __init__(
        self,
        fov: FieldOfView | Mapping[str, Any] | None = None,
        fill: float = 0.0,
        fill_mask: float = 0.0,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=_check_probability(p, "SectorMask"))
        for name, value in (("fill", fill), ("fill_mask", fill_mask)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise EusaugError(f"SectorMask: {name}={value!r} must be a finite number.")
        self.fov = _fov_dict(fov, "SectorMask")
        self.fill = float(fill)
        self.fill_mask = float(fill_mask)
        self._inside: dict[tuple[int, int], np.ndarray] = {}

    def inside(self, height: int, width: int) -> np.ndarray:
        """``(H, W)`` bool, True inside the field of view on that grid (kept per grid size)."""
        key = (int(height), int(width))
        if key not in self._inside:
            self._inside[key] = fov_on_grid(self.fov, *key).mask()
        return self._inside[key]

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        return {"inside": self.inside(height, width)}

    def apply(self, img: np.ndarray, inside: np.ndarray, **params: Any) -> np.ndarray:
        _check_image(img, "SectorMask")
        return np.where(_per_pixel(inside, img), img, np.asarray(self.fill).astype(img.dtype))

    def apply_to_mask(self, mask: np.ndarray, inside: np.ndarray, **params: Any) -> np.ndarray:
        return np.where(_per_pixel(inside, mask), mask, np.asarray(self.fill_mask).astype(mask.dtype))

    def apply_to_bboxes(self, bboxes: np.ndarray, **params: Any) -> np.ndarray:
        return bboxes

    def apply_to_keypoints(self, keypoints: np.ndarray, **params: Any) -> np.ndarray:
        return keypoints

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_inside"] = {}
        return state


# ---------------------------------------------------------------------------------------


class SpeckleNoise(ImageOnlyTransform):
    """Multiplicative Rayleigh speckle, the grain of coherent ultrasound imaging.

    Each pixel is multiplied by ``(1 - s) + s * R``, with ``R`` Rayleigh-distributed with
    mean 1 and ``s`` drawn per call from ``strength_range`` (0: no change; 1: fully
    developed speckle, relative std 0.52). ``grain_px`` > 1 draws the field on a grid that
    much coarser and interpolates it, for speckle larger than a pixel.
    """

    def __init__(
        self,
        strength_range: Sequence[float] = (0.2, 0.5),
        grain_px: float = 1.0,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=_check_probability(p, "SpeckleNoise"))
        self.strength_range = _check_range(strength_range, "SpeckleNoise strength_range", 0.0, 1.0)
        if isinstance(grain_px, bool) or not isinstance(grain_px, (int, float)) or not 1.0 <= grain_px <= 64.0:
            raise EusaugError(f"SpeckleNoise: grain_px={grain_px!r} must be a number in [1, 64].")
        self.grain_px = float(grain_px)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        rng = self.random_generator
        strength = float(rng.uniform(*self.strength_range))
        grid = (max(1, math.ceil(height / self.grain_px)), max(1, math.ceil(width / self.grain_px)))
        rayleigh = rng.rayleigh(1.0, size=grid).astype(np.float32) / np.float32(RAYLEIGH_MEAN)
        if grid != (height, width):
            rayleigh = cv2.resize(rayleigh, (width, height), interpolation=cv2.INTER_LINEAR)
        return {"speckle": np.float32(1.0 - strength) + np.float32(strength) * rayleigh}

    def apply(self, img: np.ndarray, speckle: np.ndarray, **params: Any) -> np.ndarray:
        _check_image(img, "SpeckleNoise")
        return _from_unit_interval(_to_unit_interval(img) * _per_pixel(speckle, img), img)


# ---------------------------------------------------------------------------------------


class DepthGain(ImageOnlyTransform):
    """A random depth-dependent gain, like turning the time-gain-compensation sliders.

    ``knots`` gains (dB), each drawn from ``gain_db_range``, sit evenly from the top
    (depth 0) to the bottom (full depth) and are interpolated linearly in between; the
    image is multiplied by ``10 ** (gain_db / 20)``. Depth is the image row (transducer at
    the top), or, with ``fov``, the distance from the probe face within that field of
    view laid on the image, so a sector's gain follows its arcs.
    """

    def __init__(
        self,
        gain_db_range: Sequence[float] = (-6.0, 6.0),
        knots: int = 4,
        fov: FieldOfView | Mapping[str, Any] | None = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=_check_probability(p, "DepthGain"))
        self.gain_db_range = _check_range(gain_db_range, "DepthGain gain_db_range", -40.0, 40.0)
        if isinstance(knots, bool) or not isinstance(knots, (int, np.integer)) or not 1 <= knots <= 64:
            raise EusaugError(f"DepthGain: knots={knots!r} must be an integer in [1, 64].")
        self.knots = int(knots)
        self.fov = _fov_dict(fov, "DepthGain")
        self._depth: dict[tuple[int, int], np.ndarray] = {}

    def relative_depth(self, height: int, width: int) -> np.ndarray:
        """``(H, W)`` float32 depth in [0, 1] on that grid (0 at the probe face)."""
        key = (int(height), int(width))
        if key not in self._depth:
            if self.fov is None:
                rows = (np.arange(height, dtype=np.float32) + 0.5) / np.float32(height)
                depth = np.broadcast_to(rows[:, None], key)
            else:
                fov = fov_on_grid(self.fov, *key)
                u, v = fov.pixel_coordinates_mm()
                if fov.kind == "sector":
                    below_face = np.hypot(u, v + fov.probe_radius_mm) - fov.probe_radius_mm
                else:
                    below_face = v
                depth = np.clip(below_face / fov.depth_mm, 0.0, 1.0)
            self._depth[key] = np.ascontiguousarray(depth, dtype=np.float32)
        return self._depth[key]

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        gains_db = self.random_generator.uniform(*self.gain_db_range, size=self.knots)
        depth = self.relative_depth(height, width)
        if self.knots == 1:
            curve_db = np.full(depth.shape, gains_db[0], dtype=np.float32)
        else:
            curve_db = np.interp(depth, np.linspace(0.0, 1.0, self.knots), gains_db).astype(np.float32)
        return {"gain": np.power(np.float32(10.0), curve_db / np.float32(20.0)), "gains_db": gains_db.tolist()}

    def apply(self, img: np.ndarray, gain: np.ndarray, **params: Any) -> np.ndarray:
        _check_image(img, "DepthGain")
        return _from_unit_interval(_to_unit_interval(img) * _per_pixel(gain, img), img)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_depth"] = {}
        return state
