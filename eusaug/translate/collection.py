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
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eusaug.ct.discover import CaseFiles
from eusaug.ct.discover import find_cases as find_ct_label_pairs
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.io import progress
from eusaug.io.tables import read_csv_rows, write_csv, write_json
from eusaug.plugin.interfaces import Translator
from eusaug.plugin.registry import DEFAULT_SLICER, DEFAULT_TRANSLATOR, Registry
from eusaug.translate.synth import MANIFEST, load_translator, resolve_model, synthesize
from eusaug.version import __version__

if TYPE_CHECKING:
    from distributed import Client

COLLECTION_CSV = "collection.csv"
COLLECTION_JSON = "collection.json"
COLLECTION_FIELDS = ("case_id", "ct", "labels", "status", "n", "seconds", "error", "seed", "worker")
DONE, FAILED = "done", "failed"
CLUSTER_HINT = "pip install -e '.[cluster]' (or pip install 'dask[distributed]')"


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


# --- the worker side: one translator per process, shared by every case it runs -----------------

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


def _init_process(translator: str, landmark: str, model: Path | None,
                  options: tuple[tuple[str, Any], ...] = ()) -> None:
    """Pool initializer: load the translator before the first case; children draw no progress bars."""
    progress.set_quiet(True)
    try:
        cached_translator(translator, landmark, model, options)
    except Exception:  # noqa: BLE001 - the first case reloads it and reports the error in collection.csv
        pass


def _worker_name() -> str:
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
                   batch_size=job.batch_size, force=True, slicer=job.slicer, fov=job.fov)
    except EusaugError as exc:
        error = " ".join(str(exc).split())  # one line in the CSV
    return CaseResult(entry.name, str(entry.ct), "" if entry.labels is None else str(entry.labels),
                      FAILED if error else DONE, 0 if error else job.n, time.perf_counter() - start, error,
                      job.seed, _worker_name())


def _failed(job: CaseJob, exc: BaseException) -> CaseResult:
    entry = job.entry
    message = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line in the CSV
    return CaseResult(entry.name, str(entry.ct), "" if entry.labels is None else str(entry.labels),
                      FAILED, 0, 0.0, message, job.seed, "")


# --- the coordinator side ------------------------------------------------------------------------

#: Runs the jobs and hands each case's result to the callback as soon as it is known.
Runner = Callable[[list[CaseJob], Callable[[CaseResult], None]], None]

def _resolve_model(translator: str, landmark: str, model: str | os.PathLike[str] | None,
                   registry: Registry) -> Path | None:
    """The model every worker will load, fixed once here so all workers use the same one."""
    path = resolve_model(translator, landmark, model, registry)
    if path is None:
        return None
    if model is not None and not path.exists():
        raise EusaugError(f"Model {path} does not exist: pass a trained run folder with --model.")
    return path.resolve()


_OPTION_NAMES = {"n_per_case": "-n", "seed": "--seed", "translator": "--translator", "model": "--model",
                 "label_preset": "--label-preset", "batch_size": "--batch-size", "landmark": "--landmark"}


def _check_output(output_dir: Path, settings: dict[str, Any], force: bool) -> None:
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
    import json

    try:
        previous = json.loads(settings_path.read_text())
    except (OSError, ValueError) as exc:
        raise EusaugError(f"{settings_path} cannot be read ({exc}): delete it or pass --force.") from None
    changed = [k for k, v in settings.items() if k != "eusaug_version" and previous.get(k) != v]
    if changed:
        details = ", ".join(f"{_OPTION_NAMES.get(k, k)} {previous.get(k)!r} -> {settings[k]!r}" for k in changed)
        raise EusaugError(f"{output_dir} holds cases made with other settings ({details}): rerun with the same "
                          "settings to resume, pass --force to redo every case, or choose another output folder.")


def _previous_rows(output_dir: Path, force: bool) -> dict[str, dict[str, str]]:
    path = output_dir / COLLECTION_CSV
    if force or not path.is_file():
        return {}
    return {row["case_id"]: row for row in read_csv_rows(path, COLLECTION_FIELDS[:7])}


def _is_done(row: dict[str, str] | None, case_dir: Path, n: int) -> bool:
    """Done in the manifest, and its folder is whole (atomic writes make a manifest the last word)."""
    return bool(row and row.get("status") == DONE and row.get("n") == str(n) and (case_dir / MANIFEST).is_file())


@dataclass
class _Ledger:
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
) -> list[CaseResult]:
    """Write ``n_per_case`` sEUS images of ``landmark`` for every CT of ``ct_dir``; return this run's rows.

    ``workers`` > 1 runs cases in that many local processes; ``scheduler`` (an address such
    as ``tcp://host:8786``, or a ``dask.distributed.Client``) runs them on a Dask cluster
    instead. ``retries``: further attempts for a case after an unexpected error (a lost
    worker, a full disk); data errors are reported at once. Cases already done with the
    same settings are skipped; ``force`` redoes them all. ``translator_options`` and ``fov``
    are those of :func:`eusaug.translate.synthesize`.
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
    _check_output(output_dir, settings, force)
    previous = _previous_rows(output_dir, force)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / COLLECTION_JSON, settings)

    ledger = _Ledger(output_dir / COLLECTION_CSV, [c.name for c in cases], dict(previous))
    jobs = [CaseJob(entry, output_dir, landmark, n_per_case, case_seed(seed, entry.name), translator, model_path,
                    label_preset, batch_size, slicer, options, fov)
            for entry in cases if not _is_done(previous.get(entry.name), output_dir / entry.name, n_per_case)]
    ledger.write()
    if not jobs:
        return []
    if scheduler is not None:
        runner: Runner = _dask_runner(scheduler, retries)
    elif workers > 1:
        runner = _pool_runner(min(workers, len(jobs)), retries)
    else:
        runner = _serial_runner(retries)
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


def _serial_runner(retries: int) -> Runner:
    def run(jobs: list[CaseJob], record: Callable[[CaseResult], None]) -> None:
        first = jobs[0]
        try:
            instance: Translator | None = load_translator(first.translator, first.landmark, first.model)[0]
        except EusaugError as exc:  # every case would fail the same way: say it once
            raise EusaugError(f"Translator {first.translator!r} could not be loaded: {exc}") from None
        with _inner_bars_off():
            for job in jobs:
                for attempt in range(retries + 1):
                    try:
                        record(run_case(job, instance))
                        break
                    except Exception as exc:  # noqa: BLE001 - reported in collection.csv, as on a cluster
                        if attempt == retries:
                            record(_failed(job, exc))

    return run


@contextlib.contextmanager
def _inner_bars_off() -> Iterator[None]:
    """Silence each case's own progress bar while the bar over cases is drawn (restored after)."""
    was_quiet = progress.is_quiet()
    progress.set_quiet(True)
    try:
        yield
    finally:
        progress.set_quiet(was_quiet)


def _pool_runner(workers: int, retries: int) -> Runner:
    def run(jobs: list[CaseJob], record: Callable[[CaseResult], None]) -> None:
        first = jobs[0]
        # spawn, never fork: a forked TensorFlow (or any threaded library) can deadlock.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_process,
                                   initargs=(first.translator, first.landmark, first.model, first.translator_options))
        try:
            attempts: dict[Future[CaseResult], tuple[CaseJob, int]] = {pool.submit(run_case, j): (j, 0) for j in jobs}
            while attempts:
                done = next(as_completed(attempts))
                job, attempt = attempts.pop(done)
                try:
                    record(done.result())
                except BrokenProcessPool as exc:  # a process died (out of memory?): the pool is gone
                    record(_failed(job, exc))
                except Exception as exc:  # noqa: BLE001
                    if attempt < retries:
                        attempts[pool.submit(run_case, job)] = (job, attempt + 1)
                    else:
                        record(_failed(job, exc))
        except BaseException:  # Ctrl-C: drop the queued cases instead of finishing them first
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    return run


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise EusaugError(f"Running on a Dask cluster (--scheduler) needs dask.distributed: {CLUSTER_HINT}.") from None
    return distributed


def _connect(scheduler: str | Client) -> tuple[Client, bool]:
    """A client for ``scheduler``, and whether we opened it (and so must close it)."""
    distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    try:
        return distributed.Client(str(scheduler), timeout="20s", set_as_default=False), True
    except (OSError, TimeoutError, ValueError) as exc:
        raise EusaugError(f"Cannot reach the Dask scheduler at {scheduler} ({exc}): start one with `dask scheduler` "
                          "and pass the address it prints, e.g. --scheduler tcp://HOST:8786.") from None


def _dask_runner(scheduler: str | Client, retries: int) -> Runner:
    def run(jobs: list[CaseJob], record: Callable[[CaseResult], None]) -> None:
        distributed = _import_distributed()
        client, owned = _connect(scheduler)
        try:
            # One task per case; pure=False so a rerun after a fix is computed again, not served from memory.
            futures = {client.submit(run_case, job, key=f"eusaug-case-{job.entry.name}-{time.time_ns()}",
                                     pure=False, retries=retries): job for job in jobs}
            for future in distributed.as_completed(list(futures), loop=client.loop):
                job = futures[future]
                try:
                    record(future.result())
                except Exception as exc:  # noqa: BLE001 - retried by the scheduler already
                    record(_failed(job, exc))
                future.release()
        finally:
            if owned:
                client.close()

    return run


def read_collection(output_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of a collection's ``collection.csv`` (e.g. to list the failed cases)."""
    return read_csv_rows(Path(output_dir) / COLLECTION_CSV, COLLECTION_FIELDS[:7])
