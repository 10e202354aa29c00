"""``eusaug train``: train a translator (the CycleGAN by default) for one landmark.

The training options are the translator's own: a trainable translator declares its
config dataclass (``training_config_class``), and this command adds one option per
field for the translator named by ``--translator`` (``eusaug train --translator NAME
--help`` lists them). ``--option FIELD=VALUE`` reaches the same fields, spelt as on every
command that runs a plugin; ``--set`` is its deprecated old name (one release).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import click

from eusaug.cli.base import fov_options, label_preset_option, resolve_fov
from eusaug.errors import EusaugError
from eusaug.io.progress import console
from eusaug.plugin.options import override_options, parse_assignments
from eusaug.plugin.registry import DEFAULT_TRANSLATOR, Registry


def _translator_named(args: list[str]) -> str:
    """The ``--translator`` value in raw arguments (the default when absent)."""
    for k, arg in enumerate(args):
        if arg == "--translator" and k + 1 < len(args):
            return args[k + 1]
        if arg.startswith("--translator="):
            return arg.split("=", 1)[1]
    return DEFAULT_TRANSLATOR


class TranslatorOptionsCommand(click.Command):
    """Adds the chosen translator's training options before parsing (and to --help)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not hasattr(self, "_own"):
            self._own = list(self.params)  # the command's own options, before any translator's
        own = self._own
        config_cls = None
        try:
            config_cls = getattr(Registry().translator(_translator_named(args)), "training_config_class", None)
        except EusaugError:
            pass  # an unknown translator is reported, with the list, when the command runs
        self.params = own + (override_options(config_cls) if config_cls is not None else [])
        ctx.meta["training_config_class"] = config_cls
        return super().parse_args(ctx, args)


@click.command("train", cls=TranslatorOptionsCommand)
@click.option("--ct", "ct", type=click.Path(path_type=Path), multiple=True, required=True,
              help="CT volume (NIfTI); repeat for several volumes.")
@click.option("--labels", type=click.Path(path_type=Path), multiple=True,
              help="Label map (or segmentations/ folder) of each --ct, in order. Default: found beside each CT.")
@label_preset_option
@click.option("--poses", type=click.Path(path_type=Path), multiple=True, required=True,
              help="Poses file of each --ct, in order (from eusaug poses).")
@click.option("--eus", "eus_dir", type=click.Path(path_type=Path), required=True,
              help="Folder of real EUS frames (PNG/JPEG, any size, grey or RGB).")
@click.option("--landmark", required=True, help="The landmark this model is for (liver, aorta, pancreas, ...).")
@click.option("--output", "-o", "run_dir", type=click.Path(path_type=Path), required=True,
              help="Run folder; an existing run there is resumed.")
@click.option("--translator", default=DEFAULT_TRANSLATOR, show_default=True,
              help="Trainable translator plugin; its own training options follow below.")
@click.option("--preset", default=None, help="Translator preset (cyclegan: fast or paper). Default: fast, "
              "or the run's own when resuming.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Any training option by its field name, e.g. --option cycle_weight=5 (repeatable).")
@click.option("--set", "settings", multiple=True, metavar="FIELD=VALUE",
              help="Deprecated: the old name of --option.")
@click.option("--resume", is_flag=True, help="Require an existing run in -o and continue it.")
@click.option("--force", is_flag=True, help="Delete the run in -o and start over.")
@click.option("--stop-after", type=int, default=None, help="Train at most this many epochs now; resume later.")
@click.option("--calibrate-from", "calibrate_from", type=click.Path(path_type=Path, file_okay=False), default=None,
              metavar="FRAMES",
              help="hybrid: fit raysim to these real frames first (default: the --eus frames, less the validation "
                   "subject's; --option raysim_calibration=none: no fit) and train on calibrated raysim images; the "
                   "run keeps the calibration (raysim_calibration.json) and synth uses it. A resumed run keeps its own.")
@fov_options
@click.pass_context
def train_command(ctx: click.Context, ct: tuple[Path, ...], labels: tuple[Path, ...], label_preset: str,
                  poses: tuple[Path, ...], eus_dir: Path, landmark: str, run_dir: Path, translator: str,
                  preset: str | None, options: tuple[str, ...], settings: tuple[str, ...], resume: bool, force: bool,
                  stop_after: int | None, calibrate_from: Path | None,
                  fov_request: dict[str, Any], **training: Any) -> None:
    """Train a CT -> EUS translator for one landmark; writes and registers a run folder."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    from eusaug.translate.model_store import store_path
    from eusaug.translate.train import train_translator

    if resume and force:
        raise EusaugError("--resume and --force contradict each other: pass one of them.")
    if stop_after is not None and stop_after < 1:
        raise EusaugError(f"--stop-after {stop_after}: must be at least 1.")
    if settings:
        warnings.warn("eusaug train --set is deprecated and goes in the next release: write --option KEY=VALUE "
                      "(as on eusaug synth, poses, slice and evaluate).", DeprecationWarning, stacklevel=1)
    overrides = parse_assignments([*settings, *options], ctx.meta.get("training_config_class"))
    overrides.update({k: v for k, v in training.items() if v is not None})
    model = train_translator(
        run_dir, ct, poses, eus_dir, landmark, labels=labels or None, translator=translator,
        label_preset=label_preset, preset=preset, overrides=overrides, resume=resume, force=force,
        stop_after=stop_after, fov=resolve_fov(fov_request), calibrate_from=calibrate_from,
    )
    out = console(stderr=False)
    out.print(f"model: {model}")
    out.print(f"losses: {run_dir / 'losses.csv'}")
    out.print(f"registered for {landmark} in {store_path()}")
