"""What every command shares: clean one-line errors, --debug, --quiet, and common options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from eusaug.ct import ACCEPT_LABELS_FLAG
from eusaug.errors import EusaugError, missing_extra_message
from eusaug.geometry import PROBE_DEPTH_MM, FieldOfView, resolve_field_of_view
from eusaug.io import progress

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2


class EusaugGroup(click.Group):
    """A click group that turns :class:`EusaugError` into one line on stderr and exit code 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands in the order they were added: the order of the pipeline."""
        return list(self.commands)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Accept the group's own flags after the subcommand too (``eusaug synth ... -q``)."""
        return super().parse_args(ctx, hoist_global_flags(args, self.commands))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EusaugError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.secho(f"Error: {exc}", fg="red", err=True)
            sys.exit(EXIT_USER_ERROR)
        except ImportError as exc:
            message = missing_extra_message(exc)
            if message is None or (ctx.obj or {}).get("debug"):
                raise
            click.secho(f"Error: {message}", fg="red", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.secho("Interrupted: nothing half-written was kept.", fg="yellow", err=True)
            sys.exit(130)


#: Flags of the ``eusaug`` group that may also be written after the subcommand.
GLOBAL_FLAGS = ("-q", "--quiet", "--debug")


def hoist_global_flags(args: list[str], commands: Any) -> list[str]:
    """``args`` with :data:`GLOBAL_FLAGS` met after the subcommand moved in front of it.

    Nothing after a ``--`` moves, nor anything before the subcommand; no subcommand uses
    these spellings for an option of its own.
    """
    names = set(commands)
    position = next((i for i, arg in enumerate(args) if arg in names), None)
    if position is None:
        return list(args)
    head, tail = list(args[:position]), list(args[position:])
    end = tail.index("--") if "--" in tail else len(tail)
    hoisted = [arg for arg in tail[:end] if arg in GLOBAL_FLAGS]
    kept = [arg for arg in tail[:end] if arg not in GLOBAL_FLAGS] + tail[end:]
    return head + hoisted + kept


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


def note(message: str) -> None:
    """A one-line note on stderr: what the command chose on the user's behalf."""
    click.secho(f"Note: {message}", fg="yellow", err=True)


def resolve_ct_paths(ct: Path | None, labels: Path | None, poses: Path | None = None) -> tuple[Path, Path | None]:
    """The CT to read: ``ct``; else the one ``poses`` was made from; else the embedded sample.

    Either fallback is said in a note, so that no command silently reads another CT than
    the user meant.
    """
    if ct is not None:
        return ct, labels
    if poses is not None:
        return _ct_of_poses(poses, labels)
    from eusaug.ct.sample_case import sample_ct_path, sample_labels_path

    note(f"no --ct given: using the embedded sample CT ({sample_ct_path().name}); pass --ct for your own.")
    return sample_ct_path(), labels or sample_labels_path()


def _ct_of_poses(poses: Path, labels: Path | None) -> tuple[Path, Path | None]:
    from eusaug.poses.sampling import load_poses

    pose_set = load_poses(poses)
    if not pose_set.ct_path:
        raise EusaugError(f"Poses file {poses} does not name the CT it was made from: pass --ct.")

    def found(recorded: str) -> Path | None:
        for candidate in (Path(recorded), poses.parent / recorded):
            if candidate.exists():
                return candidate
        return None

    ct = found(pose_set.ct_path)
    if ct is None:
        raise EusaugError(f"Poses file {poses} was made from CT {pose_set.ct_path}, which is not there: "
                          "pass --ct (and --labels) with that CT.")
    if labels is None and pose_set.labels_path:
        labels = found(pose_set.labels_path)
    note(f"no --ct given: using {ct}, the CT poses file {poses.name} was made from.")
    return ct, labels


T = TypeVar("T")


def accept_labels_option(func: F) -> F:
    """``--accept-implausible-labels``: skip the label preset's plausibility check (was part of --force)."""
    return click.option(ACCEPT_LABELS_FLAG, "accept_labels", is_flag=True,
                        help="Use a label map whose organs look implausible for the preset (volumes, HU).")(func)


def with_deprecated_force(action: Callable[[bool], T], accept: bool, force: bool, flag: str) -> T:
    """``action(accept)``; when it is refused with a message naming ``flag`` and the old ``--force``
    was given, accept with a deprecation note.

    ``--force`` used to mean both "overwrite my outputs" and "skip the check": for one
    release the second meaning keeps working, said out loud.
    """
    if accept or not force:
        return action(accept)
    try:
        return action(False)
    except EusaugError as exc:
        if flag not in str(exc):
            raise
    note(f"--force to skip this check is deprecated (from the next release it only replaces outputs): pass {flag}.")
    return action(True)


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
