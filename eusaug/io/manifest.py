"""The one ``manifest.csv`` schema that ``eusaug slice``, ``synth`` and ``mix`` write.

Every manifest starts with the same columns, in this order (:data:`MANIFEST_HEAD`):

* ``file_name``: the image, relative to the manifest's folder (empty for a rejected slice);
* ``label``: the landmark or class name;
* ``synthetic``: ``true`` or ``false`` (CT planes and sEUS are synthetic, real frames are not);
* ``source``: the CT or original file the image came from;
* ``label_file``: the label-plane PNG, relative like ``file_name`` (empty when there is none);

then each stage's own columns (``pose_index``, ``status``, ``pose``, ``seed``, ...). The
first four are the Hugging Face ``imagefolder`` metadata columns, so a manifest is also a
``metadata.csv``. :func:`read_manifest` still reads the column names used before this
schema (for one release), with a :class:`DeprecationWarning` naming them.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eusaug.errors import EusaugError
from eusaug.io.atomic import write_text

MANIFEST_HEAD = ("file_name", "label", "synthetic", "source", "label_file")

#: Old column name -> its name in :data:`MANIFEST_HEAD` (read for one release).
OLD_COLUMNS: Mapping[str, str] = {
    "image": "file_name",        # eusaug slice
    "file": "file_name",         # eusaug synth
    "output_path": "file_name",  # eusaug mix
    "labels": "label_file",      # eusaug slice
    "landmark": "label",         # eusaug slice, synth
    "class": "label",            # eusaug mix
    "original_path": "source",   # eusaug mix
    "source_ct": "source",       # eusaug synth
}


def synthetic_cell(value: bool) -> str:
    """The ``synthetic`` cell of a manifest row."""
    return "true" if value else "false"


def is_synthetic(cell: str) -> bool:
    """A ``synthetic`` cell read back (``true``/``1``/``yes`` in any case)."""
    return cell.strip().lower() in ("true", "1", "yes")


def manifest_text(rows: Sequence[Mapping[str, Any]], own_columns: Sequence[str] = ()) -> str:
    """``rows`` as manifest CSV text: :data:`MANIFEST_HEAD`, then ``own_columns`` (missing cells empty)."""
    clash = set(own_columns) & set(MANIFEST_HEAD)
    if clash:
        raise EusaugError(f"Manifest columns {', '.join(sorted(clash))} are already in the head: drop them "
                          "from the stage's own columns.")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*MANIFEST_HEAD, *own_columns], lineterminator="\n",
                            extrasaction="ignore", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_manifest(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]],
                   own_columns: Sequence[str] = ()) -> Path:
    """Write ``rows`` to ``path`` atomically in the manifest schema (see :func:`manifest_text`)."""
    return write_text(path, manifest_text(rows, own_columns))


def _renamed(header: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Old column -> new column for a header, and the old names found (in header order)."""
    if "file_name" in header:
        return {}, []
    names = set(header)
    mapping: dict[str, str] = {}
    for old in header:
        new = OLD_COLUMNS.get(old)
        if new is None or new in mapping.values():
            continue
        mapping[old] = new
    # The old mix manifest's ``source`` said real/synthetic; its file came from ``original_path``.
    if "source" in names and "original_path" in names:
        mapping["source"] = "synthetic"
    return mapping, list(mapping)


def read_manifest(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a ``manifest.csv`` written by ``eusaug slice``, ``synth`` or ``mix``, under the new names.

    A manifest written before :data:`MANIFEST_HEAD` is renamed on reading (``image``/``file``/
    ``output_path`` -> ``file_name``, ``labels`` -> ``label_file``, ``class``/``landmark`` -> ``label``,
    ``original_path``/``source_ct`` -> ``source``, the old mix ``source`` real/synthetic ->
    ``synthetic``; slice and synth rows are synthetic) with a :class:`DeprecationWarning`.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or ()]
            raw = [dict(zip(header, (row.get(k) or "" for k in reader.fieldnames or ()))) for row in reader]
    except FileNotFoundError:
        raise EusaugError(f"Manifest {path} does not exist: check the path.") from None
    except UnicodeDecodeError:
        raise EusaugError(f"{path} is not a UTF-8 text CSV: pass a manifest.csv written by eusaug.") from None
    mapping, old = _renamed(header)
    if old:
        warnings.warn(f"{path} uses the old manifest columns {', '.join(old)}: they are read for one more "
                      f"release; rewrite it with this eusaug (columns {', '.join(MANIFEST_HEAD)}).",
                      DeprecationWarning, stacklevel=2)
    names = [mapping.get(name, name) for name in header]
    if "file_name" not in names or "label" not in names:
        raise EusaugError(f"{path} is not a eusaug manifest (columns {', '.join(MANIFEST_HEAD)}, ...): "
                          "pass the manifest.csv of an eusaug slice, synth or mix folder.")
    rows = []
    for row in raw:
        out = {mapping.get(k, k): v for k, v in row.items()}
        if "synthetic" in mapping.values():
            out["synthetic"] = synthetic_cell(out["synthetic"].strip() == "synthetic")
        for column in MANIFEST_HEAD:
            out.setdefault(column, synthetic_cell(True) if column == "synthetic" else "")
        rows.append({**{c: out[c] for c in MANIFEST_HEAD}, **{k: v for k, v in out.items() if k not in MANIFEST_HEAD}})
    return rows
