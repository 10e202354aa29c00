"""The four kinds of plugin, each a small abstract class.

A plugin class sets ``name`` (what users type, e.g. ``--translator raysim``) and
``description`` (one line for ``eusaug plugins``), and implements one or two methods.
Units, shapes and value ranges are stated here once; the pose convention is in
:mod:`eusaug.geometry.field_of_view`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from eusaug.ct.volume import CTCase
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.planes import Planes, SliceFilter

KINDS = ("sampler", "slicer", "translator", "evaluator")


class Plugin(ABC):
    """What every plugin class has: a unique ``name`` within its kind and a ``description``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""


class PoseSampler(Plugin):
    """Finds probe poses that look at a landmark (pipeline stage 1)."""

    @abstractmethod
    def sample(
        self,
        case: CTCase,
        landmark: str,
        n: int,
        fov: FieldOfView,
        rng: np.random.Generator,
        slice_filter: SliceFilter | None = None,
    ) -> np.ndarray:
        """Return ``(n, 4, 4)`` float64 poses (world mm, RAS+; see :mod:`eusaug.geometry.field_of_view`).

        Every pose's field of view must show ``landmark`` and, when ``slice_filter`` is
        given, pass it. When ``n`` poses cannot be found, raise
        :class:`~eusaug.errors.EusaugError` with the counts rejected for each reason.
        """


class Slicer(Plugin):
    """Cuts the field of view out of a CT along poses (pipeline stage 2)."""

    @abstractmethod
    def slice(self, case: CTCase, poses: np.ndarray, fov: FieldOfView) -> Planes:
        """Slice ``(N, 4, 4)`` poses: HU trilinearly, labels by nearest neighbour.

        Must agree with :func:`eusaug.geometry.planes.reference_slice` to within a few HU.
        """


class Translator(Plugin):
    """Turns CT planes into (synthetic) ultrasound images (pipeline stage 3)."""

    #: True when the translator needs a trained model (``--model``).
    needs_model: ClassVar[bool] = False

    @classmethod
    def load(cls, model: Path | None = None, **options: Any) -> Translator:
        """Build a ready translator, from a model folder/file when it needs one."""
        return cls(**options)

    @abstractmethod
    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """Return ``(N, H, W)`` float32 images in [-1, 1] for ``planes`` (any batch size), -1 where
        ``planes.visible`` is False."""


class TrainableTranslator(Translator):
    """A translator that learns from CT planes and real EUS frames (``eusaug train``)."""

    needs_model = True

    @classmethod
    @abstractmethod
    def train(cls, run_dir: Path, **options: Any) -> Path:
        """Train (or resume) into ``run_dir``; return the exported model's path."""


@dataclass
class EvaluationResult:
    """What an evaluator hands back: a table for the terminal and the files it wrote."""

    title: str
    rows: list[dict[str, Any]]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Evaluator(Plugin):
    """Measures synthetic data or the classifiers trained with it (pipeline stage 5).

    ``eusaug evaluate NAME`` is built from :meth:`cli_params`, so an evaluator from a
    third-party package gets its own sub-command with no CLI code.
    """

    @classmethod
    def cli_params(cls) -> list[Any]:
        """``click.Option`` objects for ``eusaug evaluate NAME``; their names are the kwargs."""
        return []

    @abstractmethod
    def evaluate(self, output_dir: Path, **options: Any) -> EvaluationResult:
        """Run, write CSV (and PNG) results under ``output_dir``, and return them."""
