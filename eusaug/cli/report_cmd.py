"""``eusaug report RUN_DIR``: the HTML report of a train, synth or pipeline run folder."""

from __future__ import annotations

from pathlib import Path

import click

from eusaug.io.progress import console
from eusaug.pipeline.folder_report import write_folder_report


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the page [default: RUN_DIR/report.html].")
@click.option("--force", is_flag=True, help="Replace an existing report file.")
def report_command(run_dir: Path, output: Path | None, force: bool) -> None:
    """Write the self-contained HTML report of RUN_DIR (a train, synth or demo/reproduce run folder)."""
    path = write_folder_report(run_dir, output, force=force)
    console(stderr=False).print(f"report: {path}", soft_wrap=True, highlight=False)
