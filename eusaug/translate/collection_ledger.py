"""A collection's record: ``collection.json`` (the settings) and ``collection.csv`` (one row per case).

The coordinator rewrites ``collection.csv`` atomically after every case, so a killed or
partly failed run resumes from it: finished cases are skipped, failed and missing ones redone.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eusaug.errors import EusaugError
from eusaug.io.tables import read_csv_rows, write_csv
from eusaug.translate.synth import MANIFEST

COLLECTION_CSV = "collection.csv"
COLLECTION_JSON = "collection.json"
COLLECTION_FIELDS = ("case_id", "ct", "labels", "status", "n", "seconds", "error", "seed", "worker")
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class CaseResult:
    """One row of ``collection.csv``."""

    case_id: str
    ct: str
    labels: str
    status: str
    n: int
    seconds: float
    error: str
    seed: int
    worker: str

    def as_row(self) -> dict[str, Any]:
        """The CSV row (seconds rounded to ms: the rest is noise)."""
        return {**asdict(self), "seconds": round(self.seconds, 3)}


_OPTION_NAMES = {"n_per_case": "-n", "seed": "--seed", "translator": "--translator", "model": "--model",
                 "label_preset": "--label-preset", "batch_size": "--batch-size", "landmark": "--landmark"}


def check_output(output_dir: Path, settings: dict[str, Any], force: bool) -> None:
    """Refuse to mix cases made with other settings, or to write into a folder that is not ours."""
    if not output_dir.exists() or force:
        return
    if not output_dir.is_dir():
        raise EusaugError(f"{output_dir} exists and is not a folder: choose another output folder.")
    settings_path = output_dir / COLLECTION_JSON
    if not settings_path.is_file():
        if any(output_dir.iterdir()):
            raise EusaugError(f"{output_dir} is not empty and holds no {COLLECTION_JSON}: choose another output "
                              "folder, or pass --force to write into it.")
        return
    try:
        previous = json.loads(settings_path.read_text())
    except (OSError, ValueError) as exc:
        raise EusaugError(f"{settings_path} cannot be read ({exc}): delete it or pass --force.") from None
    changed = [k for k, v in settings.items() if k != "eusaug_version" and previous.get(k) != v]
    if changed:
        details = ", ".join(f"{_OPTION_NAMES.get(k, k)} {previous.get(k)!r} -> {settings[k]!r}" for k in changed)
        raise EusaugError(f"{output_dir} holds cases made with other settings ({details}): rerun with the same "
                          "settings to resume, pass --force to redo every case, or choose another output folder.")


def previous_rows(output_dir: Path, force: bool) -> dict[str, dict[str, str]]:
    path = output_dir / COLLECTION_CSV
    if force or not path.is_file():
        return {}
    return {row["case_id"]: row for row in read_csv_rows(path, COLLECTION_FIELDS[:7])}


def is_done(row: dict[str, str] | None, case_dir: Path, n: int) -> bool:
    """Done in the manifest, and its folder is whole (atomic writes make a manifest the last word)."""
    return bool(row and row.get("status") == DONE and row.get("n") == str(n) and (case_dir / MANIFEST).is_file())


@dataclass
class Ledger:
    """``collection.csv`` as the coordinator keeps it: rewritten atomically after each case."""

    path: Path
    order: list[str]
    rows: dict[str, dict[str, Any]]

    def record(self, result: CaseResult) -> None:
        self.rows[result.case_id] = result.as_row()
        self.write()

    def write(self) -> None:
        ids = [c for c in self.order if c in self.rows] + sorted(set(self.rows) - set(self.order))
        write_csv(self.path, [self.rows[c] for c in ids], COLLECTION_FIELDS)


def read_collection(output_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a collection's ``collection.csv`` (e.g. to list the failed cases)."""
    return read_csv_rows(Path(output_dir) / COLLECTION_CSV, COLLECTION_FIELDS[:7])
