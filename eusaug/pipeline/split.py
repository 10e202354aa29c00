"""The run's one subject split, and the guard that keeps held-out subjects out of every training input.

The paper trained its CycleGANs on four patients and tested on the fifth, unseen; its
claim ("may help generalization to new unseen patients") rests on that. So a run draws
(or is given) one split of the real frames by subject, writes it to ``split.json``, and
every stage that learns or picks a reference from real frames (CycleGAN training, the
classifier's training set, the "train" FID reference) asks :meth:`SubjectSplit.guard`
first: a held-out frame there stops the run instead of silently inflating its numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eusaug.errors import EusaugError
from eusaug.mix.subjects import SplitSettings, split_by_subject, subject_of


@dataclass(frozen=True)
class SubjectSplit:
    """Training and held-out subjects (and images) of the real frames.

    ``by_subject`` is False when subjects could not be read from every file name: the
    split is then by image, and the report says a patient may be on both sides.
    """

    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    train: Mapping[str, tuple[Path, ...]]
    test: Mapping[str, tuple[Path, ...]]
    subject_pattern: str
    drawn: bool
    by_subject: bool
    notes: tuple[str, ...] = ()

    def held_out_images(self) -> frozenset[Path]:
        """Every held-out image, resolved (what the guard compares against)."""
        return frozenset(p.resolve() for paths in self.test.values() for p in paths)

    def is_held_out(self, path: Path, held_out_images: frozenset[Path] | None = None) -> bool:
        """True for a held-out image, or any file whose name says it is of a held-out subject."""
        path = Path(path)
        if path.resolve() in (held_out_images if held_out_images is not None else self.held_out_images()):
            return True
        if not self.by_subject:
            return False
        return subject_of(path, self.subject_pattern) in self.test_subjects

    def guard(self, stage: str, paths: Iterable[Path]) -> None:
        """Refuse to run ``stage`` on inputs that hold a held-out subject's frame."""
        held = self.held_out_images()
        leaked = sorted(str(p) for p in paths if self.is_held_out(Path(p), held))
        if leaked:
            more = f" and {len(leaked) - 1} more" if len(leaked) > 1 else ""
            raise EusaugError(
                f"Stage {stage!r} would use frame {leaked[0]}{more} of held-out subject(s) "
                f"{', '.join(self.test_subjects) or '(test images)'}: test subjects must never reach training. "
                "Check the split (split.json) and the frames folder."
            )

    def to_dict(self) -> dict[str, Any]:
        """What ``split.json``, ``run.json`` and the report state."""
        return {
            "train_subjects": list(self.train_subjects),
            "test_subjects": list(self.test_subjects),
            "by_subject": self.by_subject,
            "drawn": self.drawn,
            "subject_pattern": self.subject_pattern,
            "train_images": {c: len(p) for c, p in self.train.items()},
            "test_images": {c: len(p) for c, p in self.test.items()},
            "notes": list(self.notes),
        }


def split_frames(
    frames: Mapping[str, Sequence[Path]],
    test_subjects: Sequence[str] | None,
    test_fraction: float,
    seed: int,
    subject_pattern: str,
    background_class: str | None = "background",
) -> SubjectSplit:
    """Split labelled real frames (``{class: paths}``) by subject, as the classifier would.

    ``test_subjects`` None draws ``test_fraction`` of the subjects with ``seed``.
    """
    settings = SplitSettings(test_subjects=tuple(test_subjects) if test_subjects else None,
                             test_fraction=test_fraction, seed=seed, subject_pattern=subject_pattern,
                             background_class=background_class)
    split = split_by_subject({c: list(p) for c, p in frames.items()}, settings)
    subjects = {s for s in split.subjects.values() if s is not None}
    by_subject = bool(split.test_subjects)
    return SubjectSplit(
        train_subjects=tuple(sorted(subjects - set(split.test_subjects))) if by_subject else (),
        test_subjects=tuple(split.test_subjects),
        train={c: tuple(p) for c, p in split.train.items()},
        test={c: tuple(p) for c, p in split.test.items()},
        subject_pattern=subject_pattern,
        drawn=not test_subjects,
        by_subject=by_subject,
        notes=tuple(split.notes),
    )


def split_from_labelled_csvs(train_csv: Path, test_csv: Path, note: str) -> SubjectSplit:
    """The split of a run whose "real" frames were simulated: held out by image, from its two CSVs."""
    from eusaug.mix.labelled_sets import read_labelled_set

    def read(path: Path) -> dict[str, tuple[Path, ...]]:
        return {c: tuple(paths) for c, paths in read_labelled_set(path, check_images=False).items()}

    return SubjectSplit((), (), read(train_csv), read(test_csv), "", drawn=False, by_subject=False, notes=(note,))
