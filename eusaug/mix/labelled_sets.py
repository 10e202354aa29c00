"""Reading a labelled image set: a folder with one sub-folder per class, or a CSV list.

A *labelled set* is what classifier training starts from, and what ``eusaug mix``,
the classifier sweep and the per-class FID read. Two layouts are accepted:

* a **folder** whose sub-folders are the classes (the layout of Keras'
  ``image_dataset_from_directory``); images are found recursively inside each class
  folder, hidden files and folders (``.name``) are skipped;
* a **CSV** file of ``path,class`` rows, with or without a header. With a header, the
  path column is the first of ``path, file_name, output_path, file, filename, image`` and
  the class column the first of ``class, label, landmark``, so the ``manifest.csv`` files
  that ``eusaug slice``, ``synth`` and ``mix`` write (:mod:`eusaug.io.manifest`; a rejected
  slice's empty ``file_name`` is skipped), their older ones and ``metadata.csv`` are
  labelled sets too. Relative paths are taken relative to the CSV's folder.

Images are checked by opening their header (cheap; a truncated body is not detected).
Mixed image sizes are allowed -- Keras resizes on loading -- but reported as a
:class:`LabelledSetWarning`, as is anything else worth knowing that is not an error.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

from PIL import Image, UnidentifiedImageError

from eusaug.errors import EusaugError
from eusaug.io.images import IMAGE_SUFFIXES
from eusaug.io.manifest import MANIFEST_HEAD, is_synthetic

PATH_COLUMNS = ("path", "file_name", "output_path", "file", "filename", "image")
CLASS_COLUMNS = ("class", "label", "landmark")

#: Names a class may not take because they would collide with files ``eusaug mix`` writes.
RESERVED_CLASS_NAMES = frozenset({"manifest.csv", "mix.json"})

_FORBIDDEN_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')

#: What callers may pass where a labelled set is expected: a folder or CSV path, or
#: ``{class: image paths}`` already in memory (e.g. a training split).
LabelledSource: TypeAlias = "str | os.PathLike[str] | Mapping[str, Sequence[str | os.PathLike[str]]]"


class LabelledSetWarning(UserWarning):
    """Something about a labelled set that is allowed but worth reporting (mixed sizes, ...)."""


def check_class_name(name: str, source: str | os.PathLike[str] = "") -> str:
    """Return ``name`` if it can be a folder name on any common file system, else raise.

    Refused: empty, ``.``/``..``, leading ``.`` (hidden), leading/trailing spaces, a trailing
    dot, path separators and the characters Windows forbids, control characters, and the
    names of the files ``eusaug mix`` writes beside the class folders.
    """
    where = f" in {source}" if str(source) else ""
    fix = "rename the class to letters, digits, '-', '_' or spaces (e.g. 'aorta')."
    if not isinstance(name, str) or not name:
        raise EusaugError(f"Empty class name{where}: every image needs a class; {fix}")
    bad = _FORBIDDEN_CHARS.search(name)
    if (
        name in (".", "..")
        or name.startswith(".")
        or name != name.strip()
        or name.endswith(".")
        or bad is not None
        or name.lower() in RESERVED_CLASS_NAMES
    ):
        detail = f" (character {bad.group()!r})" if bad is not None else ""
        raise EusaugError(f"Class name {name!r}{where} is not a valid folder name{detail}: {fix}")
    return name


def read_labelled_set(
    path: str | os.PathLike[str],
    *,
    check_images: bool = True,
    source: str | None = None,
) -> dict[str, list[Path]]:
    """Read a labelled set (class folders or CSV) as ``{class name: sorted image paths}``.

    Classes are sorted by name (the order Keras gives their integer labels). ``source``
    (``"real"`` or ``"synthetic"``) keeps only CSV rows of that kind: by the ``synthetic``
    column of a manifest, else where the ``source`` column equals it (e.g. ``"synthetic"`` rows of a
    ``eusaug mix`` manifest). With ``check_images`` every image's header is read: an
    unreadable file is an error, mixed sizes a :class:`LabelledSetWarning`.

    Raises :class:`EusaugError` for a missing path, an empty folder or class, a class name
    that is not a valid folder name, a CSV row without a file, or an unreadable image.
    """
    path = Path(path)
    if not path.exists():
        raise EusaugError(f"Labelled set {path} does not exist: pass a folder with one sub-folder "
                          "per class, or a CSV of path,class rows.")
    if path.is_dir():
        classes = _read_folder(path)
    elif path.suffix.lower() == ".csv":
        classes = _read_csv(path, source)
    else:
        raise EusaugError(f"Labelled set {path} is neither a folder nor a .csv file: pass a folder "
                          "with one sub-folder per class, or a CSV of path,class rows.")
    if check_images:
        report_sizes(classes, path)
    return classes


def as_labelled_set(
    data: LabelledSource,
    *,
    check_images: bool = True,
) -> dict[str, list[Path]]:
    """Accept a path (folder or CSV, see :func:`read_labelled_set`) or an in-memory mapping.

    A mapping (e.g. a training split made by the caller) is checked like a folder: valid
    class names, no empty class, files that exist and open.
    """
    if isinstance(data, (str, os.PathLike)):
        return read_labelled_set(data, check_images=check_images)
    classes: dict[str, list[Path]] = {}
    for name in sorted(data):
        check_class_name(name, "the labelled set given")
        paths = [Path(p) for p in data[name]]
        if not paths:
            raise EusaugError(f"Class {name!r} of the labelled set given has no images: drop the class "
                              "or give it images.")
        for p in paths:
            if not p.is_file():
                raise EusaugError(f"Image {p} (class {name!r}) does not exist: check the path.")
        classes[name] = paths
    if not classes:
        raise EusaugError("The labelled set given has no classes: pass at least one class with images.")
    if check_images:
        report_sizes(classes, "the labelled set given")
    return classes


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` in pixels from the file header; an unreadable file is an error."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise EusaugError(f"Image {path} does not exist: check the path.") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EusaugError(f"Image {path} cannot be read ({type(exc).__name__}): remove or re-export it.") from None


def image_sizes(classes: Mapping[str, Iterable[Path]]) -> Counter[tuple[int, int]]:
    """How many images of each ``(width, height)`` the set holds (reads every header)."""
    return Counter(image_size(p) for paths in classes.values() for p in paths)


def report_sizes(classes: Mapping[str, Iterable[Path]], source: str | os.PathLike[str]) -> Counter[tuple[int, int]]:
    """Check every image opens; warn (:class:`LabelledSetWarning`) when sizes differ."""
    sizes = image_sizes(classes)
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common())
        warnings.warn(
            f"{source} holds images of {len(sizes)} sizes: {listed}; they are used as they are "
            "(Keras and eusaug's streaming loader resize them to one image_size).",
            LabelledSetWarning,
            stacklevel=2,
        )
    return sizes


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _read_folder(root: Path) -> dict[str, list[Path]]:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        hint = f" ({len(loose)} images lie directly in it)" if loose else ""
        raise EusaugError(f"Folder {root} has no class sub-folders{hint}: put the images of each class "
                          "in a sub-folder named after the class.")
    classes: dict[str, list[Path]] = {}
    for class_dir in class_dirs:
        check_class_name(class_dir.name, root)
        images = sorted(
            p for p in class_dir.rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not _is_hidden(p, class_dir)
        )
        if not images:
            raise EusaugError(f"Class folder {class_dir} holds no images ({', '.join(IMAGE_SUFFIXES)}): "
                              "add images or remove the folder.")
        classes[class_dir.name] = images
    return classes


def _read_csv(csv_path: Path, source: str | None) -> dict[str, list[Path]]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise EusaugError(f"{csv_path} is not a UTF-8 text CSV: save it as CSV (UTF-8).") from None
    if not rows:
        raise EusaugError(f"{csv_path} is empty: list one image per row as path,class.")
    header = [cell.strip().lower() for cell in rows[0]]
    path_col = next((header.index(c) for c in PATH_COLUMNS if c in header), None)
    class_col = next((header.index(c) for c in CLASS_COLUMNS if c in header), None)
    source_col = header.index("source") if "source" in header else None
    # The manifest schema says real/synthetic in ``synthetic``; its ``source`` is the original file.
    flag_col = header.index("synthetic") if "synthetic" in header else None
    is_manifest = header[:len(MANIFEST_HEAD)] == list(MANIFEST_HEAD)
    if path_col is not None or class_col is not None:
        if path_col is None or class_col is None:
            raise EusaugError(f"{csv_path}: the header needs a path column ({', '.join(PATH_COLUMNS)}) and a "
                              f"class column ({', '.join(CLASS_COLUMNS)}); found {', '.join(header)}.")
        body = list(enumerate(rows[1:], start=2))
    else:
        path_col, class_col = 0, 1
        body = list(enumerate(rows, start=1))
    if source is not None and source_col is None and flag_col is None:
        raise EusaugError(f"{csv_path} has no 'source' column to select {source!r} rows from: "
                          "pass the whole CSV, or a manifest written by eusaug mix.")
    classes: dict[str, list[Path]] = {}
    for line, row in body:
        if len(row) <= max(path_col, class_col):
            raise EusaugError(f"{csv_path}, line {line}: expected path,class but got {','.join(row)!r}.")
        if source is not None:
            if flag_col is not None:
                if is_synthetic(row[flag_col]) != (source == "synthetic"):
                    continue
            elif row[source_col].strip() != source:  # type: ignore[index]
                continue
        if is_manifest and not row[path_col].strip():
            continue
        name = row[class_col].strip()
        check_class_name(name, f"{csv_path}, line {line}")
        image = Path(row[path_col].strip())
        if not image.is_absolute():
            image = csv_path.parent / image
        if not image.is_file():
            raise EusaugError(f"{csv_path}, line {line}: image {image} does not exist: fix the path "
                              "(relative paths are taken from the CSV's folder).")
        classes.setdefault(name, []).append(image)
    if not classes:
        what = f" with source {source!r}" if source is not None else ""
        raise EusaugError(f"{csv_path} lists no images{what}: list one image per row as path,class.")
    return {name: sorted(classes[name]) for name in sorted(classes)}
