"""Synthesis over a folder of CTs: serially, in local processes, or on a Dask cluster.

Hundreds of CTs take weeks one after another, so each CT is an independent task. Every
case gets a seed derived from the run's seed and its case id (never from its position
or the worker that ran it), so a serial run, ``workers=N`` and a Dask cluster write
byte-identical images. Each case folder is written atomically by
:func:`eusaug.translate.synthesize`; the top-level ``collection.csv`` is rewritten (atomically)
after every case, so a killed or partly failed run resumes where it stopped: finished
cases are skipped, failed and missing ones are redone.

Output layout::

    OUTPUT/collection.json      the settings the cases were made with
    OUTPUT/collection.csv       one row per case: status done/failed, images, seconds, error
    OUTPUT/CASE_ID/...          exactly what ``eusaug synth`` writes for one CT

This module coordinates; one case lives in :mod:`~eusaug.translate.collection_cases`, the
ways to run cases in :mod:`~eusaug.translate.collection_runners`, the record in
:mod:`~eusaug.translate.collection_ledger`. Their public names are importable from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.io import progress
from eusaug.io.tables import write_json
from eusaug.plugin.registry import DEFAULT_SLICER, DEFAULT_TRANSLATOR, Registry
from eusaug.translate.collection_cases import CaseJob, cached_translator, case_seed, find_cases, run_case
from eusaug.translate.collection_ledger import (
    COLLECTION_CSV,
    COLLECTION_FIELDS,
    COLLECTION_JSON,
    DONE,
    FAILED,
    CaseResult,
    Ledger,
    check_output,
    is_done,
    previous_rows,
    read_collection,
)
from eusaug.translate.collection_runners import CLUSTER_HINT, Runner, dask_runner, pool_runner, serial_runner
from eusaug.translate.synth import resolve_model
from eusaug.version import __version__

if TYPE_CHECKING:
    from distributed import Client


def _resolve_model(translator: str, landmark: str, model: str | os.PathLike[str] | None,
                   registry: Registry) -> Path | None:
    """The model every worker will load, fixed once here so all workers use the same one."""
    path = resolve_model(translator, landmark, model, registry)
    if path is None:
        return None
    if model is not None and not path.exists():
        raise EusaugError(f"Model {path} does not exist: pass a trained run folder with --model.")
    return path.resolve()


def synthesize_collection(
    ct_dir: str | os.PathLike[str],
    landmark: str,
    n_per_case: int,
    output_dir: str | os.PathLike[str],
    *,
    translator: str = DEFAULT_TRANSLATOR,
    model: str | os.PathLike[str] | None = None,
    label_preset: str = "auto",
    seed: int = 0,
    batch_size: int = 8,
    workers: int = 1,
    scheduler: str | Client | None = None,
    force: bool = False,
    retries: int = 1,
    slicer: str = DEFAULT_SLICER,
    registry: Registry | None = None,
    translator_options: Mapping[str, Any] | None = None,
    fov: FieldOfView | None = None,
    accept_implausible_labels: bool = False,
) -> list[CaseResult]:
    """Write ``n_per_case`` sEUS images of ``landmark`` for every CT of ``ct_dir``; return this run's rows.

    ``workers`` > 1 runs cases in that many local processes; ``scheduler`` (an address such
    as ``tcp://host:8786``, or a ``dask.distributed.Client``) runs them on a Dask cluster
    instead. ``retries``: further attempts for a case after an unexpected error (a lost
    worker, a full disk); data errors are reported at once. Cases already done with the
    same settings are skipped; ``force`` redoes them all. ``translator_options`` and ``fov``
    are those of :func:`eusaug.translate.synthesize`. Each case's label map is checked against
    ``label_preset`` as :func:`eusaug.ct.load_case` checks it (a case that fails is a failed row
    naming the preset that fits); ``accept_implausible_labels`` skips that check.
    """
    if n_per_case < 1:
        raise EusaugError(f"-n {n_per_case}: ask for at least one image per case.")
    if batch_size < 1:
        raise EusaugError(f"--batch-size {batch_size}: must be at least 1.")
    if workers < 1:
        raise EusaugError(f"--workers {workers}: must be at least 1.")
    if retries < 0:
        raise EusaugError(f"retries={retries}: must be 0 or more.")
    if scheduler is not None and workers > 1:
        raise EusaugError("--workers and --scheduler exclude each other: the cluster's workers do the work.")
    registry = registry or Registry()
    cases = find_cases(ct_dir)
    model_path = _resolve_model(translator, landmark, model, registry)
    output_dir = Path(output_dir).resolve()
    settings = {"eusaug_version": __version__, "landmark": landmark, "n_per_case": n_per_case, "seed": seed,
                "translator": translator, "model": "" if model_path is None else str(model_path),
                "label_preset": label_preset, "batch_size": batch_size, "slicer": slicer,
                "translator_options": dict(translator_options or {}),
                "field_of_view": None if fov is None else fov.to_dict()}
    options = tuple(sorted((translator_options or {}).items()))
    check_output(output_dir, settings, force)
    previous = previous_rows(output_dir, force)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / COLLECTION_JSON, settings)

    ledger = Ledger(output_dir / COLLECTION_CSV, [c.name for c in cases], dict(previous))
    jobs = [CaseJob(entry, output_dir, landmark, n_per_case, case_seed(seed, entry.name), translator, model_path,
                    label_preset, batch_size, slicer, options, fov, accept_implausible_labels)
            for entry in cases if not is_done(previous.get(entry.name), output_dir / entry.name, n_per_case)]
    ledger.write()
    if not jobs:
        return []
    if scheduler is not None:
        runner: Runner = dask_runner(scheduler, retries, run_case)
    elif workers > 1:
        runner = pool_runner(min(workers, len(jobs)), retries, run_case)
    else:
        runner = serial_runner(retries, run_case)
    results: list[CaseResult] = []
    with progress.make_progress() as bar:
        task = bar.add_task(f"cases ({landmark})", total=len(jobs))

        def record(result: CaseResult) -> None:
            ledger.record(result)
            results.append(result)
            bar.advance(task)

        runner(jobs, record)
    order = {c.name: k for k, c in enumerate(cases)}
    return sorted(results, key=lambda r: order[r.case_id])


__all__ = [
    "CLUSTER_HINT",
    "COLLECTION_CSV",
    "COLLECTION_FIELDS",
    "COLLECTION_JSON",
    "DONE",
    "FAILED",
    "CaseJob",
    "CaseResult",
    "Runner",
    "cached_translator",
    "case_seed",
    "find_cases",
    "read_collection",
    "run_case",
    "synthesize_collection",
]
