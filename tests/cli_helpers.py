"""Helpers for CLI tests: invoke ``eusaug`` in-process and check one-line user errors."""

from __future__ import annotations

from click.testing import CliRunner, Result

from eusaug.cli import main
from eusaug.io.progress import is_log_line


def invoke(*args: object) -> Result:
    """Run ``eusaug ARGS...`` in-process; arguments may be paths or numbers."""
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean_error(result: Result, *needles: str) -> None:
    """Exit code 2, one line starting with ``Error:``, no traceback, naming every needle."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    # Progress lines (printed off a terminal, as under CliRunner) may come before the error.
    message = "\n".join(line for line in result.output.splitlines() if not is_log_line(line)).strip()
    assert message.startswith("Error:") and "\n" not in message, message
    for needle in needles:
        assert needle in message, (needle, message)
