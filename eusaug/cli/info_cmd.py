"""``eusaug info``: what a CT case holds."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from eusaug.cli.base import ct_options, resolve_ct_paths
from eusaug.ct.describe import summarise_case
from eusaug.ct.preset_check import AUTO
from eusaug.ct.volume import load_case
from eusaug.io.progress import console


@click.command("info")
@ct_options(required=False, ct_help="CT volume (NIfTI .nii/.nii.gz). Default: the CT of --poses, else the "
                                    "embedded sample CT.")
@click.option("--poses", "poses_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Describe the CT this poses file was made from (when --ct is left out).")
def info_command(ct: Path | None, labels: Path | None, label_preset: str, poses_path: Path | None) -> None:
    """Print shape, spacing, orientation, HU range, organ volumes and which label preset fits."""
    ct, labels = resolve_ct_paths(ct, labels, poses_path)
    # info reports an implausible preset instead of stopping: it is where users look to find out.
    summary = summarise_case(load_case(ct, labels, label_preset, force=True))
    out = console(stderr=False)
    preset_line, *warnings = summary.preset_lines(auto=label_preset.strip().lower() == AUTO)
    out.print(f"[bold]CT[/bold]           {summary.ct_path}")
    out.print(f"[bold]labels[/bold]       {summary.labels_path}")
    out.print(f"[bold]label preset[/bold] {preset_line}", highlight=False)
    out.print(f"[bold]shape[/bold]        {' x '.join(map(str, summary.shape))} voxels")
    out.print(f"[bold]spacing[/bold]      {' x '.join(f'{s:.3g}' for s in summary.spacing_mm)} mm")
    out.print(f"[bold]orientation[/bold]  {summary.orientation} on disk (loaded as RAS+)")
    out.print(f"[bold]HU range[/bold]     {summary.hu_min:.0f} .. {summary.hu_max:.0f}")
    table = Table(title="Organs present")
    table.add_column("organ")
    table.add_column("label", justify="right")
    table.add_column("voxels", justify="right")
    table.add_column("volume (ml)", justify="right")
    for organ in summary.organs:
        table.add_row(organ.name, str(organ.label_id), str(organ.voxels), f"{organ.volume_ml:.1f}")
    out.print(table)
    for warning in warnings:
        out.print(f"[yellow]Warning: {warning}[/yellow]")
    if summary.unnamed_label_ids:
        out.print(f"[yellow]Label ids not in preset {summary.label_preset}: {summary.unnamed_label_ids}[/yellow]")
