"""``eusaug plugins``: what is installed, by kind."""

from __future__ import annotations

import click
from rich.table import Table

from eusaug.io.progress import console
from eusaug.plugin.interfaces import KINDS
from eusaug.plugin.registry import Registry


@click.command("plugins")
def plugins_command() -> None:
    """List installed pose samplers, slicers, translators and evaluators."""
    registry = Registry()
    table = Table(title="eusaug plugins", show_lines=False)
    for column in ("kind", "name", "package", "version", "description"):
        table.add_column(column)
    for kind in KINDS:
        rows = registry.plugins(kind)
        if not rows:
            table.add_row(kind, "[dim](none installed)[/dim]", "", "", "")
        for row in rows:
            if row.error:
                table.add_row(kind, f"[yellow]{row.name}[/yellow]", row.package, row.version,
                              f"[yellow]warning: failed to load: {row.error}[/yellow]")
            else:
                table.add_row(kind, row.name, row.package, row.version, row.description)
        table.add_section()
    for row in registry.broken():
        if row.kind == "?":
            table.add_row("[yellow]?[/yellow]", f"[yellow]{row.name}[/yellow]", row.package, row.version,
                          f"[yellow]warning: failed to load: {row.error}[/yellow]")
    console(stderr=False).print(table)
