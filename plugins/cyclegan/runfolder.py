"""The run folder's layout and its ``config.json``: light, so loading a model imports no TensorFlow."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from eusaug import EusaugError, __version__

RUN_FORMAT = "eusaug-cyclegan-run"
#: Bump when the run folder's layout or the checkpoint's variables change incompatibly.
RUN_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
GENERATOR_FILE = "generator_ct2eus.keras"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
LOSSES_CSV = "losses.csv"
LOSSES_PNG = "losses.png"
#: End-of-epoch validation (see ``validation.py``): the curve, its plot, the best epoch,
#: and epochs' generators alone (a few MB each, unlike the checkpoint's whole training state).
VALIDATION_CSV = "validation.csv"
VALIDATION_PNG = "validation.png"
VALIDATION_JSON = "validation.json"
GENERATORS = "generators"
DENOISER_FILES = {"ct": "denoiser_ct.keras", "eus": "denoiser_eus.keras"}
#: Fields a resumed run may change (the learning-rate schedule follows ``epochs``; how often
#: validation scores does not touch training; variables are float32 in every precision, so a run
#: made where bfloat16 is native resumes in float32 elsewhere, and an old run's ``bf16`` under
#: today's default ``auto``); which epochs' generators are kept does not touch training either.
RESUMABLE_FIELDS = ("epochs", "distribute", "devices", "tensorboard", "val_every", "precision", "keep_generators")


def snapshot_path(run_dir: Path, epoch: int) -> Path:
    """The generator kept for 1-based ``epoch``: ``generators/epoch-NNNN.keras``."""
    return Path(run_dir) / GENERATORS / f"epoch-{int(epoch):04d}.keras"


def kept_generators(run_dir: Path) -> list[int]:
    """The epochs whose generators ``generators/`` holds, in order."""
    names = (re.fullmatch(r"epoch-(\d+)\.keras", p.name) for p in (Path(run_dir) / GENERATORS).glob("epoch-*"))
    return sorted(int(name.group(1)) for name in names if name)


def prune_generators(run_dir: Path, keep: Collection[int | None]) -> None:
    """Delete every epoch's generator but those of ``keep``.

    Called after an epoch's checkpoint, when its validation row can no longer be undone by
    a resume, so the best epoch a resumed run reads back still has its generator.
    """
    for epoch in kept_generators(run_dir):
        if epoch not in keep:
            snapshot_path(run_dir, epoch).unlink(missing_ok=True)


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """``config.json`` of a run folder, checked to be a CycleGAN run of this format version."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise EusaugError(
            f"{run_dir} is not a CycleGAN run folder (no {CONFIG_FILE}): pass the folder that "
            "`eusaug train ... -o RUN` wrote."
        )
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EusaugError(f"{path} is not valid JSON ({exc}): the run folder is damaged.") from None
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise EusaugError(f"{path} does not describe a CycleGAN run (format {record.get('format')!r}).")
    if record.get("format_version") != RUN_FORMAT_VERSION:
        raise EusaugError(
            f"{run_dir} was written by eusaug {record.get('eusaug_version', '?')} (run format "
            f"{record.get('format_version')}); this eusaug {__version__} reads run format {RUN_FORMAT_VERSION}: "
            "train a new run, or use the eusaug version that wrote it."
        )
    return record


def is_run_folder(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a CycleGAN run of any format version."""
    try:
        record = json.loads((Path(run_dir) / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(record, dict) and record.get("format") == RUN_FORMAT
