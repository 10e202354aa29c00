"""How a collection's cases run: one after another, in local processes, or on a Dask cluster.

A runner takes the jobs and a callback, and hands each case's result to the callback as
soon as it is known (the coordinator records it in ``collection.csv`` at once). ``run_case``
is passed in, so the coordinator decides what one case does.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from eusaug.errors import EusaugError
from eusaug.io import progress
from eusaug.plugin.interfaces import Translator
from eusaug.translate.collection_cases import CaseJob, failed_result, init_process
from eusaug.translate.collection_ledger import CaseResult
from eusaug.translate.synth import load_translator

if TYPE_CHECKING:
    from distributed import Client

CLUSTER_HINT = "pip install -e '.[cluster]' (or pip install 'dask[distributed]')"

#: Runs the jobs and hands each case's result to the callback as soon as it is known.
Runner = Callable[[list[CaseJob], Callable[[CaseResult], None]], None]
#: What one case does: ``run_case(job, translator or None) -> CaseResult``.
CaseFunction = Callable[..., CaseResult]


def serial_runner(retries: int, run_case: CaseFunction) -> Runner:
    """Cases one after another in this process, sharing one translator."""
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
                            record(failed_result(job, exc))

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


def pool_runner(workers: int, retries: int, run_case: CaseFunction) -> Runner:
    """Cases in ``workers`` local processes (spawned), each loading the translator once."""
    def run(jobs: list[CaseJob], record: Callable[[CaseResult], None]) -> None:
        first = jobs[0]
        # spawn, never fork: a forked TensorFlow (or any threaded library) can deadlock.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=init_process,
                                   initargs=(first.translator, first.landmark, first.model, first.translator_options))
        try:
            attempts: dict[Future[CaseResult], tuple[CaseJob, int]] = {pool.submit(run_case, j): (j, 0) for j in jobs}
            while attempts:
                done = next(as_completed(attempts))
                job, attempt = attempts.pop(done)
                try:
                    record(done.result())
                except BrokenProcessPool as exc:  # a process died (out of memory?): the pool is gone
                    record(failed_result(job, exc))
                except Exception as exc:  # noqa: BLE001
                    if attempt < retries:
                        attempts[pool.submit(run_case, job)] = (job, attempt + 1)
                    else:
                        record(failed_result(job, exc))
        except BaseException:  # Ctrl-C: drop the queued cases instead of finishing them first
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    return run


def import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise EusaugError(f"Running on a Dask cluster (--scheduler) needs dask.distributed: {CLUSTER_HINT}.") from None
    return distributed


def _connect(scheduler: str | Client) -> tuple[Client, bool]:
    """A client for ``scheduler``, and whether we opened it (and so must close it)."""
    distributed = import_distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    try:
        return distributed.Client(str(scheduler), timeout="20s", set_as_default=False), True
    except (OSError, TimeoutError, ValueError) as exc:
        raise EusaugError(f"Cannot reach the Dask scheduler at {scheduler} ({exc}): start one with `dask scheduler` "
                          "and pass the address it prints, e.g. --scheduler tcp://HOST:8786.") from None


def dask_runner(scheduler: str | Client, retries: int, run_case: CaseFunction) -> Runner:
    """Cases as tasks on a Dask cluster, retried by its scheduler."""
    def run(jobs: list[CaseJob], record: Callable[[CaseResult], None]) -> None:
        distributed = import_distributed()
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
                    record(failed_result(job, exc))
                future.release()
        finally:
            if owned:
                client.close()

    return run
