"""The default slicer, ``plane``: the field of view cut out of the CT along each pose.

HU trilinearly, labels by nearest neighbour, the field-of-view mask and which pixels lie
inside the CT volume; batched. The work is
done by :class:`eusaug.geometry.interpolate.PlaneSampler`; this plugin keeps the prepared volume
of the last case it sliced, so a training loop that slices one case over and over
prepares it once.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import numpy as np

from eusaug import hookimpl
from eusaug.ct import AIR_HU, CTCase
from eusaug.errors import EusaugError
from eusaug.geometry import FieldOfView, Planes, PlaneSampler, plane_grid, validate_poses
from eusaug.plugin import Slicer, build_options, opt


@dataclasses.dataclass(frozen=True)
class PlaneSlicerOptions:
    """How the plane slicer runs (``--option workers=2``); checked once, here."""

    workers: int = dataclasses.field(default=1, metadata=opt("Threads that sample the volume (>= 1)."))

    def __post_init__(self) -> None:
        if int(self.workers) < 1:
            raise EusaugError(f"Slicer option workers={self.workers} must be at least 1.")
        object.__setattr__(self, "workers", int(self.workers))


class PlaneSlicer(Slicer):
    """Planar slices of the EUS field of view; agrees with ``reference_slice`` to < 0.1 HU."""

    name = "plane"
    description = "Planar field-of-view slices: trilinear HU, nearest labels, sector mask (fast, batched)."

    options_class = PlaneSlicerOptions

    def __init__(self, options: PlaneSlicerOptions | None = None, **values: Any) -> None:
        # One thread by default: slicing runs beside TensorFlow, which wants the other cores
        # (on an idle 2-core machine workers=2 is about 1.3x faster, under load slower).
        self.options = options or build_options(PlaneSlicerOptions, values, self.name)
        self.workers = self.options.workers
        self._prepared: tuple[weakref.ref[np.ndarray], weakref.ref[np.ndarray], PlaneSampler] | None = None

    def _sampler(self, case: CTCase) -> PlaneSampler:
        """The prepared volume for ``case``, rebuilt only when the arrays change."""
        hu, ids = case.ct.hu, case.labels.ids
        if self._prepared is not None:
            hu_ref, ids_ref, sampler = self._prepared
            if hu_ref() is hu and ids_ref() is ids:
                return sampler
        sampler = PlaneSampler(hu, ids, fill_value=AIR_HU, label_fill=0)
        self._prepared = (weakref.ref(hu), weakref.ref(ids), sampler)
        return sampler

    def slice(self, case: CTCase, poses: np.ndarray, fov: FieldOfView) -> Planes:
        poses = validate_poses(poses, "plane slicer")
        grid = plane_grid(poses, fov, case.ct.affine)
        sampler = self._sampler(case)
        hu, labels = sampler.sample(grid, self.workers)
        mask = np.broadcast_to(fov.mask(), (len(poses), fov.height_px, fov.width_px)).copy()
        return Planes(hu, labels, mask, poses, fov, inside=sampler.inside(grid))  # type: ignore[arg-type]


@hookimpl
def eusaug_slicers() -> list[type]:
    return [PlaneSlicer]
