"""What every command shares: clean one-line errors, --debug, --quiet, and common options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from eusaug.errors import EusaugError
from eusaug.geometry import PROBE_DEPTH_MM, FieldOfView, resolve_field_of_view
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


def ct_options(required: bool = True, ct_help: str | None = None) -> Callable[[F], F]:
    """``--ct``, ``--labels`` and ``--label-preset``, shared by every command that reads a CT.

    ``ct_help`` replaces the help of ``--ct`` for commands where it has an alternative
    (``eusaug synth --ct-dir``).
    """

    def decorate(func: F) -> F:
        func = label_preset_option(func)
        func = click.option("--labels", type=click.Path(path_type=Path), default=None, help=LABELS_HELP)(func)
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
        from eusaug.ct.sample_case import sample_ct_path, sample_labels_path

        return sample_ct_path(), labels or sample_labels_path()
    return ct, labels


#: The field-of-view options, in the keyword names of :func:`eusaug.geometry.resolve_field_of_view`.
FOV_OPTION_NAMES = ("fov_file", "fov_from", "depth_mm", "sector_deg", "probe_radius_mm", "image_size", "probe")


def fov_options(func: F) -> F:
    """The field-of-view options; the command receives them as one ``fov_request`` dict.

    ``fov_request`` holds only the options given (empty: the command's own default field
    of view); pass it to :func:`resolve_fov`.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = {name: kwargs.pop(name) for name in FOV_OPTION_NAMES}
        if request["fov_from"] is None:
            if request["probe"] != "curvilinear":
                raise EusaugError(f"--probe {request['probe']} only sets the depth of --fov-from frames: "
                                  "add --fov-from FRAMES, or give --depth-mm.")
            request.pop("probe")
        kwargs["fov_request"] = {k: v for k, v in request.items() if v is not None}
        return func(*args, **kwargs)

    options = [
        click.option("--fov", "fov_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
                     help="Field of view from a JSON file: a poses file, a synth settings.json, or FieldOfView fields."),
        click.option("--fov-from", "fov_from", type=click.Path(path_type=Path, file_okay=False), default=None,
                     help="Fit the field of view to a folder of real frames (fan shape, placement, frame size)."),
        click.option("--probe", type=click.Choice(sorted(PROBE_DEPTH_MM)), default="curvilinear", show_default=True,
                     help="Probe type of --fov-from frames; sets the depth when --depth-mm is not given "
                          "(" + ", ".join(f"{k}: {v:g} mm" for k, v in PROBE_DEPTH_MM.items()) + ")."),
        click.option("--depth-mm", type=float, default=None,
                     help="Imaging depth below the array face, mm (with --fov-from: the frames' depth, which sets "
                          "the pixel size)."),
        click.option("--sector-deg", type=float, default=None, help="Opening angle of the fan, degrees."),
        click.option("--probe-radius-mm", type=float, default=None, help="Radius of the convex array, mm."),
        click.option("--fov-size", "image_size", default=None, metavar="HxW",
                     help="Grid the planes are cut on, e.g. 480x640 or 256 (a fitted frame is resampled)."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def resolve_fov(fov_request: dict[str, Any], base: FieldOfView | None = None) -> FieldOfView | None:
    """The field of view the options ask for on top of ``base``; None when no option was given."""
    if not fov_request:
        return None
    return resolve_field_of_view(base, **fov_request)


def set_quiet(quiet: bool) -> None:
    progress.set_quiet(quiet)
