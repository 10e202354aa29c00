"""The ``eusaug`` command line: thin glue over the library, one module per command."""

from __future__ import annotations

import logging
import os

import click

from eusaug.cli.base import EusaugGroup, set_quiet
from eusaug.cli.demo_cmd import demo_command
from eusaug.cli.evaluate_cmd import evaluate_command
from eusaug.cli.info_cmd import info_command
from eusaug.cli.mix_cmd import mix_command
from eusaug.cli.models_cmd import models_command
from eusaug.cli.plugins_cmd import plugins_command
from eusaug.cli.poses_cmd import poses_command
from eusaug.cli.report_cmd import report_command
from eusaug.cli.reproduce_cmd import reproduce_command
from eusaug.cli.slice_cmd import slice_command
from eusaug.cli.synth_cmd import synth_command
from eusaug.cli.train_cmd import train_command
from eusaug.io.quiet_tf import quiet_tensorflow_import
from eusaug.version import __version__


@click.group(cls=EusaugGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eusaug")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """Synthetic endoscopic ultrasound from CT, for augmenting classifier training."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    # TensorFlow's C++ start-up chatter (no CUDA driver, oneDNN notes) would bury the
    # command's own output; errors still arrive as Python exceptions. --debug shows it.
    if debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    else:
        quiet_tensorflow_import()
    # Retracing notes when a run trains one model per landmark are expected, not a problem.
    logging.getLogger("tensorflow").setLevel(logging.DEBUG if debug else logging.ERROR)
    set_quiet(quiet)


for command in (
    plugins_command,
    info_command,
    poses_command,
    slice_command,
    train_command,
    synth_command,
    models_command,
    mix_command,
    evaluate_command,
    demo_command,
    reproduce_command,
    report_command,
):
    main.add_command(command)
