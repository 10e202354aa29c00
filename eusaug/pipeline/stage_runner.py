"""Resumable multi-stage runs (``eusaug demo``, ``eusaug reproduce``).

Each stage owns one sub-folder of the run. A finished stage leaves a ``.stage.json``
marker and is skipped on rerun; a stage killed half-way has no marker and restarts
cleanly: atomic stages are built in a temporary folder and renamed into place, and
stages that manage their own resumption (training) are simply called again.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eusaug.io.atomic import atomic_directory, write_text

MARKER = ".stage.json"


@dataclass
class Stage:
    """A named step writing into its own folder.

    ``run(folder)`` does the work and may return a JSON-ready summary. With
    ``atomic=False`` it writes into the final folder directly (for work that resumes
    itself, such as training); otherwise into a temporary one renamed on success.
    """

    name: str
    run: Callable[[Path], Any]
    atomic: bool = True
    description: str = ""


@dataclass
class StageResult:
    name: str
    folder: Path
    skipped: bool
    seconds: float
    summary: Any = field(default=None)


def stage_done(root: Path, name: str) -> bool:
    """True when stage ``name`` under ``root`` finished in an earlier run."""
    return (Path(root) / name / MARKER).is_file()


def read_summary(root: Path, name: str) -> Any:
    """The summary a finished stage returned."""
    return json.loads((Path(root) / name / MARKER).read_text())["summary"]


def run_stages(
    root: Path,
    stages: list[Stage],
    redo: bool = False,
    on_start: Callable[[Stage], None] | None = None,
) -> list[StageResult]:
    """Run ``stages`` in order under ``root``, skipping finished ones unless ``redo``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    results: list[StageResult] = []
    for stage in stages:
        folder = root / stage.name
        if stage_done(root, stage.name) and not redo:
            marker = json.loads((folder / MARKER).read_text())
            results.append(StageResult(stage.name, folder, True, float(marker["seconds"]), marker["summary"]))
            continue
        if on_start is not None:
            on_start(stage)
        start = time.perf_counter()
        if stage.atomic:
            if folder.exists() and redo:
                shutil.rmtree(folder)
            with atomic_directory(folder, force=True) as tmp:
                summary = stage.run(tmp)
                seconds = time.perf_counter() - start
                write_text(tmp / MARKER, json.dumps({"seconds": seconds, "summary": summary}, default=str))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            summary = stage.run(folder)
            seconds = time.perf_counter() - start
            write_text(folder / MARKER, json.dumps({"seconds": seconds, "summary": summary}, default=str))
        results.append(StageResult(stage.name, folder, False, seconds, summary))
    return results
