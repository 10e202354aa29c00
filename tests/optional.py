"""Optional dependencies in tests: skipped locally when missing, a failure under CI."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def on_ci() -> bool:
    """True where the project's CI runs (it sets CI=true, installs every extra, lays ../shared beside the clone)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``; when missing, skip the test module -- or fail it under env CI=true,
    where every extra is installed and a skip would hide untested code."""
    if on_ci():
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            pytest.fail(f"{module} is missing on CI ({exc}): install the extra with pip install -e \".[{extra}]\"",
                        pytrace=False)
    return pytest.importorskip(module, reason=f"{module} not installed: pip install -e \".[{extra}]\"")
