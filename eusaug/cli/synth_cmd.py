"""``eusaug synth``: synthetic EUS images of a landmark from a CT."""

from __future__ import annotations

import os
from pathlib import Path

import click

from eusaug.cli.base import ct_options, fov_options, resolve_fov
from eusaug.io.progress import console
from eusaug.plugin.registry import DEFAULT_TRANSLATOR


@click.command("synth")
@ct_options(required=True)
@click.option("--landmark", required=True, help="Landmark to image (liver, aorta, pancreas, ...).")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Trained model (a run folder). Default: the newest in the model store for the landmark.")
@click.option("--poses", type=click.Path(path_type=Path), default=None,
              help="Use the first N poses of this file instead of sampling new ones.")
@click.option("--translator", default=DEFAULT_TRANSLATOR, show_default=True, help="Translator plugin (eusaug plugins).")
@click.option("-n", "n", type=int, default=16, show_default=True, help="Number of images.")
@click.option("--output", "-o", "output_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder. Default: seus-LANDMARK in the current folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for pose sampling and the translator.")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Planes translated at once.")
@fov_options
@click.option("--force", is_flag=True,
              help="Replace a non-empty output folder; use a label map whose organs look implausible for the preset.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the translator, e.g. --option frequency_mhz=3.5 for raysim (repeatable).")
def synth_command(ct: Path, labels: Path | None, label_preset: str, landmark: str, model: Path | None,
                  poses: Path | None, translator: str, n: int, output_dir: Path | None, seed: int,
                  batch_size: int, force: bool, options: tuple[str, ...], fov_request: dict[str, object]) -> None:
    """Write N sEUS PNGs, their label planes and manifest.csv."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    from eusaug.plugin import Registry, plugin_options
    from eusaug.translate.synth import synthesize

    registry = Registry()
    translator_options = plugin_options(options, registry.translator(translator))
    output_dir = output_dir or Path(f"seus-{landmark}")
    rows = synthesize(ct, landmark, n, output_dir, labels=labels, model=model, poses=poses, translator=translator,
                      label_preset=label_preset, seed=seed, batch_size=batch_size, force=force, registry=registry,
                      translator_options=translator_options, fov=resolve_fov(fov_request))
    console(stderr=False).print(f"wrote {len(rows)} sEUS images, label planes and manifest.csv to {output_dir}")
