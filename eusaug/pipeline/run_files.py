"""The files a whole-pipeline run writes for its own stages: labelled CSVs, the sEUS list, freed models
and checkpoints."""

from __future__ import annotations

import os
import shutil
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


def drop_resume_checkpoints(root: Path) -> dict[str, Any]:
    """Delete the training checkpoints (``epoch-NNNN`` folders of :mod:`eusaug.io.checkpoint`) under ``root``.

    They only serve to resume training (optimiser state, discriminators, image pools:
    about 90 % of a demo folder, hundreds of MB per landmark at the ``paper`` size); the
    exported generator, losses, samples and any per-epoch generator snapshots (``.keras``
    files) stay, so ``eusaug synth --model`` still works on every run. Returns what was
    deleted and the megabytes freed.
    """
    from eusaug.io.checkpoint import STATE_FILE, VARIABLES_FILE

    found = sorted({state.parent for state in Path(root).rglob(STATE_FILE)
                    if (state.parent / VARIABLES_FILE).is_file() and state.parent.name.startswith("epoch-")})
    freed = 0
    for checkpoint in found:
        freed += sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file())
        shutil.rmtree(checkpoint)
        if checkpoint.parent != Path(root) and not any(checkpoint.parent.iterdir()):
            checkpoint.parent.rmdir()
    return {"deleted_checkpoints": len(found), "freed_mb": round(freed / 2**20, 1)}
