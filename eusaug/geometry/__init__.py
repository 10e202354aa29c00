"""World-millimetre geometry shared by every stage: the field of view and pose convention, organ surfaces,
fast plane sampling, and the planes (HU, labels, mask) that slicers return."""

from __future__ import annotations

from eusaug.geometry.field_of_view import (
    FieldOfView,
    FovKind,
    plane_points_world,
    pose_from_axes,
    validate_poses,
)
from eusaug.geometry.interpolate import (
    BLOCK_PX,
    EDGE_TOLERANCE,
    PACK_MAX_BYTES,
    PlaneGrid,
    PlaneSampler,
    plane_grid,
    sample_planes,
)
from eusaug.geometry.planes import (
    KEPT,
    PAPER_GRID_PX,
    TOO_FEW_LANDMARK,
    TOO_MUCH_BONE,
    HUWindow,
    Planes,
    SliceFilter,
    reference_slice,
)
from eusaug.geometry.surface import (
    BODY_THRESHOLD_HU,
    ISO_LEVEL,
    MIN_NORMAL_SMOOTHING_MM,
    Surface,
    body_mask,
    body_surface,
    organ_surface,
)

__all__ = [
    "BLOCK_PX",
    "BODY_THRESHOLD_HU",
    "EDGE_TOLERANCE",
    "FieldOfView",
    "FovKind",
    "HUWindow",
    "ISO_LEVEL",
    "KEPT",
    "MIN_NORMAL_SMOOTHING_MM",
    "PACK_MAX_BYTES",
    "PAPER_GRID_PX",
    "PlaneGrid",
    "PlaneSampler",
    "Planes",
    "SliceFilter",
    "Surface",
    "TOO_FEW_LANDMARK",
    "TOO_MUCH_BONE",
    "body_mask",
    "body_surface",
    "organ_surface",
    "plane_grid",
    "plane_points_world",
    "pose_from_axes",
    "reference_slice",
    "sample_planes",
    "validate_poses",
]
