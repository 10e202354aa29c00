"""What every command shares: clean one-line errors, --debug, --quiet, and common options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from eusaug.errors import EusaugError
from eusaug.io import progress

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


LABEL_PRESET_HELP = (
    "Label preset: auto (the built-in preset whose organ volumes and HU are plausible), "
    "totalsegmentator, btcv, or a JSON file mapping names to ids."
)
LABELS_HELP = (
    "Organ label map (NIfTI), or TotalSegmentator's segmentations/ folder of per-organ masks. "
    "Default: found beside the CT (NAME_labels.nii.gz, ../label/labelXXXX, ../labelsTr/CASE, segmentations/)."
)


def label_preset_option(func: F) -> F:
    """``--label-preset``: the one spelling of the label preset on every command."""
    return click.option("--label-preset", default="auto", show_default=True, help=LABEL_PRESET_HELP)(func)


def ct_options(required: bool = True) -> Callable[[F], F]:
    """``--ct``, ``--labels`` and ``--label-preset``, shared by every command that reads a CT."""

    def decorate(func: F) -> F:
        func = label_preset_option(func)
        func = click.option("--labels", type=click.Path(path_type=Path), default=None, help=LABELS_HELP)(func)
        help_ct = "CT volume (NIfTI .nii/.nii.gz)."
        if not required:
            help_ct += " Default: the embedded sample CT."
        func = click.option("--ct", type=click.Path(path_type=Path), required=required, help=help_ct)(func)
        return func

    return decorate


def resolve_ct_paths(ct: Path | None, labels: Path | None) -> tuple[Path, Path | None]:
    """Fall back to the embedded sample when no CT is given."""
    if ct is None:
        from eusaug.ct.sample_case import sample_ct_path, sample_labels_path

        return sample_ct_path(), labels or sample_labels_path()
    return ct, labels


def set_quiet(quiet: bool) -> None:
    progress.set_quiet(quiet)
