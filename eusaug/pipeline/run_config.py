"""What a whole-protocol run is given and what its stages share: :class:`RunConfig`, the CTs, the context."""

from __future__ import annotations

import functools
import json
import time
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from eusaug.ct.discover import CaseFiles
from eusaug.ct.volume import BONE_RULES, DEFAULT_BONE_HU, BoneRule, CTCase
from eusaug.errors import EusaugError, did_you_mean
from eusaug.evaluate.features import Precision
from eusaug.evaluate.mcnemar import SIGNIFICANCE_CHOICES, Significance
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.fov_fit import resolve_field_of_view
from eusaug.geometry.planes import SliceFilter
from eusaug.mix.ratios import PAPER_RATIOS
from eusaug.pipeline.split import SubjectSplit, split_from_labelled_csvs
from eusaug.plugin.registry import DEFAULT_TRANSLATOR, Registry

PAPER_LANDMARKS = ("aorta", "liver", "pancreas")

#: Keys of ``RunConfig.field_of_view``: the options of :func:`resolve_field_of_view`.
FOV_SETTINGS = ("fov_from", "fov_file", "depth_mm", "sector_deg", "probe_radius_mm", "probe")

#: Seconds kept back, under a time budget, for synthesis, mixing, evaluation and the report
#: (they took about 105 s of the default demo on 2 cores).
RESERVED_AFTER_TRAINING_S = 120.0

#: The smallest plane grid a run accepts (the CycleGAN downsamples twice, the classifier more).
MIN_IMAGE_SIZE_PX = 32


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
    2.2; ``bf16`` is faster where bfloat16 is native; None: the classifier preset's); ``mcnemar_significance``
    (``uncorrected`` one-sided p, the paper's, or ``holm``).

    ``field_of_view``: options of :func:`eusaug.geometry.resolve_field_of_view`
    (``fov_from``, ``depth_mm``, ``sector_deg``, ``probe_radius_mm``, ``fov_file``,
    ``probe``); ``fov_from: eus`` fits the run's own real frames; empty: the default fan.
    The planes are cut on the ``image_size_px`` square grid of that field of view.

    ``keep_checkpoints``: keep the classifiers' ``.keras`` models (hundreds of MB) after
    Grad-CAM has used them, and the translators' resume checkpoints once every stage has
    finished (until then they are kept: a killed run resumes from them).

    ``devices``: devices of this machine that the translator and the classifiers train on
    (N, ``all``, or ``auto``: every GPU when there are several); see ``docs/cluster.md``.
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
    devices: str = "auto"

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise EusaugError("\n".join(problems))

    def problems(self) -> list[str]:
        """One line per setting out of range or unknown (empty: the config is sound)."""
        out: list[str] = []
        if not self.landmarks:
            out.append("landmarks: empty: a run needs at least one landmark, e.g. landmarks: [aorta, liver, pancreas].")
        if self.bone_rule not in BONE_RULES:
            out.append(f"bone_rule: {self.bone_rule!r} is unknown: use one of {', '.join(BONE_RULES)} "
                       f"(hu is the paper's).{did_you_mean(self.bone_rule, BONE_RULES)}")
        for name in ("fid_precision", "classifier_precision"):
            value = getattr(self, name)
            if value not in ("fp32", "bf16") and not (value is None and name == "classifier_precision"):
                out.append(f"{name}: {value!r} is unknown: use fp32 (the paper's) or bf16.")
        devices = str(self.devices).strip().lower()
        if not (devices in ("auto", "all") or (devices.isdigit() and int(devices) >= 1)):
            out.append(f"devices: {self.devices!r} is unknown: give a number of devices (1, 2, ...), all or auto.")
        if self.mcnemar_significance not in SIGNIFICANCE_CHOICES:
            out.append(f"mcnemar_significance: {self.mcnemar_significance!r} is unknown: use uncorrected "
                       "(the paper's) or holm.")
        if isinstance(self.class_weights, str) and self.class_weights != "balanced":
            out.append(f"class_weights: {self.class_weights!r} is unknown: give balanced or a mapping of "
                       "class: weight (e.g. {aorta: 4.23, background: 4.40, liver: 4.48, pancreas: 2.78}).")
        if isinstance(self.class_weights, dict):
            bad = [k for k, v in self.class_weights.items() if not v > 0]
            if bad:
                out.append(f"class_weights: the weight of {', '.join(map(str, bad))} must be positive.")
        if self.minutes is not None and not self.minutes > 0:
            out.append(f"minutes: {self.minutes} is not a time budget: give a positive number of minutes, "
                       "or null for none.")
        for name in ("planes_per_case", "synth_per_case", "real_train_per_landmark", "real_test_per_landmark"):
            if getattr(self, name) < 1:
                out.append(f"{name}: {getattr(self, name)} must be at least 1.")
        if self.image_size_px < MIN_IMAGE_SIZE_PX:
            out.append(f"image_size_px: {self.image_size_px} is too small: give at least {MIN_IMAGE_SIZE_PX} "
                       "(the paper's is 128).")
        if self.cyclegan_epochs is not None and self.cyclegan_epochs < 1:
            out.append(f"cyclegan_epochs: {self.cyclegan_epochs} must be at least 1 (or null: the preset's).")
        outside = [r for r in self.ratios if not 0.0 <= r <= 1.0]
        if outside:
            out.append(f"ratios: {', '.join(map(str, outside))} outside 0..1: each ratio is the synthetic share "
                       "of a training set, e.g. ratios: [0.0, 0.25, 0.5, 0.75].")
        if not 0.0 < self.test_fraction < 1.0:
            out.append(f"test_fraction: {self.test_fraction} must lie strictly between 0 and 1, e.g. 0.2.")
        if self.seed < 0:
            out.append(f"seed: {self.seed} must be 0 or more.")
        for key in sorted(set(self.field_of_view) - set(FOV_SETTINGS)):
            out.append(f"field_of_view: unknown setting {key!r}: known ones are {', '.join(FOV_SETTINGS)}."
                       f"{did_you_mean(key, FOV_SETTINGS)}")
        return out

    @property
    def slice_filter(self) -> SliceFilter:
        """The slice filter of this run: the paper's thresholds with this run's bone rule."""
        return SliceFilter(bone_rule=self.bone_rule, bone_hu=self.bone_hu)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
        """``base`` with the keys of ``data`` replaced, each checked against its field's type.

        Every wrong key or value is reported at once, one line each (see :func:`check_settings`).
        """
        typed, problems = check_settings(data, base)
        if problems:
            raise EusaugError("\n".join(problems))
        return cls(**_merged(typed, base))


def check_settings(data: dict[str, Any], base: RunConfig | None = None) -> tuple[dict[str, Any], list[str]]:
    """``data`` with its values typed, and one line per unknown key or wrong value.

    Types come from :class:`RunConfig`'s annotations, checked by pydantic in its lax mode
    (``"6"`` is read as 6, ``"ten"`` is an error); an unknown key gets a "did you mean";
    ranges are checked by :meth:`RunConfig.problems` once every value has its type.
    """
    from pydantic import TypeAdapter, ValidationError

    base = base or RunConfig()
    hints = typing.get_type_hints(RunConfig)
    known = [f.name for f in fields(RunConfig)]
    typed: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        if key not in hints:
            hint = did_you_mean(str(key), known) or f" Known ones: {', '.join(known)}."
            problems.append(f"Unknown setting {key!r}.{hint}")
            continue
        try:
            typed[key] = TypeAdapter(hints[key]).validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            # Union members show up in the location; keep only the parts that index the value.
            inner = [p for p in first["loc"] if isinstance(p, int) or (isinstance(value, dict) and p in value)]
            where = "".join(f"[{p}]" for p in inner)
            example = json.dumps(_plain(getattr(base, key)))
            problems.append(f"{key}{where}: {value!r} is not valid ({first['msg'].rstrip('.')}): "
                            f"write it like {key}: {example}.")
    if problems:
        return typed, problems
    try:
        RunConfig(**_merged(typed, base))
    except EusaugError as exc:
        return typed, str(exc).splitlines()
    return typed, []


def _merged(typed: dict[str, Any], base: RunConfig | None) -> dict[str, Any]:
    merged = {**asdict(base or RunConfig()), **typed}
    for key in ("landmarks", "ratios", "test_subjects"):
        if merged.get(key) is not None:
            merged[key] = tuple(merged[key])
    return merged


def _plain(value: Any) -> Any:
    """``value`` as JSON can show it (tuples as lists), for the example in an error line."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


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
