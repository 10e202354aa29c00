"""``eusaug models``: the trained models ``eusaug synth`` can find by landmark."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from eusaug.io.progress import console
from eusaug.translate.model_store import forget_model, list_models, store_path


@click.command("models")
@click.option("--forget", type=click.Path(path_type=Path), default=None,
              help="Remove this run folder from the store (its files stay).")
def models_command(forget: Path | None) -> None:
    """List registered models (newest last); --forget RUN removes one."""
    out = console(stderr=False)
    if forget is not None:
        count = forget_model(forget)
        out.print(f"forgot {count} entr{'y' if count == 1 else 'ies'} for {forget}")
        return
    entries = list_models()
    if not entries:
        out.print(f"No models registered in {store_path()}: train one with eusaug train ... -o RUN.")
        return
    table = Table(title=f"models ({store_path()})")
    for column in ("landmark", "translator", "path", "created", "summary"):
        table.add_column(column)
    for e in entries:
        path = e.path if e.exists else f"[yellow]{e.path} (missing)[/yellow]"
        table.add_row(e.landmark, e.translator, path, e.created, e.summary)
    out.print(table)
