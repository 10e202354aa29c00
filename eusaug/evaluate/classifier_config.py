"""The classifier's settings: the config dataclass, its named presets and the loss's class weights.

Class weights: the ``paper`` preset uses the paper's stated ones
(:data:`PAPER_CLASS_WEIGHTS`); ``"balanced"`` derives ``n_total / (n_classes * n_class)``
from each training set's counts; a mapping gives them by class name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.features import Precision
from eusaug.mix.plan import MixMode
from eusaug.mix.ratios import PAPER_RATIOS, Ratio
from eusaug.mix.subjects import DEFAULT_SUBJECT_PATTERN, SplitSettings

#: The paper's loss weights, section 2.4: "As loss function, we used a weighted categorical
#: cross entropy with the weights of 4.23, 4.40, 4.48, and 2.78 for aorta, background,
#: liver and pancreas, respectively." Stated, not derived: on the paper's counts the
#: balanced rule gives about 1.37, 2.73, 1.98 and 0.42 instead.
PAPER_CLASS_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"aorta": 4.23, "background": 4.40, "liver": 4.48, "pancreas": 2.78})

ClassWeights = Mapping[str, float] | Literal["balanced"] | None


@dataclass(frozen=True)
class ClassifierConfig:
    """Training and evaluation settings; ``paper`` and ``fast`` are the named presets.

    ``class_weights``: a mapping by class name (every training class needs one; a subset
    of the classes of :data:`PAPER_CLASS_WEIGHTS` keeps their stated values, the weights
    being relative), or ``"balanced"`` (``None`` too): ``n_total / (n_classes * n_class)``
    from each model's training counts.
    """

    input_size_px: int = 224
    batch_size: int = 64
    learning_rate: float = 1e-7
    epochs: int = 100
    weights: str | None = "imagenet"
    class_weights: ClassWeights = "balanced"
    background_class: str | None = "background"
    ratios: tuple[Ratio, ...] = PAPER_RATIOS
    mix_mode: MixMode = "replace"
    #: Subjects held out for testing; None picks ``test_fraction`` of them at random.
    test_subjects: tuple[str, ...] | None = None
    test_fraction: float = 0.2
    #: Regular expression on file names; its first group (or the match) is the subject.
    subject_pattern: str = DEFAULT_SUBJECT_PATTERN
    seed: int = 0
    precision: Precision = "fp32"
    #: Devices of this machine: N, ``all``, or ``auto`` (every GPU when there are several);
    #: ``batch_size`` is then split across them (``tf.distribute.MirroredStrategy``).
    devices: str = "auto"

    #: Command-line help of each field (``eusaug evaluate classifier``).
    FIELD_HELP: ClassVar[dict[str, str]] = {
        "input_size_px": "Input size in pixels (paper 224, fast 64).",
        "batch_size": "Images per training step.",
        "learning_rate": "Adam learning rate.",
        "epochs": "Training epochs of each classifier.",
        "weights": "imagenet (from Keras' cache, never downloaded), a weights file, or none (random).",
        "class_weights": "Loss weights NAME=W,... or 'balanced' (from class counts); paper: "
                         "aorta=4.23,background=4.40,liver=4.48,pancreas=2.78.",
        "precision": "fp32 (the paper's, TensorFlow 2.2) or bf16 mixed precision (faster on CPUs with bf16).",
        "background_class": "Class used in training only (none: no such class).",
        "ratios": "Synthetic ratios, comma-separated, e.g. 0,0.25,0.5,0.75 (the paper's).",
        "mix_mode": "replace: class sizes kept; add: synthetic added to all real.",
        "test_subjects": "Subjects held out for testing, comma-separated.",
        "test_fraction": "Share of subjects held out when none are named.",
        "subject_pattern": "Regex on file names whose first group is the subject.",
        "seed": "Seed of split, mixing, shuffling and random weights.",
        "devices": "Devices to train on: N, all, or auto (every GPU when there are several); batch_size is split "
                   "across them. Without GPUs, N logical CPUs (EUSAUG_CPU_DEVICES=N; a test aid).",
    }

    @property
    def split_settings(self) -> SplitSettings:
        """The subject split this config asks for (:func:`eusaug.mix.subjects.split_by_subject`)."""
        return SplitSettings(test_subjects=self.test_subjects, test_fraction=self.test_fraction,
                             subject_pattern=self.subject_pattern, seed=self.seed,
                             background_class=self.background_class)


CLASSIFIER_PRESETS: dict[str, ClassifierConfig] = {
    # Section 2.4: "We used the pre-trained weights from ImageNet, a batch size of 64, a
    # learning rate of 1e-7 and 100 epochs", the stated class weights (PAPER_CLASS_WEIGHTS),
    # float32 as TensorFlow 2.2 ran it ("All models were implemented in TensorFlow 2.2").
    "paper": ClassifierConfig(class_weights=dict(PAPER_CLASS_WEIGHTS), precision="fp32"),
    # Seconds on a laptop CPU for tiny sets: small input, few epochs, a usable learning rate,
    # weights balanced from the counts (any class names work).
    "fast": ClassifierConfig(input_size_px=64, batch_size=16, learning_rate=1e-4, epochs=3, weights=None,
                             class_weights="balanced"),
}


def classifier_preset(name: str) -> ClassifierConfig:
    if name not in CLASSIFIER_PRESETS:
        raise EusaugError(f"Unknown classifier preset {name!r}: use one of {', '.join(CLASSIFIER_PRESETS)}.")
    return CLASSIFIER_PRESETS[name]


def derived_class_weights(counts: Mapping[str, int]) -> dict[str, float]:
    """``n_total / (n_classes * n_class)``: every class contributes equally to the loss."""
    total = sum(counts.values())
    return {c: total / (len(counts) * n) for c, n in counts.items() if n}


def resolve_class_weights(class_weights: ClassWeights, counts: Mapping[str, int]) -> dict[str, float]:
    """The loss weight of every training class in ``counts``.

    ``"balanced"`` or None: :func:`derived_class_weights`. A mapping must name every
    training class: a class it lacks is an error (never a silent fallback to balanced),
    which for the paper's weights means classes other than aorta, background, liver and
    pancreas need their own weights or ``"balanced"``.
    """
    if class_weights is None or class_weights == "balanced":
        return derived_class_weights(counts)
    if isinstance(class_weights, str):
        raise EusaugError(f"Class weights {class_weights!r} are unknown: give 'balanced' or NAME=WEIGHT pairs, "
                          "e.g. aorta=4.23,background=4.40,liver=4.48,pancreas=2.78.")
    missing = sorted(set(counts) - set(class_weights))
    if missing:
        paper = set(class_weights) == set(PAPER_CLASS_WEIGHTS) and all(
            class_weights[c] == PAPER_CLASS_WEIGHTS[c] for c in PAPER_CLASS_WEIGHTS)
        given = "the paper's (aorta, background, liver, pancreas)" if paper else ", ".join(class_weights)
        raise EusaugError(f"Class weights lack {', '.join(missing)} (given: {given}): give a weight for every "
                          "training class (--class-weights aorta=4.23,...), or use class_weights='balanced' "
                          "(--class-weights balanced) to derive them from the counts.")
    bad = {c: w for c, w in class_weights.items() if not (w > 0 and np.isfinite(w))}
    if bad:
        raise EusaugError(f"Class weights must be positive numbers: {bad}.")
    return {c: float(class_weights[c]) for c in counts}


def parse_class_weights(text: str) -> dict[str, float] | Literal["balanced"]:
    """``"aorta=4.23,liver=4.48"`` -> ``{"aorta": 4.23, "liver": 4.48}``; ``"balanced"`` as is."""
    if text.strip().lower() == "balanced":
        return "balanced"
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise EusaugError(f"Class weight {part!r} is not NAME=NUMBER: write e.g. aorta=4.23,liver=4.48.") from None
    return out


