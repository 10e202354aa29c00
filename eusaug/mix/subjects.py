"""The subject split: which real images are held out for testing, whole subjects at a time.

A concept of its own, below both the classifier (which tests on the held-out images) and
the pipeline (whose guard keeps held-out subjects out of every training input). Subjects
come from a ``path,subject`` CSV or from a regular expression on file names (the shared
frames' first letter is the subject); when they are unknown for some images, the split
falls back to random images and says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from eusaug.errors import EusaugError
from eusaug.io.tables import read_csv_rows

#: Default pattern: the leading letters of a file name are its subject.
DEFAULT_SUBJECT_PATTERN = r"^([A-Za-z]+)"


def _check_pattern(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise EusaugError(f"Subject pattern {pattern!r} is not a regular expression ({exc}).") from None


@dataclass(frozen=True)
class SplitSettings:
    """How to split: subjects held out (None: draw ``test_fraction`` of them with ``seed``), the file-name
    pattern of subjects, and the training-only background class (never in the test set)."""

    test_subjects: tuple[str, ...] | None = None
    test_fraction: float = 0.2
    subject_pattern: str = DEFAULT_SUBJECT_PATTERN
    seed: int = 0
    background_class: str | None = "background"

    def __post_init__(self) -> None:
        _check_pattern(self.subject_pattern)
        if self.test_subjects is not None:
            object.__setattr__(self, "test_subjects", tuple(str(s) for s in self.test_subjects))


@runtime_checkable
class HasSplitSettings(Protocol):
    """A settings object that carries the split's settings (e.g. ``ClassifierConfig``)."""

    @property
    def split_settings(self) -> SplitSettings: ...


@dataclass(frozen=True)
class Split:
    """The real images for training and for testing, by class, and how they were split."""

    train: dict[str, list[Path]]
    test: dict[str, list[Path]]
    subjects: dict[Path, str | None]
    test_subjects: tuple[str, ...]
    notes: tuple[str, ...] = ()


def read_subjects_csv(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{file name or path: subject}`` from a CSV with ``path`` (or ``image``) and ``subject`` columns."""
    rows = read_csv_rows(path, ("subject",))
    key = next((c for c in ("path", "file_name", "image", "file", "filename") if rows and c in rows[0]), None)
    if key is None:
        raise EusaugError(f"{path} needs a path (or image) column beside subject.")
    out: dict[str, str] = {}
    for row in rows:
        name, subject = row[key].strip(), row["subject"].strip()
        if name and subject:
            out[name] = subject
            out[Path(name).name] = subject
    return out


def subject_of(path: Path, pattern: str, table: Mapping[str, str] | None = None) -> str | None:
    """The subject of an image: from ``table`` (path or file name), else the pattern's match."""
    if table is not None:
        return table.get(str(path)) or table.get(path.name)
    match = re.search(pattern, path.name)
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def split_by_subject(real: Mapping[str, Sequence[Path]], settings: SplitSettings | HasSplitSettings,
                     subjects: Mapping[str, str] | None = None) -> Split:
    """Hold out whole subjects for testing (random images only when subjects are unknown).

    ``settings`` is a :class:`SplitSettings`, or any settings object that carries one as
    ``split_settings`` (e.g. the classifier's config).
    """
    config = settings.split_settings if isinstance(settings, HasSplitSettings) else settings
    rng = np.random.default_rng(config.seed)
    background = config.background_class
    of = {p: subject_of(Path(p), config.subject_pattern, subjects) for paths in real.values() for p in paths}
    known = sorted({s for s in of.values() if s is not None})
    notes: list[str] = []
    if all(s is not None for s in of.values()) and len(known) >= 2:
        if config.test_subjects is not None:
            unknown = sorted(set(config.test_subjects) - set(known))
            if unknown:
                raise EusaugError(f"Test subject(s) {', '.join(unknown)} not found: the subjects are {', '.join(known)}.")
            held = tuple(sorted(config.test_subjects))
        else:
            if not 0.0 < config.test_fraction < 1.0:
                raise EusaugError(f"test_fraction={config.test_fraction} must be in (0, 1).")
            k = min(len(known) - 1, max(1, round(config.test_fraction * len(known))))
            held = tuple(sorted(rng.choice(known, size=k, replace=False).tolist()))
        train = {c: [p for p in paths if of[p] not in held] for c, paths in real.items()}
        test = {c: [p for p in paths if of[p] in held] for c, paths in real.items() if c != background}
        dropped = len([p for p in real.get(background or "", []) if of[p] in held]) if background else 0
        if dropped:
            notes.append(f"{dropped} {background!r} images of test subjects were left out (background is for "
                         "training only, and test subjects stay out of training).")
    else:
        if config.test_subjects is not None:
            raise EusaugError(f"Test subjects {', '.join(config.test_subjects)} were given but subjects are not known "
                              f"for every image (pattern {config.subject_pattern!r}): pass a subjects CSV.")
        if not 0.0 < config.test_fraction < 1.0:
            raise EusaugError(f"test_fraction={config.test_fraction} must be in (0, 1).")
        held = ()
        notes.append("Subjects are unknown for some images: the test set is a random image split, so a patient may "
                     "be in both sets (accuracy will look better than on new patients).")
        train, test = {}, {}
        for c, paths in real.items():
            order = rng.permutation(len(paths))
            n_test = 0 if c == background else max(1, round(config.test_fraction * len(paths)))
            test_idx = set(order[:n_test].tolist())
            train[c] = [p for i, p in enumerate(paths) if i not in test_idx]
            if c != background:
                test[c] = [p for i, p in enumerate(paths) if i in test_idx]
    empty_train = [c for c, paths in train.items() if not paths]
    if empty_train:
        raise EusaugError(f"Class(es) {', '.join(empty_train)} have no training images left after holding out "
                          f"{', '.join(held) or 'the test images'}: choose other test subjects.")
    missing_test = [c for c, paths in test.items() if not paths]
    if missing_test:
        notes.append(f"No test images for class(es) {', '.join(missing_test)}: their F1 is undefined (empty).")
    test = {c: paths for c, paths in test.items() if paths}
    if not test:
        raise EusaugError("The test set is empty: choose test subjects that have labelled images.")
    return Split(train, test, {Path(p): s for p, s in of.items()}, held, tuple(notes))
