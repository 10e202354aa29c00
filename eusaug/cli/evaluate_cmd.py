"""``eusaug evaluate NAME``: one sub-command per installed evaluator plugin.

The sub-commands are built from the registry when the group is used, so an evaluator
from a third-party package gets its own command (with its ``cli_params``) and no CLI
code. Each prints its rows as a table, its notes, and the files it wrote.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from eusaug.errors import EusaugError
from eusaug.io.progress import console
from eusaug.plugin.interfaces import EvaluationResult, Evaluator
from eusaug.plugin.registry import Registry


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def print_result(result: EvaluationResult) -> None:
    """The rows as a rich table (stdout), then the notes and the files written."""
    out = console(stderr=False)
    if not out.is_terminal:  # piped or captured: no terminal width to respect, keep rows unwrapped
        out.width = max(out.width, 160)
    columns: dict[str, None] = {}
    for row in result.rows:
        columns.update(dict.fromkeys(row))
    table = Table(title=result.title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(*[_format(row.get(c)) for c in columns])
    out.print(table)
    for note in result.notes:
        out.print(f"[yellow]Note:[/yellow] {note}")
    for path in result.files:
        out.print(f"Wrote {path}")


def make_command(cls: type[Evaluator]) -> click.Command:
    """A click command for one evaluator class: its options plus ``-o/--output``."""

    def callback(output: Path, option: tuple[str, ...] = (), **options: Any) -> None:
        print_result(cls().run(cls.options_from({**options, **_assignments(option, options)}), output))

    params = [*cls.cli_params(),
              click.Option(["--option"], multiple=True, metavar="KEY=VALUE",
                           help="Any option by its field name, e.g. --option seed=3 (repeatable; as on synth, "
                                "poses, slice and train)."),
              click.Option(["-o", "--output"], type=click.Path(file_okay=False, path_type=Path), required=True,
                           help="Folder for the result files (created if needed).")]
    help_text = cls.description or (cls.__doc__ or "").strip()
    return click.Command(cls.name, params=params, callback=callback, help=help_text, short_help=help_text)


def _assignments(items: tuple[str, ...], known: dict[str, Any]) -> dict[str, str]:
    """``--option KEY=VALUE`` strings by key; the options class types them like the flags' values."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise EusaugError(f"Option {item!r} is not KEY=VALUE: write it like seed=3.")
        if key not in known:
            raise EusaugError(f"Unknown option {key!r}: known options are {', '.join(sorted(known))}.")
        out[key] = text
    return out


class EvaluateGroup(click.Group):
    """A group whose commands are the registry's evaluators, looked up when needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({row.name for row in Registry().plugins("evaluator") if row.cls is not None})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.list_commands(ctx):
            return None
        return make_command(Registry().evaluator(cmd_name))  # two plugins of one name: a clear error


@click.group("evaluate", cls=EvaluateGroup)
def evaluate_command() -> None:
    """Evaluate synthetic images and the classifiers trained with them (FID, Table 2, McNemar, Grad-CAM)."""
