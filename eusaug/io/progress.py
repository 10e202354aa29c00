"""One progress helper for all long work: a rich bar on a terminal, plain log lines otherwise.

Under ``nohup``, a batch scheduler or ``| cat`` a live bar cannot be drawn, yet hours of
silence look like a hang. There each task prints one plain line per stage instead, as
Keras' ``verbose=2`` does: per advance when the total is small (epochs), else at each
tenth of the total or every :data:`LOG_EVERY_S` seconds, but never within :data:`MIN_GAP_S`
of the task's previous line; and always when a task is renamed to a new stage
(``epoch 2/10``; a change inside parentheses is a detail, not a stage) or ends. ``--quiet`` silences both.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

#: Tasks with at most this many steps (epochs, stages) log a line per advance.
LOG_EACH_UP_TO = 30
#: Larger tasks log at each tenth of their total, or after this many seconds without a line.
LOG_EVERY_S = 60.0
#: Lines of one task (but its last) are at least this many seconds apart, so quick work
#: (a few fast steps, loading images) says only how it ended.
MIN_GAP_S = 2.0

_quiet = False

#: A plain progress line: ``what: 3/10 (30%), 2.5/s, 0:00:04 elapsed, 0:00:03 left`` (then any info),
#: or a status line (``what ...`` and ``what: done in 0:00:04``).
_LOG_LINE = re.compile(r".+: [\d.]+(/[\d.]+ \(\d+%\))?, .*\d+:\d\d:\d\d elapsed.*|.+ \.\.\.|.+: done in \d+:\d\d:\d\d")


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) every progress bar and log line, e.g. for ``--quiet``."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    """Whether progress is silenced (``--quiet``, or a worker whose caller draws the bar)."""
    return _quiet


def is_log_line(line: str) -> bool:
    """Whether ``line`` is one of the plain progress lines (to tell them from a command's own output)."""
    return _LOG_LINE.fullmatch(line.strip()) is not None


def on_terminal() -> bool:
    """Whether stderr is a terminal a live bar can be drawn on."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def console(stderr: bool = True) -> Console:
    """The console progress and messages go to (stderr, so stdout stays parseable)."""
    return Console(stderr=stderr)


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _stage(description: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", description)


@dataclass
class _Logged:
    """What the last plain line of a task said, to decide when the next one is due."""

    completed: float = 0.0
    tenth: int = 0
    at: float = 0.0


class LogProgress(Progress):
    """A rich Progress that, with ``plain_log``, prints a line per stage instead of a bar."""

    def __init__(self, *columns: Any, plain_log: bool = False, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self.plain_log = plain_log
        self._logged: dict[TaskID, _Logged] = {}

    def add_task(self, description: str, start: bool = True, total: float | None = 100.0, completed: int = 0,
                 visible: bool = True, **fields: Any) -> TaskID:
        task_id = super().add_task(description, start, total, completed, visible, **fields)
        self._logged[task_id] = _Logged(completed=float(completed), at=time.monotonic())
        return task_id

    def update(self, task_id: TaskID, *, description: str | None = None, **kwargs: Any) -> None:  # type: ignore[override]
        if self.plain_log and description is not None and task_id in self._tasks:
            task = self._tasks[task_id]
            # A new stage name (``epoch 2/10``): say how the previous stage ended first. Details in
            # parentheses (``liver poses (512 draws)``) change with every update and name no stage.
            if (_stage(description) != _stage(task.description)
                    and task.completed > self._logged[task_id].completed):
                self._log(task_id)
        super().update(task_id, description=description, **kwargs)
        self._maybe_log(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_log(task_id)

    def stop(self) -> None:
        if self.plain_log:
            for task_id, task in list(self._tasks.items()):
                if task.completed > self._logged[task_id].completed:
                    self._log(task_id)
        super().stop()

    def _maybe_log(self, task_id: TaskID) -> None:
        if not self.plain_log or task_id not in self._tasks:
            return
        task, logged = self._tasks[task_id], self._logged[task_id]
        if task.completed <= logged.completed:
            return
        total = task.total
        quiet_for = time.monotonic() - logged.at
        due = quiet_for >= LOG_EVERY_S
        if total:
            step_due = total <= LOG_EACH_UP_TO or int(10 * task.completed / total) > logged.tenth
            due = due or task.completed >= total or (step_due and quiet_for >= MIN_GAP_S)
        if due:
            self._log(task_id)

    def _log(self, task_id: TaskID) -> None:
        task = self._tasks[task_id]
        elapsed = task.elapsed or 0.0
        done = task.completed
        parts = [f"{_count(done)}/{_count(task.total)} ({100 * done / task.total:.0f}%)" if task.total else _count(done)]
        rate = done / elapsed if elapsed > 0 else 0.0
        if rate >= 1:
            parts.append(f"{rate:,.1f}/s")
        elif rate > 0:
            parts.append(f"{1 / rate:,.1f} s each")
        parts.append(f"{_clock(elapsed)} elapsed")
        if task.total and rate > 0:
            parts.append(f"{_clock(max(task.total - done, 0) / rate)} left")
        info = task.fields.get("info")
        line = f"{task.description}: {', '.join(parts)}" + (f"  {info}" if info else "")
        print(line, file=sys.stderr, flush=True)
        self._logged[task_id] = _Logged(done, int(10 * done / task.total) if task.total else 0, time.monotonic())


def make_progress(*extra_columns: TextColumn) -> LogProgress:
    """A rich Progress with the project's columns: a bar on a terminal, log lines off it, silent when quiet."""
    live = not _quiet and on_terminal()
    return LogProgress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=console(),
        disable=not live,
        transient=False,
        plain_log=not _quiet and not live,
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a progress bar (or log lines) named ``description``."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress() as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for work of unknown length; off a terminal, a line when it starts and ends."""
    if _quiet:
        yield
        return
    if not on_terminal():
        began = time.monotonic()
        print(f"{message} ...", file=sys.stderr, flush=True)
        yield
        print(f"{message}: done in {_clock(time.monotonic() - began)}", file=sys.stderr, flush=True)
        return
    with console().status(message):
        yield
