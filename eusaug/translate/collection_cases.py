"""One case of a collection, wherever it runs: its job, its seed, and the translator its process keeps.

Every case gets a seed derived from the run's seed and its case id (never from its
position or the worker that ran it), so a serial run, ``workers=N`` and a Dask cluster
write byte-identical images.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.ct.discover import CaseFiles
from eusaug.ct.discover import find_cases as find_ct_label_pairs
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.io import progress
from eusaug.plugin.interfaces import Translator
from eusaug.translate.collection_ledger import DONE, FAILED, CaseResult
from eusaug.translate.synth import load_translator, synthesize


@dataclass(frozen=True)
class CaseJob:
    """Everything one case needs, picklable so it can travel to another process or machine."""

    entry: CaseFiles
    output_dir: Path
    landmark: str
    n: int
    seed: int
    translator: str
    model: Path | None
    label_preset: str
    batch_size: int
    slicer: str
    #: Keyword options of the translator's ``load`` (sorted pairs: part of the translator cache key).
    translator_options: tuple[tuple[str, Any], ...] = ()
    fov: FieldOfView | None = None
    #: Accept a label map whose organs look implausible for ``label_preset`` (``--accept-implausible-labels``).
    accept_implausible_labels: bool = False


def find_cases(ct_dir: str | os.PathLike[str]) -> list[CaseFiles]:
    """Every CT in ``ct_dir`` with its label map, paths resolved, in name order (any layout
    :func:`eusaug.ct.find_cases` reads); a case's ``name`` names its output folder."""
    return [replace(c, ct=Path(c.ct).resolve(), labels=None if c.labels is None else Path(c.labels).resolve())
            for c in find_ct_label_pairs(ct_dir)]


def case_seed(seed: int, case_id: str) -> int:
    """A case's seed from the run's seed and its id: the same whoever runs it, in any order."""
    digest = hashlib.sha256(case_id.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return int(np.random.SeedSequence([int(seed), *words]).generate_state(1, np.uint32)[0])


# --- one translator per process, shared by every case it runs ------------------------------------

_TRANSLATORS: dict[tuple[str, str], Translator] = {}
_TRANSLATORS_LOCK = threading.Lock()


def cached_translator(translator: str, landmark: str, model: Path | None,
                      options: tuple[tuple[str, Any], ...] = ()) -> Translator:
    """The translator for (name, model, options), loaded once per process (a model load can take seconds)."""
    key = (translator, "" if model is None else str(model), options)
    with _TRANSLATORS_LOCK:
        if key not in _TRANSLATORS:
            _TRANSLATORS[key] = load_translator(translator, landmark, model, options=dict(options))[0]
        return _TRANSLATORS[key]


def init_process(translator: str, landmark: str, model: Path | None,
                  options: tuple[tuple[str, Any], ...] = ()) -> None:
    """Pool initializer: load the translator before the first case; children draw no progress bars."""
    progress.set_quiet(True)
    try:
        cached_translator(translator, landmark, model, options)
    except Exception:  # noqa: BLE001 - the first case reloads it and reports the error in collection.csv
        pass


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_case(job: CaseJob, instance: Translator | None = None) -> CaseResult:
    """Synthesise one case into ``output_dir/case_id`` (atomically); report a data error as failed.

    An :class:`EusaugError` (a corrupt CT, no landmark in the labels) is the case's own and
    would fail again, so it is returned as a failed row; any other exception propagates
    so the caller can retry it (a lost worker, a full disk).
    """
    entry = job.entry
    if multiprocessing.parent_process() is not None:
        progress.set_quiet(True)  # a worker process: its bars would garble the coordinator's
    start = time.perf_counter()
    error = ""
    try:
        translator = instance or cached_translator(job.translator, job.landmark, job.model, job.translator_options)
        synthesize(entry.ct, job.landmark, job.n, job.output_dir / entry.name, labels=entry.labels,
                   model=job.model, translator=translator, label_preset=job.label_preset, seed=job.seed,
                   batch_size=job.batch_size, force=True, slicer=job.slicer, fov=job.fov,
                   accept_implausible_labels=job.accept_implausible_labels)
    except EusaugError as exc:
        error = " ".join(str(exc).split())  # one line in the CSV
    return CaseResult(entry.name, str(entry.ct), "" if entry.labels is None else str(entry.labels),
                      FAILED if error else DONE, 0 if error else job.n, time.perf_counter() - start, error,
                      job.seed, worker_name())


def failed_result(job: CaseJob, exc: BaseException) -> CaseResult:
    """The failed row of a case that raised ``exc`` (the message on one line)."""
    entry = job.entry
    message = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line in the CSV
    return CaseResult(entry.name, str(entry.ct), "" if entry.labels is None else str(entry.labels),
                      FAILED, 0, 0.0, message, job.seed, "")
