"""``eusaug report RUN_DIR``: the HTML report of any run folder, not only of a whole pipeline run.

A run folder says what it is by the file its command leaves: ``run.json`` (``demo``,
``reproduce``), ``collection.json`` (``synth --ct-dir``), ``synth.json`` (``synth``), or
``config.json`` with ``losses.csv`` (``train``). Each kind gets the page a person checking
that run wants: the losses and the last samples of a training run, a contact sheet of a
synthetic set, the whole-protocol report of a pipeline run.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from eusaug.errors import EusaugError
from eusaug.io.html_report import Report
from eusaug.io.manifest import read_manifest
from eusaug.io.tables import read_csv_rows
from eusaug.pipeline.run_report import RUN_JSON, RunView, build_run_report, cyclegan_epochs

#: What ``eusaug report`` can describe.
FolderKind = Literal["pipeline", "collection", "synth", "train"]
#: How many synthetic images a contact sheet shows, and how many per row.
SHEET_IMAGES = 12
SHEET_COLUMNS = 4
#: How many of the last epochs the loss table lists (losses.csv keeps them all).
LAST_EPOCHS = 10

_MARKERS: tuple[tuple[FolderKind, tuple[str, ...]], ...] = (
    ("pipeline", (RUN_JSON,)),
    ("collection", ("collection.json",)),
    ("synth", ("synth.json",)),
    ("train", ("config.json", "losses.csv")),
)


def folder_kind(run_dir: str | os.PathLike[str]) -> FolderKind:
    """Which command wrote ``run_dir``, from the files it left there."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise EusaugError(f"Run folder {folder} does not exist: give the -o folder of a demo, reproduce, train "
                          "or synth run.")
    for kind, files in _MARKERS:
        if all((folder / name).is_file() for name in files):
            return kind
    raise EusaugError(f"{folder} holds no run.json, collection.json, synth.json or config.json with losses.csv: "
                      "give the -o folder of a demo, reproduce, train or synth run.")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EusaugError(f"{path} cannot be read ({exc}): it is damaged; rerun the command that wrote it.") from None
    if not isinstance(data, dict):
        raise EusaugError(f"{path} is not a JSON object: it is damaged; rerun the command that wrote it.")
    return data


def _settings(report: Report, data: dict[str, Any], caption: str) -> None:
    """Flat settings as a list; nested ones (a translator's config, the field of view) each get their own."""
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if flat:
        report.key_values(flat, caption=caption)
    for key, value in data.items():
        if isinstance(value, dict) and value:
            report.key_values(value, caption=key.replace("_", " ").capitalize())


def _contact_sheet(report: Report, folder: Path, files: list[str], caption: str) -> None:
    shown = [folder / f for f in files if (folder / f).is_file()][:SHEET_IMAGES]
    if not shown:
        report.note(f"No image of the manifest is in {folder}.", kind="warning", title="No images")
        return
    if len(shown) > SHEET_COLUMNS:
        shown = shown[:len(shown) - len(shown) % SHEET_COLUMNS]  # whole rows: no empty cells
    rows = [shown[k:k + SHEET_COLUMNS] for k in range(0, len(shown), SHEET_COLUMNS)]
    labels = [row[0].stem if len(row) == 1 else f"{row[0].stem}\u2013{row[-1].stem.rsplit('_', 1)[-1]}" for row in rows]
    report.image_grid(rows, row_labels=labels, caption=caption, cell_px=200)


def _synth_report(folder: Path, report: Report, title_prefix: str = "") -> None:
    settings = _read_json(folder / "synth.json")
    manifest = read_manifest(folder / "manifest.csv") if (folder / "manifest.csv").is_file() else []
    translator = settings.get("translator")
    name = translator.get("translator", translator.get("name", "")) if isinstance(translator, dict) else translator
    report.section(f"{title_prefix}Synthetic images",
                   f"{len(manifest)} images of {settings.get('landmark', 'the landmark')} by {name or 'a translator'} "
                   f"(seed {settings.get('seed', '?')}).")
    _contact_sheet(report, folder, [r["file_name"] for r in manifest],
                   f"{folder.name}: images in file order, left to right; each row is labelled with its files.")
    if manifest:
        columns = [c for c in ("file_name", "pose_index", "label", "translator", "seed") if c in manifest[0]]
        report.table(manifest[:SHEET_IMAGES], columns=columns, caption=f"manifest.csv (first rows of {len(manifest)})")
    report.section(f"{title_prefix}Settings")
    _settings(report, settings, "synth.json")


def _collection_report(folder: Path, report: Report) -> None:
    settings = _read_json(folder / "collection.json")
    rows = read_csv_rows(folder / "collection.csv") if (folder / "collection.csv").is_file() else []
    failed = [r for r in rows if r.get("status") != "done"]
    report.section("Cases", f"{len(rows) - len(failed)} of {len(rows)} CTs done.")
    if failed:
        report.note(f"{len(failed)} case(s) failed: rerun the same command to redo only those.", kind="warning")
    if rows:
        report.table(rows, columns=["case_id", "status", "n", "seconds", "error", "seed"], caption="collection.csv",
                     note_columns=["error"], flag=lambda r: r.get("status") != "done")
    first = next((folder / r["case_id"] for r in rows if r.get("status") == "done"
                  and (folder / r["case_id"] / "synth.json").is_file()), None)
    if first is not None:
        _synth_report(first, report, title_prefix=f"{first.name}: ")
    report.section("Collection settings")
    _settings(report, settings, "collection.json")


def _loss_figure(rows: list[dict[str, str]]) -> Any:
    """Train (and validation) loss per epoch, one panel per loss, from ``losses.csv`` rows."""
    from matplotlib.figure import Figure

    names = [c[len("train_"):] for c in rows[0] if c.startswith("train_")]
    fig = Figure(figsize=(3.6 * max(len(names), 1), 3.0))
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    epochs = [float(r.get("epoch") or k + 1) for k, r in enumerate(rows)]
    for ax, name in zip(axes, names):
        for prefix, style, label in (("train_", "o-", "train"), ("val_", "s--", "validation")):
            values = [float(r.get(prefix + name) or "nan") for r in rows]
            if any(math.isfinite(v) for v in values):
                ax.plot(epochs, values, style, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _train_report(folder: Path, report: Report) -> None:
    record = _read_json(folder / "config.json")
    rows = read_csv_rows(folder / "losses.csv")
    epochs = cyclegan_epochs(folder, budgeted=False) or {}
    report.section("Training", f"{str(epochs.get('status', 'trained')).capitalize()}: losses per epoch, "
                               "train and validation.")
    if (folder / "losses.png").is_file():
        report.image(folder / "losses.png", caption="Losses per epoch", width_px=900)
    elif rows:
        report.image(_loss_figure(rows), caption="Losses per epoch (drawn from losses.csv)", width_px=900)
    if rows:
        shown = rows[-LAST_EPOCHS:]
        report.table(shown, caption=f"losses.csv: the last {len(shown)} of {len(rows)} epochs")
    else:
        report.note("losses.csv has no epoch yet: the run has not finished its first epoch.", kind="warning")
    samples = sorted((folder / "samples").glob("epoch-*.png")) if (folder / "samples").is_dir() else []
    if samples:
        report.section("Samples", f"The last epoch's sample grid ({samples[-1].stem}).")
        report.image(samples[-1], caption="CT | sEUS | reconstructed CT; EUS | sCT | reconstructed EUS", width_px=560)
    report.section("Configuration")
    _settings(report, {k: v for k, v in record.items() if k not in ("config", "inputs")}, "Run (config.json)")
    for key in ("config", "inputs"):
        if isinstance(record.get(key), dict):
            _settings(report, record[key], key.capitalize())


def build_folder_report(run_dir: str | os.PathLike[str]) -> Report:
    """The report page of ``run_dir``, whichever command wrote it."""
    folder = Path(run_dir)
    kind = folder_kind(folder)
    if kind == "pipeline":
        view, info = RunView.from_folder(folder)
        return build_run_report(view, info)
    if kind == "train":
        record = _read_json(folder / "config.json")
        report = Report(f"eusaug train: {record.get('translator', 'translator')} ({record.get('landmark', '?')})",
                        subtitle=str(folder.resolve()))
        _train_report(folder, report)
    elif kind == "collection":
        report = Report(f"eusaug synth: {folder.name} (collection)", subtitle=str(folder.resolve()))
        _collection_report(folder, report)
    else:
        report = Report(f"eusaug synth: {folder.name}", subtitle=str(folder.resolve()))
        _synth_report(folder, report)
    return report


def write_folder_report(run_dir: str | os.PathLike[str], output: str | os.PathLike[str] | None = None,
                        force: bool = False) -> Path:
    """Write the report of ``run_dir`` atomically to ``output`` (default ``RUN_DIR/report.html``)."""
    path = Path(output) if output is not None else Path(run_dir) / "report.html"
    if path.exists() and not force:
        raise EusaugError(f"Report {path} already exists: pass --force to replace it, or choose another path with -o.")
    return build_folder_report(run_dir).write(path, force=True)
