"""What a whole-protocol run is given and what its stages share: :class:`RunConfig`, the CTs, the context."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from eusaug.ct.volume import CTCase
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.plugin.registry import Registry

PAPER_LANDMARKS = ("aorta", "liver", "pancreas")
PAPER_RATIOS = (0.0, 0.25, 0.5, 0.75)

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
    ``keep_checkpoints``: keep the classifiers' ``.keras`` models (hundreds of MB) after
    Grad-CAM has used them.
    """

    landmarks: tuple[str, ...] = PAPER_LANDMARKS
    label_preset: str = "totalsegmentator"
    image_size_px: int = 128
    planes_per_case: int = 40
    synth_per_case: int = 40
    real_train_per_landmark: int = 40
    real_test_per_landmark: int = 16
    cyclegan_preset: str = "fast"
    cyclegan_epochs: int | None = 6
    cyclegan_overrides: dict[str, Any] = field(default_factory=dict)
    classifier_preset: str = "fast"
    classifier_overrides: dict[str, Any] = field(default_factory=dict)
    ratios: tuple[float, ...] = PAPER_RATIOS
    weights: str = "auto"
    test_subjects: tuple[str, ...] | None = None
    minutes: float | None = 8.0
    seed: int = 0
    keep_checkpoints: bool = False

    def __post_init__(self) -> None:
        if not self.landmarks:
            raise EusaugError("A run needs at least one landmark.")
        if self.minutes is not None and self.minutes <= 0:
            raise EusaugError(f"minutes={self.minutes}: give a positive time budget.")
        for name in ("planes_per_case", "synth_per_case", "real_train_per_landmark", "real_test_per_landmark"):
            if getattr(self, name) < 1:
                raise EusaugError(f"Run setting {name}={getattr(self, name)} must be at least 1.")
        if self.cyclegan_epochs is not None and self.cyclegan_epochs < 1:
            raise EusaugError(f"cyclegan_epochs={self.cyclegan_epochs} must be at least 1.")

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


@dataclass(frozen=True)
class CaseInput:
    """One CT of the run: a short name (used in file names) and its files."""

    name: str
    ct: Path
    labels: Path | None


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

    @property
    def simulated_real(self) -> bool:
        return self.eus_dir is None

    @property
    def fov(self) -> FieldOfView:
        return FieldOfView(height_px=self.config.image_size_px, width_px=self.config.image_size_px)

    def seconds_left(self) -> float:
        if self.config.minutes is None:
            return float("inf")
        return self.config.minutes * 60.0 - (time.perf_counter() - self.started)

    def poses_file(self, case: CaseInput, landmark: str, role: str) -> Path:
        return self.root / "poses" / f"{case.name}_{landmark}_{role}.json"
