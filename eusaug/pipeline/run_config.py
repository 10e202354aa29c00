"""What a whole-protocol run is given and what its stages share: :class:`RunConfig`, the CTs, the context."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from eusaug.ct.discover import CaseFiles
from eusaug.ct.volume import BONE_RULES, DEFAULT_BONE_HU, BoneRule, CTCase
from eusaug.errors import EusaugError
from eusaug.evaluate.features import Precision
from eusaug.evaluate.mcnemar import SIGNIFICANCE_CHOICES, Significance
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.fov_fit import resolve_field_of_view
from eusaug.geometry.planes import SliceFilter
from eusaug.pipeline.split import SubjectSplit, split_from_labelled_csvs
from eusaug.plugin.registry import DEFAULT_TRANSLATOR, Registry

PAPER_LANDMARKS = ("aorta", "liver", "pancreas")
PAPER_RATIOS = (0.0, 0.25, 0.5, 0.75)

#: Keys of ``RunConfig.field_of_view``: the options of :func:`resolve_field_of_view`.
FOV_SETTINGS = ("fov_from", "fov_file", "depth_mm", "sector_deg", "probe_radius_mm", "probe")

#: Seconds kept back, under a time budget, for synthesis, mixing, evaluation and the report
#: (they took about 105 s of the default demo on 2 cores).
RESERVED_AFTER_TRAINING_S = 120.0


@dataclass(frozen=True)
class RunConfig:
    """Everything that shapes a whole-protocol run; presets live in ``demo`` and ``reproduce``.

    Counts are per landmark and per CT. ``image_size_px`` is the square grid of the
    planes and of the CycleGAN. ``minutes``: a wall-clock budget (None: none); CycleGAN
    training then gets what the other stages leave, at least one epoch per landmark.
    ``real_*_per_landmark`` are only used when no real frames are given.

    Protocol choices the paper states (the ``paper`` preset of ``eusaug reproduce`` sets
    them explicitly, so ``run.json`` shows them): ``class_weights`` of the classifier's
    loss (a mapping by class, ``"balanced"`` from the counts, or None: the classifier
    preset's own); ``bone_rule`` and ``bone_hu`` of the slice filter (``hu`` above 200 HU
    is the paper's rule, see :class:`eusaug.geometry.planes.SliceFilter`);
    ``fid_precision`` and ``classifier_precision`` (``fp32`` as the paper's TensorFlow
    2.2; ``bf16`` is faster; None: the classifier preset's); ``mcnemar_significance``
    (``uncorrected`` one-sided p, the paper's, or ``holm``).

    ``field_of_view``: options of :func:`eusaug.geometry.resolve_field_of_view`
    (``fov_from``, ``depth_mm``, ``sector_deg``, ``probe_radius_mm``, ``fov_file``,
    ``probe``); ``fov_from: eus`` fits the run's own real frames; empty: the default fan.
    The planes are cut on the ``image_size_px`` square grid of that field of view.

    ``keep_checkpoints``: keep the classifiers' ``.keras`` models (hundreds of MB) after
    Grad-CAM has used them.
    """

    landmarks: tuple[str, ...] = PAPER_LANDMARKS
    label_preset: str = "auto"
    image_size_px: int = 128
    planes_per_case: int = 40
    synth_per_case: int = 40
    real_train_per_landmark: int = 40
    real_test_per_landmark: int = 16
    #: The trainable translator of the protocol (one model per landmark) and the training-free baseline.
    translator: str = DEFAULT_TRANSLATOR
    baseline_translator: str = "raysim"
    cyclegan_preset: str = "fast"
    cyclegan_epochs: int | None = 6
    cyclegan_overrides: dict[str, Any] = field(default_factory=dict)
    classifier_preset: str = "fast"
    #: ``auto``: the standard network when the standard-fid extra is installed, else ``paper``.
    fid_preset: str = "auto"
    classifier_overrides: dict[str, Any] = field(default_factory=dict)
    ratios: tuple[float, ...] = PAPER_RATIOS
    weights: str = "auto"
    #: Real-frame subjects held out from every training input (None: drawn, ``test_fraction`` of them).
    test_subjects: tuple[str, ...] | None = None
    test_fraction: float = 0.2
    #: Regular expression on frame file names; its first group is the subject.
    subject_pattern: str = r"^([A-Za-z]+)"
    minutes: float | None = 8.0
    seed: int = 0
    class_weights: dict[str, float] | str | None = None
    bone_rule: BoneRule = "hu"
    bone_hu: float = DEFAULT_BONE_HU
    fid_precision: Precision = "bf16"
    classifier_precision: Precision | None = None
    mcnemar_significance: Significance = "uncorrected"
    field_of_view: dict[str, Any] = field(default_factory=dict)
    keep_checkpoints: bool = False

    def __post_init__(self) -> None:
        if not self.landmarks:
            raise EusaugError("A run needs at least one landmark.")
        if self.bone_rule not in BONE_RULES:
            raise EusaugError(f"bone_rule={self.bone_rule!r} is unknown: use one of {', '.join(BONE_RULES)} "
                              "(hu is the paper's).")
        for name in ("fid_precision", "classifier_precision"):
            value = getattr(self, name)
            if value not in ("fp32", "bf16") and not (value is None and name == "classifier_precision"):
                raise EusaugError(f"{name}={value!r} is unknown: use fp32 (the paper's) or bf16.")
        if self.mcnemar_significance not in SIGNIFICANCE_CHOICES:
            raise EusaugError(f"mcnemar_significance={self.mcnemar_significance!r} is unknown: use uncorrected "
                              "(the paper's) or holm.")
        if isinstance(self.class_weights, str) and self.class_weights != "balanced":
            raise EusaugError(f"class_weights={self.class_weights!r} is unknown: give balanced or a mapping of "
                              "class: weight (e.g. {aorta: 4.23, background: 4.40, liver: 4.48, pancreas: 2.78}).")
        if self.minutes is not None and self.minutes <= 0:
            raise EusaugError(f"minutes={self.minutes}: give a positive time budget.")
        for name in ("planes_per_case", "synth_per_case", "real_train_per_landmark", "real_test_per_landmark"):
            if getattr(self, name) < 1:
                raise EusaugError(f"Run setting {name}={getattr(self, name)} must be at least 1.")
        if self.cyclegan_epochs is not None and self.cyclegan_epochs < 1:
            raise EusaugError(f"cyclegan_epochs={self.cyclegan_epochs} must be at least 1.")
        unknown_fov = sorted(set(self.field_of_view) - set(FOV_SETTINGS))
        if unknown_fov:
            raise EusaugError(
                f"Unknown field_of_view setting(s) {', '.join(unknown_fov)}: known ones are {', '.join(FOV_SETTINGS)}."
            )

    @property
    def slice_filter(self) -> SliceFilter:
        """The slice filter of this run: the paper's thresholds with this run's bone rule."""
        return SliceFilter(bone_rule=self.bone_rule, bone_hu=self.bone_hu)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
        """``base`` with the keys of ``data`` replaced; an unknown key is an error naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise EusaugError(f"Unknown setting(s) {', '.join(unknown)}: known ones are {', '.join(sorted(known))}.")
        merged = {**asdict(base or cls()), **data}
        for key in ("landmarks", "ratios", "test_subjects"):
            if merged.get(key) is not None:
                merged[key] = tuple(merged[key])
        return cls(**merged)


#: One CT of the run: a short name (used in file names) and its files (see :func:`eusaug.ct.find_cases`).
CaseInput = CaseFiles


@dataclass
class RunContext:
    """What the stages share."""

    config: RunConfig
    root: Path
    cases: list[tuple[CaseInput, CTCase]]
    eus_dir: Path | None
    registry: Registry
    weights: str
    weights_note: str
    started: float
    title: str
    #: The real frames' subject split (None until known: simulated frames are made by a stage).
    split: SubjectSplit | None = None

    def require_split(self) -> SubjectSplit:
        """The split; for simulated "real" frames, read from the real stage's two CSVs."""
        if self.split is None:
            self.split = split_from_labelled_csvs(
                self.root / "real" / "train.csv", self.root / "real" / "test.csv",
                "No real frames were given: the held-out set is raysim frames from other poses of the same CT.",
            )
        return self.split

    @property
    def simulated_real(self) -> bool:
        return self.eus_dir is None

    @functools.cached_property
    def fov(self) -> FieldOfView:
        """The run's field of view (``config.field_of_view``) on the ``image_size_px`` square grid."""
        options = dict(self.config.field_of_view)
        if str(options.get("fov_from", "")).lower() == "eus":
            if self.eus_dir is None:
                raise EusaugError("field_of_view fov_from: eus needs real frames: pass --eus FOLDER, or give a folder.")
            options["fov_from"] = self.eus_dir
        size = self.config.image_size_px
        return resolve_field_of_view(**options).with_grid(size, size)

    def seconds_left(self) -> float:
        if self.config.minutes is None:
            return float("inf")
        return self.config.minutes * 60.0 - (time.perf_counter() - self.started)

    def poses_file(self, case: CaseInput, landmark: str, role: str) -> Path:
        return self.root / "poses" / f"{case.name}_{landmark}_{role}.json"
