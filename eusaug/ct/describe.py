"""What is in a CT case: the numbers ``eusaug info`` prints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eusaug.ct.volume import CTCase


@dataclass(frozen=True)
class OrganSummary:
    name: str
    label_id: int
    voxels: int
    volume_ml: float


@dataclass(frozen=True)
class CaseSummary:
    ct_path: str
    labels_path: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    orientation: str
    hu_min: float
    hu_max: float
    preset: str
    organs: list[OrganSummary]
    unnamed_label_ids: list[int]


def summarise_case(case: CTCase) -> CaseSummary:
    """Shape, spacing, orientation, HU range and the volume of every preset organ present."""
    voxel_ml = float(abs(np.linalg.det(case.affine[:3, :3]))) / 1000.0
    counts = np.bincount(case.labels.ids.ravel().astype(np.int64))
    organs, unnamed = [], []
    for label_id in np.nonzero(counts)[0]:
        if label_id == 0:
            continue
        name = case.preset.name_of(int(label_id))
        if name is None:
            unnamed.append(int(label_id))
            continue
        n = int(counts[label_id])
        organs.append(OrganSummary(name, int(label_id), n, n * voxel_ml))
    return CaseSummary(
        ct_path=str(case.ct.path),
        labels_path=str(case.labels.path),
        shape=case.ct.shape,
        spacing_mm=tuple(float(s) for s in case.ct.spacing_mm),  # type: ignore[arg-type]
        orientation=case.ct.orientation,
        hu_min=float(case.ct.hu.min()),
        hu_max=float(case.ct.hu.max()),
        preset=case.preset.name,
        organs=organs,
        unnamed_label_ids=unnamed,
    )
