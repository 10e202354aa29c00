"""``eusaug reproduce``: the paper's protocol on your CT volumes and EUS frames."""

from __future__ import annotations

from pathlib import Path

import click

from eusaug.pipeline.reproduce import REPRODUCE_PRESETS, run_reproduce


@click.command("reproduce")
@click.option("--ct-dir", type=click.Path(path_type=Path), required=True,
              help="Folder of CT volumes with their label maps (NAME_labels.nii.gz, BTCV img/ + label/, nnU-Net "
                   "imagesTr/ + labelsTr/, or TotalSegmentator ct.nii.gz + segmentations/).")
@click.option("--eus-dir", type=click.Path(path_type=Path), required=True,
              help="Real EUS frames, one sub-folder per landmark (aorta/, liver/, pancreas/; optional background/).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="YAML/JSON settings on top of the preset (see docs/demo-and-reproduce.md; the paper's "
                   "values: docs/paper-preset.md).")
@click.option("--preset", type=click.Choice(sorted(REPRODUCE_PRESETS)), default="paper", show_default=True,
              help="'paper' is the paper's setting (GPU); 'fast' checks a set-up in minutes on a CPU.")
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), required=True,
              help="Run folder; rerunning into it skips finished stages.")
@click.option("--label-preset", default=None,
              help="Label preset of the CTs (auto, totalsegmentator, btcv or a JSON file). Default: the config's, else auto.")
@click.option("--redo", is_flag=True, help="Run every stage again instead of reusing finished ones.")
@click.option("--keep-checkpoints", is_flag=True,
              help="Keep the classifiers' .keras models after Grad-CAM and the translators' resume checkpoints "
                   "once the run has finished.")
def reproduce_command(ct_dir: Path, eus_dir: Path, config_file: Path | None, preset: str, output_dir: Path,
                      label_preset: str | None, redo: bool, keep_checkpoints: bool) -> None:
    """Train one CycleGAN per landmark, synthesise, sweep the ratios, and evaluate as the paper did."""
    overrides: dict[str, object] = {} if label_preset is None else {"label_preset": label_preset}
    if keep_checkpoints:
        overrides["keep_checkpoints"] = True
    run_reproduce(ct_dir, eus_dir, output_dir, config=config_file, preset=preset, redo=redo, **overrides)
