"""The files a whole-pipeline run writes for its own stages: labelled CSVs, the sEUS list, freed models."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_labelled_csv(path: Path, rows: Sequence[tuple[Path, str]]) -> Path:
    """Write a labelled set as ``path,class`` rows (the form :mod:`eusaug.mix.labelled_sets` reads).

    Paths are relative to the CSV, so a stage folder stays valid when it is renamed into place.
    """
    from eusaug.io.tables import write_csv

    base = path.parent.resolve()
    table = [{"path": os.path.relpath(Path(image).resolve(), base), "class": label} for image, label in rows]
    return write_csv(path, table, columns=("path", "class"))


def synthesized_images(folder: Path) -> list[Path]:
    """The sEUS images a ``synthesize`` run wrote into ``folder`` (not its label planes)."""
    from eusaug.translate.synth import read_synth_manifest

    return [folder / row["file_name"] for row in read_synth_manifest(folder)]


def drop_saved_models(folder: Path) -> dict[str, Any]:
    """Delete the ``.keras`` models under ``folder`` (their ``.json`` metadata stays); say what was freed.

    A run keeps its numbers, predictions and figures; the classifiers behind them are
    hundreds of megabytes that only a rerun of Grad-CAM would need.
    """
    models = sorted(folder.rglob("*.keras")) if folder.is_dir() else []
    freed = 0
    for model in models:
        freed += model.stat().st_size
        model.unlink()
    return {"deleted_models": len(models), "freed_mb": round(freed / 2**20, 1)}
