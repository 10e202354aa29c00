"""Writing evaluation results: CSV tables and JSON configs, atomically, never over old ones.

Every evaluator writes into an output folder that may hold earlier results (the default
is the current folder), so each checks the names it will write *before* any work and
refuses to replace them without ``force``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from eusaug.errors import EusaugError
from eusaug.io.atomic import write_text


def check_new(paths: Iterable[Path], force: bool = False) -> None:
    """Refuse (before any work) to replace existing result files unless ``force``."""
    existing = [p for p in paths if Path(p).exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing[:3]) + (" ..." if len(existing) > 3 else "")
        raise EusaugError(f"{names} already exist(s): pass --force to replace, or choose another output folder (-o).")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` (dicts) as CSV with ``columns`` (default: keys in first-seen order)."""
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return write_text(path, buffer.getvalue())


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` (dataclasses, paths and numpy scalars allowed) as indented JSON."""
    return write_text(path, json.dumps(_jsonable(data), indent=2) + "\n")


def read_csv_rows(path: str | os.PathLike[str], required: Sequence[str] = ()) -> list[dict[str, str]]:
    """Rows of a CSV with a header, as dicts of strings; every column in ``required`` must be there."""
    path = Path(path)
    if not path.is_file():
        raise EusaugError(f"{path} does not exist: check the path.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except UnicodeDecodeError:
        raise EusaugError(f"{path} is not a UTF-8 text CSV: save it as CSV (UTF-8).") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise EusaugError(f"{path} lacks the column(s) {', '.join(missing)} (it has {', '.join(header) or 'none'}): "
                          "pass a file written by eusaug, or add them.")
    return rows
