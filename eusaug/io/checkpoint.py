"""Training checkpoints: named variables in an ``.npz`` plus a JSON state, written atomically.

A checkpoint is a folder ``CHECKPOINTS/epoch-NNNN`` holding ``variables.npz`` (every
variable by a stable name; no pickles) and ``state.json`` (the epoch, anything the trainer
needs to resume, and the SHA-256 of the ``.npz``). It is built under a temporary name and
renamed into place, so a run killed while saving leaves only a hidden ``.partial`` folder
that is ignored; a checkpoint folder whose files are missing or do not match their
checksum is reported as an error instead of being loaded.

Keras models are exported with :func:`save_keras_model`, also atomically.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eusaug.errors import EusaugError
from eusaug.io.atomic import atomic_directory
from eusaug.io.hashing import file_digest

VARIABLES_FILE = "variables.npz"
STATE_FILE = "state.json"
_NAME = re.compile(r"^epoch-(\d{4,})$")


def checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}"


def save_checkpoint(
    folder: str | os.PathLike[str],
    epoch: int,
    variables: Mapping[str, Any],
    state: Mapping[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``folder/epoch-NNNN`` with ``variables`` (name -> array-like) and JSON ``state``.

    Older checkpoints beyond the newest ``keep`` are removed afterwards.
    """
    folder = Path(folder)
    target = folder / checkpoint_name(epoch)
    arrays = {name: np.asarray(value) for name, value in variables.items()}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    with atomic_directory(target, force=True) as tmp:
        (tmp / VARIABLES_FILE).write_bytes(buffer.getvalue())
        record = {
            "epoch": int(epoch),
            "sha256": file_digest(tmp / VARIABLES_FILE),
            "variables": {name: list(a.shape) for name, a in arrays.items()},
            **dict(state),
        }
        (tmp / STATE_FILE).write_text(json.dumps(record, indent=1))
    for old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return target


def list_checkpoints(folder: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint folders under ``folder``, oldest first (temporary ones are skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | os.PathLike[str]) -> Path | None:
    """The newest checkpoint under ``folder`` (None when there is none), checked to be whole."""
    found = list_checkpoints(folder)
    if not found:
        return None
    read_state(found[-1])
    return found[-1]


def read_state(checkpoint: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's ``state.json`` after checking that the variables file is whole."""
    checkpoint = Path(checkpoint)
    state_path, variables_path = checkpoint / STATE_FILE, checkpoint / VARIABLES_FILE
    fix = f"delete {checkpoint} to resume from the checkpoint before it."
    if not state_path.is_file() or not variables_path.is_file():
        raise EusaugError(f"Checkpoint {checkpoint} is half-written (missing {STATE_FILE} or {VARIABLES_FILE}): {fix}")
    try:
        state = json.loads(state_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EusaugError(f"Checkpoint {checkpoint}/{STATE_FILE} is unreadable ({exc}): {fix}") from None
    if not isinstance(state, dict) or "sha256" not in state or "epoch" not in state:
        raise EusaugError(f"Checkpoint {checkpoint}/{STATE_FILE} lacks its epoch or checksum: {fix}")
    if file_digest(variables_path) != state["sha256"]:
        raise EusaugError(
            f"Checkpoint {checkpoint}/{VARIABLES_FILE} does not match its checksum (half-written?): {fix}"
        )
    return state


def load_checkpoint(checkpoint: str | os.PathLike[str], variables: Mapping[str, Any]) -> dict[str, Any]:
    """Assign the saved values to ``variables`` (name -> object with ``assign``); return the state.

    The names and shapes must match exactly: a checkpoint of another configuration is an error.
    """
    checkpoint = Path(checkpoint)
    state = read_state(checkpoint)
    with np.load(checkpoint / VARIABLES_FILE, allow_pickle=False) as saved:
        missing = sorted(set(variables) - set(saved.files))
        extra = sorted(set(saved.files) - set(variables))
        if missing or extra:
            sample = (missing or extra)[:3]
            raise EusaugError(
                f"Checkpoint {checkpoint} does not fit this model ({len(missing)} variables missing, "
                f"{len(extra)} unexpected, e.g. {', '.join(sample)}): it was made with another configuration; "
                "train into a new run folder."
            )
        for name, var in variables.items():
            value = saved[name]
            if tuple(value.shape) != tuple(var.shape):
                raise EusaugError(
                    f"Checkpoint {checkpoint}: variable {name} has shape {value.shape}, the model expects "
                    f"{tuple(var.shape)}: it was made with another configuration; train into a new run folder."
                )
            var.assign(value)
    return state


def save_keras_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Save a Keras model to ``path`` (``.keras``) atomically: whole or not at all."""
    path = Path(path)
    if path.suffix != ".keras":
        raise EusaugError(f"Keras models are saved as .keras files, not {path.name}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_keras_model(path: str | os.PathLike[str]) -> Any:
    """Load a ``.keras`` model in safe mode (no Lambda layers, no pickles); a bad file is an error."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise EusaugError(f"Model file {path} does not exist: check the path or train a model first.")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a foreign or damaged file
        raise EusaugError(
            f"Model file {path} cannot be loaded in safe mode ({type(exc).__name__}: {exc}): "
            "it is damaged, or was written by another version; export it again."
        ) from None
