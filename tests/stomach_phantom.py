"""A tiny in-memory abdomen for pose and slicing tests: a spherical stomach, a cylindrical
aorta behind it and a "spine" cylinder behind that, with TotalSegmentator label ids.

Anisotropic voxels (1.5 x 1.5 x 2.5 mm) on purpose: normals and areas must not care.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from eusaug.ct.labels import get_preset
from eusaug.ct.volume import CTCase, CTVolume, LabelMap

STOMACH, AORTA, LIVER, PANCREAS, VERTEBRA = 6, 52, 5, 7, 31
SPACING_MM = (1.5, 1.5, 2.5)
SHAPE = (80, 80, 36)
ORIGIN_MM = np.array([-60.0, -70.0, -45.0])
STOMACH_CENTRE_MM = np.array([0.0, 0.0, 0.0])
STOMACH_RADIUS_MM = 20.0
AORTA_AXIS_XY_MM = np.array([0.0, -36.0])
AORTA_RADIUS_MM = 8.0
SPINE_AXIS_XY_MM = np.array([0.0, -62.0])
SPINE_RADIUS_MM = 7.0
HU = {0: -80.0, STOMACH: 20.0, AORTA: 45.0, VERTEBRA: 700.0}


def phantom_affine(spacing: tuple[float, float, float] = SPACING_MM) -> np.ndarray:
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = ORIGIN_MM
    return affine


def phantom_arrays(
    with_aorta: bool = True, with_stomach: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hu float32, labels int16, affine)`` of the phantom."""
    affine = phantom_affine()
    ijk = np.stack(np.meshgrid(*[np.arange(s) for s in SHAPE], indexing="ij"), axis=-1)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    labels = np.zeros(SHAPE, np.int16)
    spine = np.linalg.norm(xyz[..., :2] - SPINE_AXIS_XY_MM, axis=-1) <= SPINE_RADIUS_MM
    labels[spine] = VERTEBRA
    if with_aorta:
        aorta = np.linalg.norm(xyz[..., :2] - AORTA_AXIS_XY_MM, axis=-1) <= AORTA_RADIUS_MM
        labels[aorta] = AORTA
    if with_stomach:
        stomach = np.linalg.norm(xyz - STOMACH_CENTRE_MM, axis=-1) <= STOMACH_RADIUS_MM
        labels[stomach] = STOMACH
    hu = np.vectorize(HU.get, otypes=[np.float32])(labels)
    return hu, labels, affine


def phantom_case(with_aorta: bool = True, with_stomach: bool = True) -> CTCase:
    hu, labels, affine = phantom_arrays(with_aorta, with_stomach)
    return CTCase(CTVolume(hu, affine), LabelMap(labels, affine), get_preset("totalsegmentator"))


def write_phantom(folder: Path, orientation: str = "RAS", **kwargs: bool) -> tuple[Path, Path]:
    """Write the phantom as ``phantom_ct.nii.gz`` / ``phantom_labels.nii.gz``; ``LAS`` flips axis 0."""
    hu, labels, affine = phantom_arrays(**kwargs)
    if orientation == "LAS":
        hu, labels = hu[::-1].copy(), labels[::-1].copy()
        flipped = affine.copy()
        flipped[:3, 0] = -affine[:3, 0]
        flipped[:3, 3] = affine[:3, 3] + affine[:3, 0] * (SHAPE[0] - 1)
        affine = flipped
    elif orientation != "RAS":
        raise ValueError(orientation)
    folder.mkdir(parents=True, exist_ok=True)
    ct_path, labels_path = folder / "phantom_ct.nii.gz", folder / "phantom_labels.nii.gz"
    nib.save(nib.Nifti1Image(hu.astype(np.int16), affine), str(ct_path))
    nib.save(nib.Nifti1Image(labels, affine), str(labels_path))
    return ct_path, labels_path
