"""``eusaug poses``: probe poses on the stomach wall that view a landmark, saved as JSON."""

from __future__ import annotations

import dataclasses
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
from eusaug.ct.volume import BONE_RULES, BoneRule, load_case
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView
from eusaug.geometry.planes import SliceFilter
from eusaug.io.images import list_images
from eusaug.io.progress import console
from eusaug.plugin.options import plugin_options
from eusaug.plugin.registry import DEFAULT_SAMPLER, Registry
from eusaug.poses.calibration import (
    calibration_path_for,
    calibration_planes,
    fit_calibration,
    write_pose_calibration,
)
from eusaug.poses.sampling import sample_poses, save_poses


def refuse_existing(path: Path | None, force: bool, flag: str) -> None:
    """Stop before any work when an output exists and ``--force`` was not given."""
    if path is not None and path.exists() and not force:
        raise EusaugError(f"{path} already exists: pass --force to replace it, or choose another {flag}.")


@click.command("poses")
@ct_options(required=False)
@click.option("--landmark", required=True, help="What the probe must see: aorta, liver, pancreas, ...")
@click.option("-n", "--n-poses", "n", type=click.IntRange(min=1), default=50, show_default=True, help="Poses to find.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same poses).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Poses file to write (JSON).")
@click.option("--cone-deg", type=float, default=30.0, show_default=True,
              help="Half-angle of the cone of beam directions around the stomach-wall normal.")
@click.option("--roll-deg", type=(float, float), default=(-180.0, 180.0), show_default=True,
              help="Range of rotation about the beam (MIN MAX); 0 puts image columns head-ward.")
@click.option("--max-draws", type=click.IntRange(min=1), default=None,
              help="Candidate poses to try before giving up. Default: 200 per pose, at least 2000.")
@click.option("--min-landmark-px", type=click.IntRange(min=0), default=SliceFilter.min_landmark_px,
              show_default=True, help="Keep views with more landmark pixels than this (on 256x256).")
@click.option("--max-bone-px", type=click.IntRange(min=1), default=SliceFilter.max_bone_px,
              show_default=True, help="Keep views with fewer bone pixels than this (on 256x256).")
@click.option("--bone-rule", type=click.Choice(BONE_RULES), default=SliceFilter.bone_rule, show_default=True,
              help="What counts as bone: hu (the paper's: pixels above --bone-hu), labels (the preset's bone "
                   "labels), either.")
@click.option("--bone-hu", type=float, default=SliceFilter.bone_hu, show_default=True,
              help="HU above which a pixel is bone (rules hu and either).")
@click.option("--sampler", default=DEFAULT_SAMPLER, show_default=True, help="Pose sampler plugin.")
@click.option("--plot", type=click.Path(path_type=Path), default=None,
              help="Also write a Fig. 2-style PNG: stomach surface, probe positions and beams.")
@fov_options
@click.option("--force", is_flag=True, help="Replace existing output files.")
@accept_labels_option
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the sampler, e.g. --option threshold_hu=-400 for skin-surface (repeatable).")
@click.option("--calibrate-from", "calibrate_from", type=click.Path(path_type=Path, file_okay=False), default=None,
              metavar="FRAMES",
              help="Also fit raysim to these real frames: writes OUTPUT_STEM.calibration.json beside the poses "
                   "file and records it there; synth --poses uses it for raysim.")
def poses_command(
    ct: Path | None,
    labels: Path | None,
    label_preset: str,
    landmark: str,
    n: int,
    seed: int,
    output: Path,
    cone_deg: float,
    roll_deg: tuple[float, float],
    max_draws: int | None,
    min_landmark_px: int,
    max_bone_px: int,
    bone_rule: BoneRule,
    bone_hu: float,
    sampler: str,
    plot: Path | None,
    force: bool,
    accept_labels: bool,
    options: tuple[str, ...],
    fov_request: dict[str, object],
    calibrate_from: Path | None = None,
) -> None:
    """Find N probe poses that view LANDMARK (on the stomach wall by default), and save them."""
    refuse_existing(output, force, "-o")
    refuse_existing(plot, force, "--plot")
    if calibrate_from is not None:
        refuse_existing(calibration_path_for(output), force, "-o")
    fov = resolve_fov(fov_request) or FieldOfView()  # option mistakes first, before any CT note or load
    ct, labels = resolve_ct_paths(ct, labels)
    case = with_deprecated_force(
        lambda accept: load_case(ct, labels, label_preset, organs=[landmark], force=accept),
        accept_labels, force, ACCEPT_LABELS_FLAG,
    )
    if calibrate_from is not None:
        list_images(calibrate_from)  # an empty or missing folder stops the command before the sampling
    slice_filter = SliceFilter(min_landmark_px=min_landmark_px, max_bone_px=max_bone_px, bone_hu=bone_hu,
                               bone_rule=bone_rule)
    pose_set = sample_poses(
        case, landmark, n, seed=seed, fov=fov, cone_deg=cone_deg, slice_filter=slice_filter,
        sampler=sampler, max_draws=max_draws, roll_range_deg=roll_deg,
        sampler_options=plugin_options(options, Registry().sampler(sampler)),
    )
    out = console(stderr=False)
    if calibrate_from is not None:
        # Fitted on the planes of the first poses: the anatomy raysim will render.
        planes = calibration_planes(case, pose_set.poses, pose_set.fov)
        written = write_pose_calibration(output, fit_calibration(calibrate_from, planes=planes))
        pose_set = dataclasses.replace(pose_set, raysim_calibration=written.name)
        out.print(f"Wrote the raysim calibration fitted on {calibrate_from} to {written}")
    save_poses(output, pose_set)
    out.print(f"Wrote {len(pose_set)} {pose_set.landmark} poses to {output}")
    if plot is not None:
        from eusaug.poses.plot import plot_pose_sets

        plot_pose_sets(case, pose_set, plot)
        out.print(f"Wrote the pose plot to {plot}")
