"""``eusaug train``: train a translator (the CycleGAN by default) for one landmark."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from eusaug.cli.base import fov_options, resolve_fov
from eusaug.errors import EusaugError
from eusaug.io.progress import console
from eusaug.plugin.registry import DEFAULT_TRANSLATOR


def parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    """``("ngf=32", "denoiser=false")`` -> ``{"ngf": 32, "denoiser": False}`` (JSON values, else text)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise EusaugError(f"--set {item!r} must look like FIELD=VALUE, e.g. --set ngf=32.")
        name, raw = (part.strip() for part in item.split("=", 1))
        if raw.lower() in ("none", "null"):
            out[name] = None
            continue
        try:
            out[name] = json.loads(raw.lower() if raw.lower() in ("true", "false") else raw)
        except json.JSONDecodeError:
            out[name] = raw
    return out


@click.command("train")
@click.option("--ct", "ct", type=click.Path(path_type=Path), multiple=True, required=True,
              help="CT volume (NIfTI); repeat for several volumes.")
@click.option("--labels", type=click.Path(path_type=Path), multiple=True,
              help="Label map of each --ct, in order. Default: found beside each CT.")
@click.option("--label-preset", default="totalsegmentator", show_default=True,
              help="Label preset: totalsegmentator, btcv, or a JSON file mapping names to ids.")
@click.option("--poses", type=click.Path(path_type=Path), multiple=True, required=True,
              help="Poses file of each --ct, in order (from eusaug poses).")
@click.option("--eus", "eus_dir", type=click.Path(path_type=Path), required=True,
              help="Folder of real EUS frames (PNG/JPEG, any size, grey or RGB).")
@click.option("--landmark", required=True, help="The landmark this model is for (liver, aorta, pancreas, ...).")
@click.option("--output", "-o", "run_dir", type=click.Path(path_type=Path), required=True,
              help="Run folder; an existing run there is resumed.")
@click.option("--translator", default=DEFAULT_TRANSLATOR, show_default=True, help="Trainable translator plugin.")
@click.option("--preset", default=None, help="Translator preset (cyclegan: fast or paper). Default: fast, "
              "or the run's own when resuming.")
@click.option("--epochs", type=int, default=None, help="Epochs in total (a resumed run may extend it).")
@click.option("--image-size", "image_size_px", type=int, default=None, help="Training image size in px.")
@click.option("--ngf", type=int, default=None, help="Generator width (filters of the first layer).")
@click.option("--blocks", "n_blocks", type=int, default=None, help="Residual blocks in each generator.")
@click.option("--batch-size", type=int, default=None, help="Images per step (the paper: 1).")
@click.option("--lr", "learning_rate", type=float, default=None, help="Adam learning rate.")
@click.option("--seed", type=int, default=None, help="Seed of everything random in the run.")
@click.option("--no-denoiser", is_flag=True, help="Train without the denoisers before the discriminators.")
@click.option("--precision", type=click.Choice(["bf16", "fp32"]), default=None,
              help="bf16: mixed bfloat16 with float32 losses; fp32: plain float32.")
@click.option("--set", "settings", multiple=True, metavar="FIELD=VALUE",
              help="Any other config field, e.g. --set cycle_weight=5 (repeatable).")
@click.option("--resume", is_flag=True, help="Require an existing run in -o and continue it.")
@click.option("--force", is_flag=True, help="Delete the run in -o and start over.")
@click.option("--stop-after", type=int, default=None, help="Train at most this many epochs now; resume later.")
@fov_options
def train_command(ct: tuple[Path, ...], labels: tuple[Path, ...], label_preset: str, poses: tuple[Path, ...],
                  eus_dir: Path, landmark: str, run_dir: Path, translator: str, preset: str | None,
                  epochs: int | None, image_size_px: int | None, ngf: int | None, n_blocks: int | None,
                  batch_size: int | None, learning_rate: float | None, seed: int | None, no_denoiser: bool,
                  precision: str | None, settings: tuple[str, ...], resume: bool, force: bool,
                  stop_after: int | None, fov_request: dict[str, Any]) -> None:
    """Train a CT -> EUS translator for one landmark; writes and registers a run folder."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    from eusaug.translate.model_store import store_path
    from eusaug.translate.train import train_translator

    if resume and force:
        raise EusaugError("--resume and --force contradict each other: pass one of them.")
    if stop_after is not None and stop_after < 1:
        raise EusaugError(f"--stop-after {stop_after}: must be at least 1.")
    overrides = parse_set(settings)
    overrides.update({k: v for k, v in {
        "epochs": epochs, "image_size_px": image_size_px, "ngf": ngf, "n_blocks": n_blocks,
        "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed, "precision": precision,
        "denoiser": False if no_denoiser else None,
    }.items() if v is not None})
    model = train_translator(
        run_dir, ct, poses, eus_dir, landmark, labels=labels or None, translator=translator,
        label_preset=label_preset, preset=preset, overrides=overrides, resume=resume, force=force,
        stop_after=stop_after, fov=resolve_fov(fov_request),
    )
    out = console(stderr=False)
    out.print(f"model: {model}")
    out.print(f"losses: {run_dir / 'losses.csv'}")
    out.print(f"registered for {landmark} in {store_path()}")
