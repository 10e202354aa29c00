"""``eusaug slice``: the CT planes of a poses file as PNG images, label PNGs and a manifest."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import click

from eusaug.cli.base import (
    accept_labels_option,
    ct_options,
    fov_options,
    resolve_ct_paths,
    resolve_fov,
    with_deprecated_force,
)
from eusaug.ct import ACCEPT_LABELS_FLAG
from eusaug.ct.volume import load_case
from eusaug.geometry.planes import KEPT, HUWindow
from eusaug.io.progress import console
from eusaug.plugin.options import plugin_options
from eusaug.plugin.registry import DEFAULT_SLICER, Registry
from eusaug.poses.export import export_slices
from eusaug.poses.sampling import load_poses


@click.command("slice")
@ct_options(required=False, ct_help="CT volume (NIfTI .nii/.nii.gz). Default: the CT the poses file was made from.")
@click.option("--poses", "poses_path", type=click.Path(path_type=Path), required=True,
              help="Poses file written by `eusaug poses`.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--window-level", type=float, default=HUWindow.level, show_default=True, help="HU window centre.")
@click.option("--window-width", type=float, default=HUWindow.width, show_default=True, help="HU window width.")
@click.option("--slicer", default=DEFAULT_SLICER, show_default=True, help="Slicer plugin.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the slicer, e.g. --option workers=2 for plane (repeatable).")
@fov_options
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@accept_labels_option
@click.option("--accept-other-ct", "accept_other_ct", is_flag=True,
              help="Use a poses file made from another CT than --ct (with a warning).")
def slice_command(
    ct: Path | None,
    labels: Path | None,
    label_preset: str,
    poses_path: Path,
    output: Path,
    window_level: float,
    window_width: float,
    slicer: str,
    options: tuple[str, ...],
    force: bool,
    accept_labels: bool,
    accept_other_ct: bool,
    fov_request: dict[str, object],
) -> None:
    """Write one image PNG and one label PNG per kept pose, and manifest.csv.

    Planes are cut in the poses file's field of view unless a --fov option changes it.
    """
    registry = Registry()
    slicer_instance = registry.create_slicer(slicer, **plugin_options(options, registry.slicer(slicer)))
    ct, labels = resolve_ct_paths(ct, labels, poses_path)
    case = with_deprecated_force(lambda accept: load_case(ct, labels, label_preset, force=accept),
                                 accept_labels, force, ACCEPT_LABELS_FLAG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pose_set = with_deprecated_force(lambda accept: load_poses(poses_path, case, force=accept),
                                         accept_other_ct, force, "--accept-other-ct")
    for warning in caught:
        click.secho(f"Warning: {warning.message}", fg="yellow", err=True)
    fov = resolve_fov(fov_request, pose_set.fov)
    if fov is not None:  # the poses' own field of view, with what the options change
        pose_set = dataclasses.replace(pose_set, fov=fov)
    rows = export_slices(case, pose_set, output, force=force, window=HUWindow(window_level, window_width),
                         slicer=slicer_instance)
    kept = sum(row["status"] == KEPT for row in rows)
    console(stderr=False).print(f"Wrote {kept} of {len(rows)} slices to {output} (manifest.csv lists all)")
