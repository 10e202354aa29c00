"""Writing a planned mix to disk: class folders of links or copies, a manifest, ``metadata.csv``, ``mix.json``.

A written set travels: links are relative (a folder copied with its inputs, or with
``shutil.copytree(..., symlinks=True)`` beside them, still resolves), ``link=False``
copies the images, and ``metadata.csv`` follows the Hugging Face ``imagefolder``
convention (``file_name`` relative to the set, ``label``, ``synthetic``, ``source``), so
``datasets.load_dataset("imagefolder", data_dir=...)`` and ``torchvision``'s
``ImageFolder`` read the set as it is.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eusaug.errors import EusaugError
from eusaug.io.atomic import atomic_directory
from eusaug.io.manifest import MANIFEST_HEAD, is_synthetic, manifest_text, read_manifest, synthetic_cell
from eusaug.io.progress import track
from eusaug.mix.labelled_sets import LabelledSource, as_labelled_set
from eusaug.mix.plan import MissingClass, MixMode, MixPlan, Source, emit_notes, plan_mix
from eusaug.mix.ratios import Ratio, check_ratios, ratio_folder_name

MANIFEST_NAME = "manifest.csv"
CONFIG_NAME = "mix.json"
#: ``manifest.csv`` holds the shared head only (:data:`eusaug.io.manifest.MANIFEST_HEAD`).
MANIFEST_COLUMNS = MANIFEST_HEAD
#: The Hugging Face ``imagefolder`` metadata file of a written set, and its columns (the head without ``label_file``).
METADATA_NAME = "metadata.csv"
METADATA_COLUMNS = ("file_name", "label", "synthetic", "source")


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
    rebase them after the rename). Inputs are only read; links point to them by relative
    paths. Beside ``manifest.csv`` it writes ``metadata.csv`` (see the module doc).
    """
    rows: list[ManifestRow] = []
    for name in plan.class_names:
        (folder / name).mkdir()
    entries = _output_names(plan)
    for name, source, original, file_name in track(entries, f"Mixing at ratio {plan.ratio:g}"):
        target = folder / name / file_name
        if link:
            # Relative, so the set survives being moved or copied together with its inputs; between real
            # paths, because the system walks a link's ".." from the folder it physically lies in.
            os.symlink(os.path.relpath(os.path.realpath(original), os.path.realpath(target.parent)), target)
        else:
            shutil.copy2(original, target)
        rows.append(ManifestRow(target, name, source, Path(os.path.abspath(original))))
    (folder / MANIFEST_NAME).write_text(manifest_text(_head_rows(folder, rows)), encoding="utf-8")
    _write_metadata(folder, rows)
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


def _head_rows(folder: Path, rows: Sequence[ManifestRow]) -> list[dict[str, str]]:
    """``rows`` as manifest cells: paths relative to ``folder``, no label plane."""
    return [{"file_name": row.output_path.relative_to(folder).as_posix(), "label": row.class_name,
             "synthetic": synthetic_cell(row.source == "synthetic"), "source": str(row.original_path),
             "label_file": ""} for row in rows]


def _write_metadata(folder: Path, rows: Sequence[ManifestRow]) -> None:
    """``metadata.csv`` in the ``imagefolder`` convention: ``file_name`` first, relative to ``folder``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METADATA_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(_head_rows(folder, rows))
    (folder / METADATA_NAME).write_text(buffer.getvalue(), encoding="utf-8")


def _rebase(rows: list[ManifestRow], old: Path, new: Path) -> list[ManifestRow]:
    return [ManifestRow(new / r.output_path.relative_to(old), r.class_name, r.source, r.original_path) for r in rows]


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
    ratio: float | Ratio,
    output_dir: str | os.PathLike[str],
    mode: MixMode = "replace",
    seed: int = 0,
    link: bool = True,
    force: bool = False,
    missing_class: MissingClass = "warn",
) -> list[ManifestRow]:
    """Write a mixed labelled set to ``output_dir`` and return its manifest rows.

    ``output_dir`` gets one folder per class (symlinks to the originals, or copies with
    ``link=False``), ``manifest.csv`` (:mod:`eusaug.io.manifest`'s head: output path, class,
    ``synthetic`` true/false, original path), ``metadata.csv`` and ``mix.json`` (the resolved options and counts). It is built under a
    temporary name and renamed, so a failure leaves nothing; an existing non-empty
    ``output_dir`` is refused unless ``force``. Warnings (one-sided classes, mixed image
    sizes) are :class:`~eusaug.mix.labelled_sets.LabelledSetWarning`.
    """
    ratio = Ratio(ratio)
    real_set = as_labelled_set(real)
    syn_set = as_labelled_set(synthetic)
    check_output_apart(output_dir, (real, real_set), (synthetic, syn_set))
    plan = plan_mix(real_set, syn_set, ratio, mode, seed, missing_class)
    emit_notes(plan.notes)
    output_dir = Path(output_dir)
    with atomic_directory(output_dir, force=force) as tmp:
        rows = write_mix(plan, tmp, link, _config(real, synthetic, missing_class))
    return _rebase(rows, tmp, output_dir)


def mix_sweep(
    real: LabelledSource,
    synthetic: LabelledSource,
    ratios: Sequence[float | Ratio],
    output_dir: str | os.PathLike[str],
    mode: MixMode = "replace",
    seed: int = 0,
    link: bool = True,
    force: bool = False,
    missing_class: MissingClass = "warn",
) -> dict[Ratio, list[ManifestRow]]:
    """Write one mixed set per ratio into ``output_dir/ratio_<r>`` (see :func:`mix_folders`).

    All ratios are planned before anything is written, so a ratio that cannot be served
    fails the whole sweep with nothing written. Same seed for every ratio: the selections
    are nested (see the module doc).
    """
    values = check_ratios(ratios)
    real_set = as_labelled_set(real)
    syn_set = as_labelled_set(synthetic)
    check_output_apart(output_dir, (real, real_set), (synthetic, syn_set))
    plans = [plan_mix(real_set, syn_set, r, mode, seed, missing_class) for r in values]
    emit_notes(sorted({note for plan in plans for note in plan.notes}))
    output_dir = Path(output_dir)
    config = _config(real, synthetic, missing_class)
    results: dict[Ratio, list[ManifestRow]] = {}
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
    """Read a ``manifest.csv`` written by :func:`mix_folders` (output paths made absolute).

    Any manifest of the shared schema reads (a synth folder's lists synthetic images of its
    landmark); one with the old mix columns reads with a :class:`DeprecationWarning`.
    """
    path = Path(path)
    return [ManifestRow(path.parent / r["file_name"], r["label"],
                        "synthetic" if is_synthetic(r["synthetic"]) else "real", Path(r["source"]))
            for r in read_manifest(path)]


def read_mixed_sets(folder: str | os.PathLike[str], ratios: Sequence[float | Ratio]) -> dict[Ratio, list[ManifestRow]]:
    """The manifests of a sweep written by :func:`mix_sweep` (``folder/ratio_<r>/manifest.csv``), per ratio.

    What a consumer trains on when it must train on exactly the files a user can inspect.
    """
    folder = Path(folder)
    out: dict[Ratio, list[ManifestRow]] = {}
    for ratio in check_ratios(ratios):
        manifest = folder / ratio_folder_name(ratio) / MANIFEST_NAME
        if not manifest.is_file():
            raise EusaugError(f"{folder} has no mixed set for ratio {ratio:g} ({manifest} is missing): "
                              f"write it with eusaug mix --ratios, or drop the ratio.")
        out[ratio] = read_mix_manifest(manifest)
    return out


def read_set_metadata(folder: str | os.PathLike[str]) -> list[ManifestRow]:
    """The images of a written set as its ``metadata.csv`` lists them (paths resolved against ``folder``).

    Reads a set wherever it was copied: ``file_name`` is relative to the set's folder.
    """
    folder = Path(folder)
    path = folder / METADATA_NAME
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ())[:len(METADATA_COLUMNS)] != METADATA_COLUMNS:
                raise EusaugError(f"{path} is not a eusaug metadata file (columns {', '.join(METADATA_COLUMNS)}).")
            return [ManifestRow(folder / r["file_name"], r["label"],
                                "synthetic" if r["synthetic"].strip().lower() == "true" else "real",
                                Path(r["source"])) for r in reader]
    except FileNotFoundError:
        raise EusaugError(f"{folder} has no {METADATA_NAME}: pass a set written by eusaug mix.") from None
