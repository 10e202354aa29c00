"""Planning a mix: which real and synthetic images each class gets at a ratio, touching no file.

See :mod:`eusaug.mix.mixing` for the rounding and the seeded, nested draws.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.mix.labelled_sets import LabelledSetWarning, LabelledSource, as_labelled_set
from eusaug.mix.ratios import Ratio

MixMode = Literal["replace", "add"]
MissingClass = Literal["warn", "error"]
Source = Literal["real", "synthetic"]


@dataclass(frozen=True)
class ClassSelection:
    """The images one class gets: real ones kept and synthetic ones drawn, in file order."""

    real: tuple[Path, ...]
    synthetic: tuple[Path, ...]
    real_available: int
    synthetic_available: int

    @property
    def total(self) -> int:
        return len(self.real) + len(self.synthetic)

    @property
    def synthetic_fraction(self) -> float:
        return len(self.synthetic) / self.total if self.total else 0.0


@dataclass(frozen=True)
class MixPlan:
    """What :func:`plan_mix` decided, before any file is touched.

    ``notes`` are the warnings (one-sided classes) that writing the plan reports.
    """

    ratio: Ratio
    mode: MixMode
    seed: int
    classes: dict[str, ClassSelection]
    notes: tuple[str, ...] = field(default=())

    @property
    def class_names(self) -> list[str]:
        """Sorted class names; a class's integer label is its index here."""
        return sorted(self.classes)

    def items(self) -> Iterator[tuple[str, Source, Path]]:
        """``(class, source, original path)`` for every image, class by class, real first."""
        for name in self.class_names:
            selection = self.classes[name]
            for path in selection.real:
                yield name, "real", path
            for path in selection.synthetic:
                yield name, "synthetic", path

    def __len__(self) -> int:
        return sum(s.total for s in self.classes.values())


def _check_mode(mode: str) -> MixMode:
    if mode not in ("replace", "add"):
        raise EusaugError(f"Mix mode {mode!r} is unknown: use 'replace' (keep class sizes) or 'add' "
                          "(keep every real image and add synthetic ones).")
    return mode  # type: ignore[return-value]


def _round_half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)).__floor__())


def synthetic_counts(n_real: int, ratio: float | Ratio, mode: MixMode = "replace") -> tuple[int, int]:
    """``(real kept, synthetic)`` for a class of ``n_real`` real images (rounding as in the module doc)."""
    ratio = Ratio(ratio)
    mode = _check_mode(mode)
    r = Fraction(ratio).limit_denominator(1_000_000)
    if mode == "replace":
        n_syn = _round_half_up(r * n_real)
        return n_real - n_syn, n_syn
    return n_real, _round_half_up(r * n_real / (1 - r))


def class_rng(seed: int, class_name: str) -> np.random.Generator:
    """The random stream of one class: depends on the seed and the class name only."""
    return np.random.default_rng([int(seed), zlib.crc32(class_name.encode("utf-8"))])


def plan_mix(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratio: float | Ratio,
    mode: MixMode = "replace",
    seed: int = 0,
    missing_class: MissingClass = "warn",
) -> MixPlan:
    """Decide which images each class gets; a pure function of its arguments.

    ``real`` and ``synthetic`` map class names to image paths (see
    :func:`eusaug.mix.labelled_sets.read_labelled_set`); given as mappings, no file is touched
    (the paths need not exist). A folder or CSV path is read first (file names only).
    Class names match case-insensitively (a synthetic ``Aorta`` joins the real ``aorta``).
    Raises :class:`EusaugError` when no real class has a synthetic counterpart (at a ratio
    above 0), for a ratio outside [0, 1), an unknown mode, too few
    synthetic images (with the numbers), or -- with ``missing_class="error"`` -- a class
    on one side only.
    """
    if isinstance(real, (str, os.PathLike)):
        real = as_labelled_set(real, check_images=False)
    if isinstance(synthetic, (str, os.PathLike)):
        synthetic = as_labelled_set(synthetic, check_images=False)
    ratio = Ratio(ratio)
    mode = _check_mode(mode)
    if missing_class not in ("warn", "error"):
        raise EusaugError(f"missing_class={missing_class!r} is unknown: use 'warn' or 'error'.")
    if not real:
        raise EusaugError("The real set has no classes: pass a folder with one sub-folder per class.")
    synthetic = match_class_names(real, synthetic)
    if ratio > 0 and not set(real) & set(synthetic):
        raise EusaugError(f"No real class has synthetic images (real: {', '.join(sorted(real))}; synthetic: "
                          f"{', '.join(sorted(synthetic)) or 'none'}): name the class folders alike "
                          "(case does not matter).")
    real_only = sorted(set(real) - set(synthetic))
    synthetic_only = sorted(set(synthetic) - set(real))
    notes: list[str] = []
    if missing_class == "error" and (real_only or synthetic_only):
        parts = []
        if real_only:
            parts.append(f"real only: {', '.join(real_only)}")
        if synthetic_only:
            parts.append(f"synthetic only: {', '.join(synthetic_only)}")
        raise EusaugError(f"Classes differ between the real and synthetic sets ({'; '.join(parts)}): "
                          "make the class folders match, or allow it with missing_class='warn'.")
    if synthetic_only:
        notes.append(f"Synthetic classes with no real images are left out: {', '.join(synthetic_only)}.")

    classes: dict[str, ClassSelection] = {}
    shortfalls: list[str] = []
    for name in sorted(real):
        real_paths = list(real[name])
        syn_paths = list(synthetic.get(name, ()))
        n_keep, n_syn = synthetic_counts(len(real_paths), ratio, mode)
        if name not in synthetic and n_syn > 0:
            notes.append(f"Class {name!r} has no synthetic images: kept all real ({len(real_paths)}), "
                         f"0 % synthetic instead of {ratio:.0%}.")
            n_keep, n_syn = len(real_paths), 0
        if n_syn > len(syn_paths):
            shortfalls.append(f"{name!r} needs {n_syn} but has {len(syn_paths)}")
            continue
        rng = class_rng(seed, name)
        real_order = rng.permutation(len(real_paths))
        syn_order = rng.permutation(len(syn_paths))
        classes[name] = ClassSelection(
            real=tuple(real_paths[i] for i in sorted(real_order[:n_keep])),
            synthetic=tuple(syn_paths[i] for i in sorted(syn_order[:n_syn])),
            real_available=len(real_paths),
            synthetic_available=len(syn_paths),
        )
    if shortfalls:
        raise EusaugError(f"Too few synthetic images for ratio {ratio:g} ({mode}): {'; '.join(shortfalls)}. "
                          "Generate more synthetic images, or use a lower ratio or mode 'replace'.")
    return MixPlan(ratio=ratio, mode=mode, seed=int(seed), classes=classes, notes=tuple(notes))




def match_class_names(real: Mapping[str, Sequence[Path]],
                      synthetic: Mapping[str, Sequence[Path]]) -> dict[str, list[Path]]:
    """``synthetic`` with each class renamed to the real class of the same name ignoring case.

    Two classes of one side whose names differ only in case are an error: which one a
    case-blind match should pick is the user's call.
    """
    for side, classes in (("real", real), ("synthetic", synthetic)):
        seen: dict[str, str] = {}
        for name in classes:
            other = seen.setdefault(name.casefold(), name)
            if other != name:
                raise EusaugError(f"The {side} set has classes {other!r} and {name!r}, which differ only in case: "
                                  "rename one of the class folders.")
    real_of = {name.casefold(): name for name in real}
    return {real_of.get(name.casefold(), name): list(paths) for name, paths in synthetic.items()}


def emit_notes(notes: Sequence[str]) -> None:
    """Report a plan's notes (one-sided classes) as :class:`LabelledSetWarning` s, at the caller's caller."""
    for note in notes:
        warnings.warn(note, LabelledSetWarning, stacklevel=3)
