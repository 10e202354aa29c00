"""What machine and packages a run's numbers come from (recorded beside every result)."""

from __future__ import annotations

import platform


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
    """The CPU model and what matters for every timing, e.g. ``AMD EPYC (AVX-512 BF16, no AMX)``.

    The model name alone is not enough: virtual machines report "AMD EPYC" for CPUs with and
    without AVX-512 BF16, whose training steps differ by 7x or more.
    """
    from eusaug.io import cpu_kind, cpuinfo_field

    name = cpuinfo_field("model name") or platform.processor() or "unknown"
    return f"{name} ({cpu_kind()})"
