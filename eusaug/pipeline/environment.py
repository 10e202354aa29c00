"""What machine and packages a run's numbers come from (recorded beside every result)."""

from __future__ import annotations

import platform
from pathlib import Path


def environment_versions() -> dict[str, str]:
    """Python, CPU and package versions, for the record beside a run's results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "machine": platform.machine(), "cpu": cpu_name()}
    for package in ("eusaug", "tensorflow", "keras", "numpy", "scipy", "albumentations", "nibabel"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "-"
    return out


def cpu_name() -> str:
    """The CPU model (which matters for every timing: AMX vs AVX-512 BF16)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
