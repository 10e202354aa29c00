"""Slicing a CT along poses with a slicer plugin (pipeline stage 2)."""

from __future__ import annotations

from typing import Any

from eusaug.ct.volume import CTCase
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, validate_poses
from eusaug.geometry.planes import Planes
from eusaug.plugin.interfaces import Plugin, Slicer
from eusaug.plugin.registry import DEFAULT_SLICER, Registry


def slice_case(
    case: CTCase,
    poses: Any,
    fov: FieldOfView,
    slicer: str | Plugin = DEFAULT_SLICER,
    registry: Registry | None = None,
) -> Planes:
    """Slice ``case`` along ``poses`` (``(N, 4, 4)`` world mm, or a PoseSet) with a slicer plugin.

    ``slicer`` is a plugin name (resolved through ``registry``, a new
    :class:`~eusaug.plugin.registry.Registry` when None) or a ready slicer instance: reuse one
    instance when slicing the same case many times (it keeps the prepared volume).
    """
    poses = validate_poses(getattr(poses, "poses", poses), "slice_case")
    if isinstance(slicer, str):
        instance = (registry or Registry()).create_slicer(slicer)
    else:
        instance = slicer
    if not isinstance(instance, Slicer):
        raise EusaugError(f"{instance!r} is not a slicer plugin: pass a slicer name or Slicer instance.")
    planes = instance.slice(case, poses, fov)
    if planes.label_preset is None:
        planes.label_preset = case.label_preset
    return planes
