"""The default slicer, ``plane``: the field of view cut out of the CT along each pose.

HU trilinearly, labels by nearest neighbour, the field-of-view mask and which pixels lie
inside the CT volume; batched. The work is
done by :class:`eusaug.geometry.interpolate.PlaneSampler`; this plugin keeps the prepared volume
of the last case it sliced, so a training loop that slices one case over and over
prepares it once.
"""

from __future__ import annotations

import weakref

import numpy as np

from eusaug import hookimpl
from eusaug.ct import AIR_HU, CTCase
from eusaug.geometry import FieldOfView, Planes, PlaneSampler, plane_grid, validate_poses
from eusaug.plugin import Slicer


class PlaneSlicer(Slicer):
    """Planar slices of the EUS field of view; agrees with ``reference_slice`` to < 0.1 HU."""

    name = "plane"
    description = "Planar field-of-view slices: trilinear HU, nearest labels, sector mask (fast, batched)."

    def __init__(self, workers: int = 1) -> None:
        # One thread by default: slicing runs beside TensorFlow, which wants the other cores
        # (on an idle 2-core machine workers=2 is about 1.3x faster, under load slower).
        self.workers = max(1, int(workers))
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
