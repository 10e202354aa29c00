"""One progress helper for all long work: a rich bar on a terminal, silent otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) every progress bar, e.g. for ``--quiet``."""
    global _quiet
    _quiet = quiet


def console(stderr: bool = True) -> Console:
    """The console progress and messages go to (stderr, so stdout stays parseable)."""
    return Console(stderr=stderr)


def make_progress(*extra_columns: TextColumn) -> Progress:
    """A rich Progress with the project's columns; disabled when quiet or not a TTY."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        *extra_columns,
        console=console(),
        disable=_quiet or not sys.stderr.isatty(),
        transient=False,
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a progress bar named ``description``."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress() as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for work of unknown length."""
    if _quiet or not sys.stderr.isatty():
        yield
        return
    with console().status(message):
        yield
