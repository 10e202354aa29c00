"""A run folder's ``losses.csv`` and ``losses.png``: one row per epoch, the plot drawn in the background."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path

import numpy as np
from eusaug_plugins.cyclegan.runfolder import LOSSES_CSV, LOSSES_PNG

from eusaug import EusaugError
from eusaug.io import write_bytes, write_text


def write_losses(run_dir: Path, history: list[dict[str, float]], plotter: LossPlotter | None = None) -> None:
    """``losses.csv`` (one row per epoch) and ``losses.png`` (train vs validation per loss).

    With a ``plotter`` the PNG is drawn in its background thread (matplotlib takes ~0.5 s,
    which would otherwise stall training at every epoch's end).
    """
    if not history:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(run_dir / LOSSES_CSV, buffer.getvalue())
    if plotter is None:
        _plot_losses(run_dir, history)
    else:
        plotter.submit(run_dir, [dict(row) for row in history])


class TensorBoardScalars:
    """Each epoch's row as TensorBoard scalars in ``folder``, written by TensorFlow's own summary writer.

    Beside ``losses.csv``, for people who follow training in TensorBoard; the step is the epoch.
    """

    def __init__(self, folder: str | Path) -> None:
        import importlib.util

        import tensorflow as tf

        if importlib.util.find_spec("tensorboard") is None:  # TensorFlow's writer would fail only at its first scalar
            raise EusaugError(f"--tensorboard {folder} needs the tensorboard package, which is not installed: "
                              "pip install tensorboard (the tf extra brings it), or leave --tensorboard out.")

        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(folder))

    def add(self, row: dict[str, float]) -> None:
        with self._writer.as_default(step=int(row["epoch"])):
            for name, value in row.items():
                if name != "epoch":
                    self._tf.summary.scalar(name, float(value))
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def _plot_losses(run_dir: Path, history: list[dict[str, float]]) -> None:
    # The object-oriented API without pyplot: safe outside the main thread.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    names = [key.removeprefix("train_") for key in history[0] if key.startswith("train_")]
    fig = Figure(figsize=(4 * len(names), 3.2))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        ax.plot(epochs, [row[f"train_{name}"] for row in history], "o-", label="train")
        val = [row[f"val_{name}"] for row in history]
        if any(np.isfinite(val)):
            ax.plot(epochs, val, "s--", label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    write_bytes(run_dir / LOSSES_PNG, png.getvalue())


class LossPlotter:
    """Draws ``losses.png`` in one background thread, one plot at a time; errors surface on
    the next :meth:`submit` or on :meth:`close`."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self, run_dir: Path, history: list[dict[str, float]]) -> None:
        try:
            _plot_losses(run_dir, history)
        except BaseException as exc:  # re-raised in the training thread
            self._error = exc

    def submit(self, run_dir: Path, history: list[dict[str, float]]) -> None:
        self.close()
        self._thread = threading.Thread(target=self._run, args=(run_dir, history), name="eusaug-loss-plot")
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


__all__ = ["LossPlotter", "TensorBoardScalars", "write_losses"]
