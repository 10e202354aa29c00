"""``eusaug demo``: the whole chain on the embedded sample, ending in report.html."""

from __future__ import annotations

from pathlib import Path

import click

from eusaug.pipeline.demo import DEMO_PRESETS, run_demo


@click.command("demo")
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), default=Path("demo-out"),
              show_default=True, help="Folder for every stage's outputs and report.html.")
@click.option("--eus", "eus_dir", type=click.Path(path_type=Path), default=None,
              help="Real EUS frames in class sub-folders (aorta/, liver/, pancreas/). "
                   "Default: frames simulated by raysim from other poses.")
@click.option("--minutes", type=float, default=None,
              help="Wall-clock budget; CycleGAN training gets what the other stages leave. Default: 8.")
@click.option("--preset", type=click.Choice(sorted(DEMO_PRESETS)), default="default", show_default=True,
              help="'tiny' runs the same chain in seconds, for a smoke check.")
@click.option("--redo", is_flag=True, help="Run every stage again instead of reusing finished ones.")
@click.option("--keep-checkpoints", is_flag=True,
              help="Keep the classifiers' .keras models (about 170 MB each) and the CycleGANs' resume checkpoints.")
def demo_command(output_dir: Path, eus_dir: Path | None, minutes: float | None, preset: str, redo: bool,
                 keep_checkpoints: bool) -> None:
    """Run sampling, slicing, raysim + CycleGAN translation, mixing and evaluation on the sample CT."""
    run_demo(output_dir, eus_dir=eus_dir, preset=preset, minutes=minutes, redo=redo,
             keep_checkpoints=keep_checkpoints)
