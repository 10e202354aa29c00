"""The local model store: which trained model to use for a landmark when none is named.

``eusaug train`` registers each run here; ``eusaug synth --landmark aorta`` without
``--model`` takes the newest registered model for that landmark and translator whose
folder still exists. The store is one JSON file, ``$EUSAUG_HOME/models.json``
(``EUSAUG_HOME`` defaults to ``~/.eusaug``); it only points at run folders, never
copies them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from eusaug.ct.labels import normalise_name
from eusaug.errors import EusaugError
from eusaug.io.atomic import write_text
from eusaug.plugin.registry import DEFAULT_TRANSLATOR

STORE_FILE = "models.json"
STORE_VERSION = 1


def eusaug_home() -> Path:
    """``$EUSAUG_HOME``, or ``~/.eusaug``: where eusaug keeps its per-user files."""
    return Path(os.environ.get("EUSAUG_HOME") or "~/.eusaug").expanduser()


def store_path() -> Path:
    """The model store file."""
    return eusaug_home() / STORE_FILE


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: a run folder (or model file) trained for ``landmark``."""

    landmark: str
    translator: str
    path: str
    created: str
    summary: str = ""

    @property
    def exists(self) -> bool:
        return Path(self.path).exists()


def _read() -> list[ModelEntry]:
    path = store_path()
    if not path.is_file():
        return []
    try:
        record = json.loads(path.read_text())
        return [ModelEntry(**entry) for entry in record["models"]]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise EusaugError(
            f"Model store {path} is damaged ({type(exc).__name__}: {exc}): fix or delete it, "
            "then register runs again with eusaug train (it resumes finished runs instantly)."
        ) from None


def _write(entries: list[ModelEntry]) -> None:
    record = {"version": STORE_VERSION, "models": [asdict(e) for e in entries]}
    write_text(store_path(), json.dumps(record, indent=2))


def register_model(landmark: str, path: str | os.PathLike[str], translator: str = DEFAULT_TRANSLATOR,
                   summary: str = "") -> ModelEntry:
    """Add (or refresh) the model at ``path`` for ``landmark``; returns the stored entry."""
    resolved = str(Path(path).resolve())
    entry = ModelEntry(
        landmark=normalise_name(landmark),
        translator=translator,
        path=resolved,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        summary=summary,
    )
    entries = [e for e in _read() if not (e.path == resolved and e.translator == translator)]
    _write([*entries, entry])
    return entry


def list_models() -> list[ModelEntry]:
    """Every registered model, oldest first (entries whose folder is gone included)."""
    return _read()


def forget_model(path: str | os.PathLike[str]) -> int:
    """Remove the entries for ``path`` from the store (not the files); returns how many."""
    resolved = str(Path(path).resolve())
    entries = _read()
    kept = [e for e in entries if e.path != resolved]
    if len(kept) != len(entries):
        _write(kept)
    return len(entries) - len(kept)


def find_model(landmark: str, translator: str = DEFAULT_TRANSLATOR) -> Path:
    """The newest registered model for ``landmark`` and ``translator`` that still exists.

    When there is none the error says what to run, or what to pass instead.
    """
    key = normalise_name(landmark)
    matches = [e for e in _read() if e.landmark == key and e.translator == translator]
    present = [e for e in matches if e.exists]
    if present:
        return Path(present[-1].path)  # registering appends, so the last is the newest
    gone = f" ({len(matches)} registered, but their folders are gone)" if matches else ""
    raise EusaugError(
        f"No trained {translator} model for landmark {landmark!r} in the model store {store_path()}{gone}: "
        f"train one with `eusaug train --ct CT --labels LABELS --poses poses.json --eus EUS_DIR "
        f"--landmark {key} -o RUN`, or pass --model RUN."
    )
