"""The one exception type for mistakes a user can make (bad file, bad option, bad data)."""

from __future__ import annotations


class EusaugError(Exception):
    """An error the user can fix: the message names the file or value and the fix.

    The CLI prints it as one line and exits with code 2; anything else is a bug and
    keeps its traceback.
    """
