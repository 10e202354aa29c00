"""``eusaug mix``: put synthetic images into a labelled training set at a synthetic ratio."""

from __future__ import annotations

import warnings
from pathlib import Path

import click
from rich.table import Table

from eusaug.errors import EusaugError
from eusaug.io.progress import console
from eusaug.mix.labelled_sets import LabelledSetWarning
from eusaug.mix.ratios import Ratio, check_ratios
from eusaug.mix.write import ClassCount, mix_folders, mix_sweep, summarise


def parse_ratios(text: str) -> tuple[Ratio, ...]:
    """``"0,0.25,0.5"`` -> checked :class:`Ratio` s, built once here and trusted by the library."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise EusaugError(f"--ratios {text!r} lists no ratio: give e.g. 0,0.25,0.5,0.75.")
    return check_ratios(parts)


@click.command("mix")
@click.option("--real", type=click.Path(path_type=Path), required=True,
              help="Real labelled set: a folder with one sub-folder per class, or a CSV of path,class.")
@click.option("--synthetic", type=click.Path(path_type=Path), required=True,
              help="Synthetic labelled set, same layout and class names as --real.")
@click.option("--ratio", type=str, default=None, help="Synthetic share of each class, in [0, 1), e.g. 0.5.")
@click.option("--ratios", type=str, default=None,
              help="Several ratios, e.g. 0,0.25,0.5,0.75 (the paper's): one sub-folder ratio_<r> each.")
@click.option("--mode", type=click.Choice(["replace", "add"]), default="replace", show_default=True,
              help="replace: keep class sizes; add: keep every real image and add synthetic ones.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draws.")
@click.option("--link/--copy", default=True, show_default=True,
              help="Relative symlinks to the chosen images (the set moves with its inputs), or real copies "
                   "(the set travels alone).")
@click.option("--missing-class", type=click.Choice(["warn", "error"]), default="warn", show_default=True,
              help="A class on one side only: warn (real-only class kept all real) or error.")
@click.option("--force", is_flag=True, help="Replace a non-empty OUT (only once the new one is complete).")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), required=True,
              help="Output folder: one folder per class, manifest.csv, metadata.csv (Hugging Face imagefolder) "
                   "and mix.json.")
def mix_command(real: Path, synthetic: Path, ratio: str | None, ratios: str | None, mode: str, seed: int,
                link: bool, missing_class: str, force: bool, output: Path) -> None:
    """Mix synthetic images into a real labelled set at a synthetic ratio, class by class."""
    if (ratio is None) == (ratios is None):
        raise EusaugError("Give either --ratio (e.g. 0.5) or --ratios (e.g. 0,0.25,0.5,0.75), not both or neither.")
    out = console(stderr=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabelledSetWarning)
        if ratio is not None:
            value = Ratio(ratio)
            rows = mix_folders(real, synthetic, value, output, mode=mode, seed=seed, link=link,  # type: ignore[arg-type]
                               force=force, missing_class=missing_class)  # type: ignore[arg-type]
            counts = summarise(rows, value)
        else:
            sweep = mix_sweep(real, synthetic, parse_ratios(ratios or ""), output, mode=mode,  # type: ignore[arg-type]
                              seed=seed, link=link, force=force, missing_class=missing_class)  # type: ignore[arg-type]
            counts = [c for r, rows in sweep.items() for c in summarise(rows, r)]
    for warning in caught:
        if issubclass(warning.category, LabelledSetWarning):
            console().print(f"[yellow]Warning: {warning.message}[/yellow]")
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    out.print(_table(counts, mode, seed, link))
    total_syn = sum(c.synthetic for c in counts)
    total = sum(c.total for c in counts)
    out.print(f"Wrote {output} ({total} images, {total_syn} synthetic; manifest.csv, metadata.csv and mix.json "
              f"{'in each ratio_<r> folder' if ratios else 'beside the class folders'}).")


def _table(counts: list[ClassCount], mode: str, seed: int, link: bool) -> Table:
    table = Table(title=f"Mixed set ({mode}, seed {seed}, {'symlinks' if link else 'copies'})")
    for name, justify in (("ratio", "right"), ("class", "left"), ("real", "right"),
                          ("synthetic", "right"), ("total", "right"), ("synthetic %", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in counts:
        table.add_row(f"{c.ratio:g}", c.class_name, str(c.real), str(c.synthetic), str(c.total),
                      f"{100 * c.synthetic_fraction:.1f}")
    return table
