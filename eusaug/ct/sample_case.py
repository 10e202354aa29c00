"""The embedded sample: a small TotalSegmentator CT case (Apache-2.0, see data/sample/NOTICE.txt)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_PRESET = "totalsegmentator"


def _sample_file(name: str) -> Path:
    return Path(str(resources.files("eusaug").joinpath("data", "sample", name)))


def sample_ct_path() -> Path:
    """The bundled sample CT (122x101x30, 3 mm, RAS, non-contrast)."""
    return _sample_file("totalseg_small_ct.nii.gz")


def sample_labels_path() -> Path:
    """The bundled sample label map (TotalSegmentator "total" task ids)."""
    return _sample_file("totalseg_small_labels.nii.gz")
