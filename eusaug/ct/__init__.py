"""Stage 0, the input: CT volumes and organ label maps in RAS+, label presets, the bundled sample case."""

from __future__ import annotations

from eusaug.ct.describe import (
    CaseSummary,
    OrganSummary,
    summarise_case,
)
from eusaug.ct.labels import (
    BTCV_LABELS,
    PRESET_NAMES,
    LabelPreset,
    get_preset,
    normalise_name,
)
from eusaug.ct.sample_case import (
    SAMPLE_PRESET,
    sample_ct_path,
    sample_labels_path,
)
from eusaug.ct.volume import (
    AFFINE_ATOL,
    AIR_HU,
    BONE_RULES,
    DEFAULT_BONE_HU,
    NIFTI_SUFFIXES,
    BoneRule,
    CTCase,
    CTVolume,
    LabelMap,
    bone_mask,
    check_same_grid,
    find_labels_beside,
    load_case,
    load_ct,
    load_labels,
    spacing_mm,
    voxel_to_world,
    world_to_voxel,
)

__all__ = [
    "AFFINE_ATOL",
    "AIR_HU",
    "BONE_RULES",
    "BTCV_LABELS",
    "BoneRule",
    "CTCase",
    "CTVolume",
    "CaseSummary",
    "DEFAULT_BONE_HU",
    "LabelMap",
    "LabelPreset",
    "NIFTI_SUFFIXES",
    "OrganSummary",
    "PRESET_NAMES",
    "SAMPLE_PRESET",
    "bone_mask",
    "check_same_grid",
    "find_labels_beside",
    "get_preset",
    "load_case",
    "load_ct",
    "load_labels",
    "normalise_name",
    "sample_ct_path",
    "sample_labels_path",
    "spacing_mm",
    "summarise_case",
    "voxel_to_world",
    "world_to_voxel",
]
