"""The four kinds of plugin, each a small abstract class.

A plugin class sets ``name`` (what users type, e.g. ``--translator raysim``) and
``description`` (one line for ``eusaug plugins``), and implements one or two methods.
Units, shapes and value ranges are stated here once; the pose convention is in
:mod:`eusaug.geometry.field_of_view`.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from eusaug.ct.volume import CTCase
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.planes import Planes, SliceFilter

KINDS = ("sampler", "slicer", "translator", "evaluator")


class Plugin(ABC):
    """What every plugin class has: a unique ``name`` within its kind and a ``description``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: Dataclass of the plugin's options, checked in its ``__post_init__``; the fields are
    #: what ``--option KEY=VALUE`` (or ``eusaug evaluate NAME --key``) accepts. None: the
    #: constructor's keyword arguments (a plugin written before options classes).
    options_class: ClassVar[type | None] = None

    def get_config(self) -> dict[str, Any]:
        """Everything that shapes this plugin's output, JSON-ready: its name and options."""
        options = getattr(self, "options", None)
        values = asdict(options) if options is not None and is_dataclass(options) else {}
        return {"name": self.name, **values}


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

        ``landmark`` comes checked (:meth:`eusaug.ct.CTCase.landmark`: an
        :class:`eusaug.ct.Landmark` with its ``label_id``); do not look it up again.
        Every pose's field of view must show ``landmark`` and, when ``slice_filter`` is
        given, pass it. When ``n`` poses cannot be found, raise
        :class:`~eusaug.errors.EusaugError` with the counts rejected for each reason.
        """

    def applied_filter(self, slice_filter: SliceFilter | None) -> SliceFilter | None:
        """The filter :meth:`sample` holds its poses to, which the poses file records.

        ``slice_filter`` itself unless the sampler applies limits of its own in its place
        (``skin-surface``'s gas-shadow and outside-the-CT shares).
        """
        return slice_filter


class Slicer(Plugin):
    """Cuts the field of view out of a CT along poses (pipeline stage 2)."""

    @abstractmethod
    def slice(self, case: CTCase, poses: np.ndarray, fov: FieldOfView) -> Planes:
        """Slice ``(N, 4, 4)`` poses: HU trilinearly, labels by nearest neighbour.

        Must agree with :func:`eusaug.geometry.planes.reference_slice` to within a few HU.
        """


class Translator(Plugin):
    """Turns CT planes into (synthetic) ultrasound images (pipeline stage 3).

    Besides :meth:`translate`, the core reads these (all optional, with the defaults here):
    ``image_size_px`` and ``field_of_view`` (the grid and sector a trained model expects:
    ``eusaug synth`` slices planes to match), :meth:`get_config` (written to
    ``synth.json`` beside the images) and ``options_class`` (the dataclass whose fields
    ``eusaug synth --option KEY=VALUE`` is typed by; the values reach :meth:`load`).
    """

    #: True when the translator needs a trained model (``--model``).
    needs_model: ClassVar[bool] = False
    #: Square grid (pixels) the translator works on; None: any size.
    image_size_px: int | None = None
    #: The field of view the translator was trained on; None: the caller's.
    field_of_view: FieldOfView | None = None

    @classmethod
    def load(cls, model: Path | None = None, **options: Any) -> Translator:
        """Build a ready translator, from a model folder/file when it needs one."""
        return cls(**options)

    def get_config(self) -> dict[str, Any]:
        """Everything that shapes this translator's output, JSON-ready (recorded beside its images)."""
        return {"translator": self.name}

    @classmethod
    def calibrate(cls, frames: Path, path: Path, preset: str | None = None, planes: Planes | None = None) -> Path:
        """Fit the free parameters to the real frames in the folder ``frames`` (starting from the
        named ``preset``; None: the translator's choice for the planes' field of view), write the
        calibration file to ``path`` and return it; ``--calibrate-from FRAMES`` calls it and hands
        the file back through the ``calibration`` option. ``planes``: CT planes of the anatomy the
        translator will render, to fit on where it simulates (the commands pass the first poses'
        planes). Most translators have nothing to fit, so the default refuses."""
        raise EusaugError(f"Translator {cls.name!r} cannot be calibrated to frames: leave --calibrate-from out.")

    @abstractmethod
    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """Return ``(N, H, W)`` float32 images in [-1, 1] for ``planes`` (any batch size), -1 where
        ``planes.visible`` is False."""


class TrainableTranslator(Translator):
    """A translator that learns from CT planes and real EUS frames (``eusaug train``).

    ``training_config_class`` is the dataclass of its training options: ``eusaug train
    --translator NAME`` gets one command-line option per field (see
    :mod:`eusaug.plugin.options`), and ``--set FIELD=VALUE`` is typed by it.
    ``training_presets`` names ready configs (``--preset``).
    """

    needs_model = True
    #: Dataclass of the training options (fields become ``eusaug train`` options).
    training_config_class: ClassVar[type | None] = None
    #: Named training configs, e.g. ``{"paper": ..., "fast": ...}``.
    training_presets: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    @abstractmethod
    def train(
        cls,
        run_dir: Path,
        *,
        cases: list[CTCase],
        pose_sets: list[Any],
        eus_dir: Path,
        landmark: str,
        preset: str | None,
        overrides: Mapping[str, Any],
        resume: bool,
        force: bool,
        slicer: str,
        registry: Any,
        stop_after: int | None,
        inputs: Mapping[str, Any],
    ) -> Path:
        """Train (or resume) into ``run_dir``; return the exported model's path.

        ``cases`` and ``pose_sets`` (:class:`eusaug.poses.PoseSet`) are paired; CT planes
        are cut with the slicer plugin ``slicer`` from ``registry``; ``eus_dir`` holds the
        real frames; ``overrides`` are typed ``training_config_class`` fields; ``inputs``
        is the provenance to record in the run folder. A translator whose
        ``training_config_class`` has a ``raysim_calibration`` field also gets
        ``calibrate_from`` (a folder of frames) when ``eusaug train --calibrate-from`` is given.
        """

    @classmethod
    def summary(cls, run_dir: Path) -> str:
        """One line about a trained run, for the model store (``eusaug models``)."""
        return ""


@dataclass
class EvaluationResult:
    """What an evaluator hands back: a table for the terminal and the files it wrote."""

    title: str
    rows: list[dict[str, Any]]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Evaluator(Plugin):
    """Measures synthetic data or the classifiers trained with it (pipeline stage 5).

    An evaluator declares ``options_class``, a dataclass of its options, and implements
    :meth:`run`. ``eusaug evaluate NAME`` gets one option per field (so a third-party
    evaluator gets its own sub-command with no CLI code), and the pipeline calls
    :meth:`run` with an instance: typed values, never comma strings.
    """

    @classmethod
    def cli_params(cls) -> list[Any]:
        """``click.Option`` objects for ``eusaug evaluate NAME``, derived from ``options_class``."""
        if cls.options_class is None:
            return []
        from eusaug.plugin.options import click_options

        return click_options(cls.options_class)

    @classmethod
    def options_from(cls, values: Mapping[str, Any]) -> Any:
        """The options object from command-line keyword values (strings typed by ``options_class``)."""
        if cls.options_class is None:
            return dict(values)
        from eusaug.plugin.options import config_from_options

        return config_from_options(cls.options_class, values)

    def run(self, options: Any, output_dir: Path) -> EvaluationResult:
        """Evaluate with ``options`` (an ``options_class`` instance); write CSV/PNG under ``output_dir``.

        The one entry point: the CLI (through :meth:`options_from`) and the pipeline both call it.
        """
        if type(self).evaluate is not Evaluator.evaluate:  # an evaluator written for the old contract
            warnings.warn(f"Evaluator {self.name!r} implements evaluate(output_dir, **options), which is deprecated: "
                          "implement run(options, output_dir).", DeprecationWarning, stacklevel=2)
            return self.evaluate(Path(output_dir), **(options if isinstance(options, Mapping) else vars(options)))
        raise NotImplementedError(f"Evaluator {self.name!r} does not implement run(options, output_dir).")

    def evaluate(self, output_dir: Path, **options: Any) -> EvaluationResult:
        """Deprecated (one release): ``run(self.options_from(options), output_dir)``."""
        warnings.warn("Evaluator.evaluate(output_dir, **options) is deprecated: call "
                      "run(Evaluator.options_from(options), output_dir).", DeprecationWarning, stacklevel=2)
        return self.run(self.options_from(options), Path(output_dir))
