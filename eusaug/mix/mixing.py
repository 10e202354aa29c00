"""Mixing synthetic images into a labelled training set at a synthetic ratio.

The paper trains its classifiers with 0, 25, 50 and 75 % synthetic images (Table 2).
Two modes give a class of ``n`` real images its synthetic share ``ratio``:

* ``replace`` (default): the class keeps its size ``n``; ``s = round(ratio * n)``
  synthetic images replace real ones, ``n - s`` real images stay;
* ``add``: all ``n`` real images stay and ``s = round(ratio * n / (1 - ratio))``
  synthetic ones are added, so that ``s / (n + s)`` is as close to ``ratio`` as counts allow.

``round`` is round-half-up on the exact fraction (``ratio`` is read as the nearest
fraction with denominator <= 10^6, so 0.25 is exactly 1/4): a class of 21 at 0.5
``replace`` gets 11 synthetic + 10 real; at 0.25 ``add`` it gets 7 synthetic.

Draws are seeded and stratified per class: each class gets its own random stream from
``(seed, class name)``, so adding or removing a class leaves the others' selection as it
was. The selection takes prefixes of one permutation per class and side, so the
synthetic images chosen at 0.25 are among those chosen at 0.5 and the real images kept at
0.5 are among those kept at 0.25: a sweep's ratios differ only in the ratio.

Classes present on one side only: a class with real images but no synthetic ones is
kept all real with a warning (the paper's background class has no sEUS counterpart) --
``missing_class="error"`` makes it an error; a class with synthetic images only is left
out with a warning (there is no real size to take a share of). When a class has fewer
synthetic images than its share needs, it is an error that gives the numbers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.io.atomic import atomic_directory
from eusaug.io.progress import track
from eusaug.mix.labelled_sets import LabelledSetWarning, LabelledSource, as_labelled_set

if TYPE_CHECKING:
    import tensorflow as tf

MixMode = Literal["replace", "add"]
MissingClass = Literal["warn", "error"]
Source = Literal["real", "synthetic"]

MANIFEST_NAME = "manifest.csv"
CONFIG_NAME = "mix.json"
MANIFEST_COLUMNS = ("output_path", "class", "source", "original_path")

#: The paper's synthetic ratios (Table 2).
PAPER_RATIOS = (0.0, 0.25, 0.5, 0.75)

#: Suffixes ``tf.io.decode_image`` reads (used by :func:`mixed_dataset`).
TF_DECODABLE = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass(frozen=True)
class ManifestRow:
    """One image of a mixed set: where it is, its class, where it came from.

    ``output_path`` is the file in the output folder (absolute); ``manifest.csv`` stores
    it relative to that folder so the folder can be moved.
    """

    output_path: Path
    class_name: str
    source: Source
    original_path: Path


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

    ratio: float
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


@dataclass(frozen=True)
class ClassCount:
    """One row of the summary ``eusaug mix`` prints."""

    ratio: float
    class_name: str
    real: int
    synthetic: int

    @property
    def total(self) -> int:
        return self.real + self.synthetic

    @property
    def synthetic_fraction(self) -> float:
        return self.synthetic / self.total if self.total else 0.0


def check_ratio(ratio: float | str) -> float:
    """Return ``ratio`` as a float if it is in [0, 1), else raise."""
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        raise EusaugError(f"Synthetic ratio {ratio!r} is not a number: give a value in [0, 1), e.g. 0.5.") from None
    if not 0.0 <= value < 1.0 or not np.isfinite(value):
        raise EusaugError(f"Synthetic ratio {ratio!r} is outside [0, 1): give e.g. 0.25 for 25 % synthetic "
                          "(1 would leave no real images).")
    return value


def _check_mode(mode: str) -> MixMode:
    if mode not in ("replace", "add"):
        raise EusaugError(f"Mix mode {mode!r} is unknown: use 'replace' (keep class sizes) or 'add' "
                          "(keep every real image and add synthetic ones).")
    return mode  # type: ignore[return-value]


def _round_half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)).__floor__())


def synthetic_counts(n_real: int, ratio: float, mode: MixMode = "replace") -> tuple[int, int]:
    """``(real kept, synthetic)`` for a class of ``n_real`` real images (rounding as in the module doc)."""
    ratio = check_ratio(ratio)
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
    ratio: float,
    mode: MixMode = "replace",
    seed: int = 0,
    missing_class: MissingClass = "warn",
) -> MixPlan:
    """Decide which images each class gets; a pure function of its arguments.

    ``real`` and ``synthetic`` map class names to image paths (see
    :func:`eusaug.mix.labelled_sets.read_labelled_set`); given as mappings, no file is touched
    (the paths need not exist). A folder or CSV path is read first (file names only).
    Raises :class:`EusaugError` for a ratio outside [0, 1), an unknown mode, too few
    synthetic images (with the numbers), or -- with ``missing_class="error"`` -- a class
    on one side only.
    """
    if isinstance(real, (str, os.PathLike)):
        real = as_labelled_set(real, check_images=False)
    if isinstance(synthetic, (str, os.PathLike)):
        synthetic = as_labelled_set(synthetic, check_images=False)
    ratio = check_ratio(ratio)
    mode = _check_mode(mode)
    if missing_class not in ("warn", "error"):
        raise EusaugError(f"missing_class={missing_class!r} is unknown: use 'warn' or 'error'.")
    if not real:
        raise EusaugError("The real set has no classes: pass a folder with one sub-folder per class.")
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


def ratio_folder_name(ratio: float) -> str:
    """Sub-folder of a sweep for ``ratio``: ``ratio_0``, ``ratio_0.25``, ..."""
    return f"ratio_{check_ratio(ratio):g}"


def _output_names(plan: MixPlan) -> list[tuple[str, Source, Path, str]]:
    """Unique file names per class folder: ``real_<stem>`` / ``synthetic_<stem>``, numbered on clashes."""
    out = []
    taken: dict[str, set[str]] = {}
    for name, source, path in plan.items():
        used = taken.setdefault(name, set())
        candidate = f"{source}_{path.name}"
        k = 1
        while candidate.lower() in used:
            candidate = f"{source}_{path.stem}_{k}{path.suffix}"
            k += 1
        used.add(candidate.lower())
        out.append((name, source, path, candidate))
    return out


def write_mix(
    plan: MixPlan, folder: Path, link: bool = True, config: Mapping[str, Any] | None = None
) -> list[ManifestRow]:
    """Write ``plan`` into the existing empty ``folder``; return its manifest rows.

    Rows' ``output_path`` points into ``folder`` (callers that build in a temporary folder
    rebase them after the rename). Inputs are only read; links point to them.
    """
    rows: list[ManifestRow] = []
    for name in plan.class_names:
        (folder / name).mkdir()
    entries = _output_names(plan)
    for name, source, original, file_name in track(entries, f"Mixing at ratio {plan.ratio:g}"):
        target = folder / name / file_name
        if link:
            os.symlink(os.path.abspath(original), target)
        else:
            shutil.copy2(original, target)
        rows.append(ManifestRow(target, name, source, Path(os.path.abspath(original))))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow([row.output_path.relative_to(folder).as_posix(), row.class_name, row.source,
                         str(row.original_path)])
    (folder / MANIFEST_NAME).write_text(buffer.getvalue(), encoding="utf-8")
    resolved = {
        "ratio": plan.ratio,
        "mode": plan.mode,
        "seed": plan.seed,
        "link": link,
        **(dict(config) if config else {}),
        "counts": {
            name: {"real": len(s.real), "synthetic": len(s.synthetic),
                   "real_available": s.real_available, "synthetic_available": s.synthetic_available}
            for name, s in plan.classes.items()
        },
        "notes": list(plan.notes),
    }
    (folder / CONFIG_NAME).write_text(json.dumps(resolved, indent=2) + "\n", encoding="utf-8")
    return rows


def _rebase(rows: list[ManifestRow], old: Path, new: Path) -> list[ManifestRow]:
    return [ManifestRow(new / r.output_path.relative_to(old), r.class_name, r.source, r.original_path) for r in rows]


def _emit(notes: Sequence[str]) -> None:
    for note in notes:
        warnings.warn(note, LabelledSetWarning, stacklevel=3)


def _config(real: LabelledSource, synthetic: LabelledSource, missing_class: str) -> dict[str, Any]:
    def describe(src: LabelledSource) -> str:
        return str(Path(src).resolve()) if isinstance(src, (str, os.PathLike)) else "(in-memory mapping)"

    from eusaug.version import __version__

    return {"real": describe(real), "synthetic": describe(synthetic), "missing_class": missing_class,
            "eusaug_version": __version__}


def check_output_apart(
    output_dir: str | os.PathLike[str], *sources: tuple[LabelledSource, Mapping[str, Sequence[Path]]]
) -> None:
    """Refuse an output folder that lies inside an input folder or holds input images.

    Writing there would modify an input, and ``force`` would delete inputs.
    """
    out = Path(output_dir).resolve()
    for given, classes in sources:
        if isinstance(given, (str, os.PathLike)) and Path(given).is_dir():
            root = Path(given).resolve()
            if out == root or root in out.parents:
                raise EusaugError(f"Output folder {output_dir} lies inside the input folder {given}: "
                                  "choose an output folder outside the inputs.")
        for paths in classes.values():
            for p in paths:
                for candidate in {Path(os.path.abspath(p)), Path(p).resolve()}:
                    if out in candidate.parents:
                        raise EusaugError(f"Output folder {output_dir} holds input image {p}: choose an "
                                          "output folder that holds none of the inputs.")


def mix_folders(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratio: float,
    output_dir: str | os.PathLike[str],
    mode: MixMode = "replace",
    seed: int = 0,
    link: bool = True,
    force: bool = False,
    missing_class: MissingClass = "warn",
) -> list[ManifestRow]:
    """Write a mixed labelled set to ``output_dir`` and return its manifest rows.

    ``output_dir`` gets one folder per class (symlinks to the originals, or copies with
    ``link=False``), ``manifest.csv`` (output path, class, source ``real``/``synthetic``,
    original path) and ``mix.json`` (the resolved options and counts). It is built under a
    temporary name and renamed, so a failure leaves nothing; an existing non-empty
    ``output_dir`` is refused unless ``force``. Warnings (one-sided classes, mixed image
    sizes) are :class:`~eusaug.mix.labelled_sets.LabelledSetWarning`.
    """
    ratio = check_ratio(ratio)
    real_set = as_labelled_set(real)
    syn_set = as_labelled_set(synthetic)
    check_output_apart(output_dir, (real, real_set), (synthetic, syn_set))
    plan = plan_mix(real_set, syn_set, ratio, mode, seed, missing_class)
    _emit(plan.notes)
    output_dir = Path(output_dir)
    with atomic_directory(output_dir, force=force) as tmp:
        rows = write_mix(plan, tmp, link, _config(real, synthetic, missing_class))
    return _rebase(rows, tmp, output_dir)


def mix_sweep(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratios: Sequence[float],
    output_dir: str | os.PathLike[str],
    mode: MixMode = "replace",
    seed: int = 0,
    link: bool = True,
    force: bool = False,
    missing_class: MissingClass = "warn",
) -> dict[float, list[ManifestRow]]:
    """Write one mixed set per ratio into ``output_dir/ratio_<r>`` (see :func:`mix_folders`).

    All ratios are planned before anything is written, so a ratio that cannot be served
    fails the whole sweep with nothing written. Same seed for every ratio: the selections
    are nested (see the module doc).
    """
    values = [check_ratio(r) for r in ratios]
    if not values:
        raise EusaugError("No ratios given: pass e.g. 0,0.25,0.5,0.75.")
    if len(set(values)) != len(values):
        raise EusaugError(f"Ratios {', '.join(f'{r:g}' for r in values)} repeat a value: give each ratio once.")
    real_set = as_labelled_set(real)
    syn_set = as_labelled_set(synthetic)
    check_output_apart(output_dir, (real, real_set), (synthetic, syn_set))
    plans = [plan_mix(real_set, syn_set, r, mode, seed, missing_class) for r in values]
    _emit(sorted({note for plan in plans for note in plan.notes}))
    output_dir = Path(output_dir)
    config = _config(real, synthetic, missing_class)
    results: dict[float, list[ManifestRow]] = {}
    with atomic_directory(output_dir, force=force) as tmp:
        for plan in plans:
            sub = tmp / ratio_folder_name(plan.ratio)
            sub.mkdir()
            results[plan.ratio] = _rebase(write_mix(plan, sub, link, config), tmp, output_dir)
    return results


def summarise(rows: Sequence[ManifestRow], ratio: float) -> list[ClassCount]:
    """Per-class real and synthetic counts of a written mix (what ``eusaug mix`` prints)."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        pair = counts.setdefault(row.class_name, [0, 0])
        pair[row.source == "synthetic"] += 1
    return [ClassCount(ratio, name, real, syn) for name, (real, syn) in sorted(counts.items())]


def read_mix_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Read a ``manifest.csv`` written by :func:`mix_folders` (output paths made absolute)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
                raise EusaugError(f"{path} is not a eusaug mix manifest (columns {', '.join(MANIFEST_COLUMNS)}).")
            return [ManifestRow(path.parent / r["output_path"], r["class"], r["source"],  # type: ignore[arg-type]
                                Path(r["original_path"])) for r in reader]
    except FileNotFoundError:
        raise EusaugError(f"Manifest {path} does not exist: check the path.") from None


# ---------------------------------------------------------------------------------------
# Streaming: the same selection, read image by image, no files written.


def read_grey_sized(path: Path, image_size: tuple[int, int] | None) -> np.ndarray:
    """``(H, W)`` uint8 greyscale, resized (bilinear, as Keras does) to ``image_size`` = (H, W) when given."""
    from PIL import Image

    from eusaug.io.images import read_grey_uint8

    pixels = read_grey_uint8(path)
    if image_size is not None and pixels.shape != tuple(image_size):
        height, width = image_size
        pixels = np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR))
    return pixels


def _load_for_stream(path: Path, image_size: tuple[int, int] | None) -> np.ndarray:
    from eusaug.io.images import uint8_to_unit

    return uint8_to_unit(read_grey_sized(path, image_size))


def check_image_size(image_size: Sequence[int] | None) -> tuple[int, int] | None:
    """``image_size`` as ``(height, width)`` in pixels (None stays None), else raise."""
    if image_size is None:
        return None
    size = tuple(int(v) for v in image_size)
    if len(size) != 2 or min(size) < 1:
        raise EusaugError(f"image_size={image_size!r} must be (height, width) in pixels, e.g. (256, 256).")
    return size  # type: ignore[return-value]


def stream_mixed(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratio: float,
    seed: int = 0,
    image_size: Sequence[int] | None = None,
    mode: MixMode = "replace",
    shuffle: bool = True,
    missing_class: MissingClass = "warn",
) -> Iterator[tuple[np.ndarray, int, bool]]:
    """Yield ``(image, label, is_synthetic)`` for the selection :func:`plan_mix` makes.

    ``image`` is ``(H, W)`` float32 in [-1, 1] (resized to ``image_size`` = (H, W) when
    given); ``label`` the index of the class in the sorted class names; one pass over the
    mixed set, in a seeded shuffled order (``shuffle=False``: class by class). Images are
    read lazily, so nothing is held in memory and nothing is written.
    """
    size = check_image_size(image_size)
    plan = plan_mix(as_labelled_set(real, check_images=False), as_labelled_set(synthetic, check_images=False),
                    ratio, mode, seed, missing_class)
    _emit(plan.notes)
    yield from _iterate_plan(plan, size, shuffle)


def _iterate_plan(plan: MixPlan, size: tuple[int, int] | None, shuffle: bool) -> Iterator[tuple[np.ndarray, int, bool]]:
    label_of = {name: i for i, name in enumerate(plan.class_names)}
    items = list(plan.items())
    order = np.random.default_rng([plan.seed, 1]).permutation(len(items)) if shuffle else range(len(items))
    for index in order:
        name, source, path = items[index]
        yield _load_for_stream(path, size), label_of[name], source == "synthetic"


def mixed_dataset(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratio: float,
    seed: int = 0,
    image_size: Sequence[int] = (256, 256),
    mode: MixMode = "replace",
    batch_size: int | None = 32,
    label_mode: Literal["int", "categorical"] = "int",
    with_source: bool = False,
    missing_class: MissingClass = "warn",
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of the mixed set, for ``model.fit``.

    Elements are ``(image, label)`` -- or ``(image, label, is_synthetic)`` with
    ``with_source`` (do not pass that form to ``fit``: Keras reads a third element as
    sample weights). ``image`` is ``(H, W, 1)`` float32 in [-1, 1]; ``label`` int32, or
    one-hot float32 with ``label_mode="categorical"``. The order is reshuffled every epoch
    from ``seed``. ``dataset.class_names`` lists the classes, as with Keras'
    ``image_dataset_from_directory``. Files are decoded by TensorFlow in parallel
    (PNG, JPEG, BMP, GIF). TensorFlow is imported here only.
    """
    import tensorflow as tf

    size = check_image_size(image_size)
    if size is None:
        raise EusaugError("mixed_dataset needs image_size=(height, width): batches need one size.")
    if label_mode not in ("int", "categorical"):
        raise EusaugError(f"label_mode={label_mode!r} is unknown: use 'int' or 'categorical'.")
    if batch_size is not None and batch_size < 1:
        raise EusaugError(f"batch_size={batch_size} must be >= 1 (or None for unbatched elements).")
    plan = plan_mix(as_labelled_set(real), as_labelled_set(synthetic), ratio, mode, seed, missing_class)
    _emit(plan.notes)
    n_classes = len(plan.classes)
    label_of = {name: i for i, name in enumerate(plan.class_names)}
    items = list(plan.items())
    undecodable = [str(p) for _, _, p in items if p.suffix.lower() not in TF_DECODABLE]
    if undecodable:
        raise EusaugError(f"TensorFlow cannot decode {undecodable[0]} ({len(undecodable)} such files): "
                          "convert them to PNG, or use stream_mixed, which reads any image Pillow reads.")
    paths = tf.constant([str(p) for _, _, p in items], dtype=tf.string)
    labels = tf.constant([label_of[name] for name, _, _ in items], dtype=tf.int32)
    sources = tf.constant([source == "synthetic" for _, source, _ in items], dtype=tf.bool)
    dataset = tf.data.Dataset.from_tensor_slices((paths, labels, sources))
    # Shuffling file names (not pixels) keeps the buffer tiny whatever the set's size.
    dataset = dataset.shuffle(max(len(items), 1), seed=seed, reshuffle_each_iteration=True)

    def shape(path: tf.Tensor, label: tf.Tensor, is_syn: tf.Tensor) -> tuple[tf.Tensor, ...]:
        pixels = tf.io.decode_image(tf.io.read_file(path), channels=1, expand_animations=False)
        image = tf.image.resize(pixels, size, method="bilinear") / 127.5 - 1.0
        image = tf.ensure_shape(image, (*size, 1))
        target = tf.one_hot(label, n_classes, dtype=tf.float32) if label_mode == "categorical" else label
        return (image, target, is_syn) if with_source else (image, target)

    dataset = dataset.map(shape, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    dataset.class_names = plan.class_names  # type: ignore[attr-defined]
    return dataset
