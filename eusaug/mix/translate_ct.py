"""``TranslateCT``: a CT plane turned into sEUS by a registered translator, as an albumentations transform."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from albumentations.core.transforms_interface import ImageOnlyTransform

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.planes import Planes
from eusaug.io.images import unit_to_uint8
from eusaug.mix.transform_helpers import (
    check_image,
    check_probability,
    fov_dict,
    fov_on_grid,
    grey_to_like,
    unit_float_to_like,
)
from eusaug.plugin import Registry, Translator


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
        super().__init__(p=check_probability(p, "TranslateCT"))
        if not isinstance(translator, str) or not translator:
            raise EusaugError(f"TranslateCT: translator={translator!r} must be a plugin name (eusaug plugins).")
        # Through the registry's typed public accessor, as any caller would; without a registry, the
        # installed (entry-point) plugins', which is also what A.from_dict gets.
        cls = (registry if registry is not None else Registry()).translator(translator)
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
        self.fov = fov_dict(fov, "TranslateCT")
        self.hu_window = (level, width)
        self._translator_cls: type[Translator] = cls
        self._loaded: Translator | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_loaded"] = None
        return state

    def loaded_translator(self) -> Translator:
        """The translator instance (loaded on first use)."""
        if self._loaded is None:
            model = None if self.model_path is None else Path(self.model_path)
            self._loaded = self._translator_cls.load(model, **self.translator_options)
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
        check_image(img, "TranslateCT")
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
        return grey_to_like(unit_to_uint8(out[0]), img) if img.dtype == np.uint8 else \
            unit_float_to_like(out[0], img)
