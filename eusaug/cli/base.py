"""What every command shares: clean one-line errors, --debug, --quiet, and common options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from eusaug import progress
from eusaug.errors import EusaugError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2


class EusaugGroup(click.Group):
    """A click group that turns :class:`EusaugError` into one line on stderr and exit code 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands in the order they were added: the order of the pipeline."""
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EusaugError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.secho("Interrupted: nothing half-written was kept.", fg="yellow", err=True)
            sys.exit(130)


def ct_options(required: bool = True, ct_help: str | None = None) -> Callable[[F], F]:
    """``--ct``, ``--labels`` and ``--preset``, shared by every command that reads a CT.

    ``ct_help`` replaces the help of ``--ct`` for commands where it has an alternative
    (``eusaug synth --ct-dir``).
    """

    def decorate(func: F) -> F:
        func = click.option(
            "--preset",
            default="totalsegmentator",
            show_default=True,
            help="Label preset: totalsegmentator, btcv, or a JSON file mapping names to ids.",
        )(func)
        func = click.option(
            "--labels",
            type=click.Path(path_type=Path),
            default=None,
            help="Organ label map (NIfTI). Default: found beside the CT (NAME_labels.nii.gz, ...).",
        )(func)
        help_ct = "CT volume (NIfTI .nii/.nii.gz)."
        if not required:
            help_ct += " Default: the embedded sample CT."
        help_ct = ct_help or help_ct
        func = click.option("--ct", type=click.Path(path_type=Path), required=required, help=help_ct)(func)
        return func

    return decorate


def resolve_ct_paths(ct: Path | None, labels: Path | None) -> tuple[Path, Path | None]:
    """Fall back to the embedded sample when no CT is given."""
    if ct is None:
        from eusaug.sample import sample_ct_path, sample_labels_path

        return sample_ct_path(), labels or sample_labels_path()
    return ct, labels


def set_quiet(quiet: bool) -> None:
    progress.set_quiet(quiet)
