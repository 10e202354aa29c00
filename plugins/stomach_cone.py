"""The default pose sampler, ``stomach-cone``: probe poses on the stomach wall (paper, section 2.2).

The echoendoscope lies in the stomach and looks out through its wall: points uniform
over the stomach surface area, beams in a cone (half-angle ``cone_deg``) around the
outward normal, roll uniform in ``roll_range_deg``, cheap coarse screening, then the
landmark test and slice filter on the full grid. The drawing, roll convention and
screening are shared with ``skin-surface`` in :mod:`eusaug_plugins.surface_sampling`.
"""

from __future__ import annotations

import dataclasses

from eusaug import hookimpl
from eusaug.ct import CTCase
from eusaug.errors import EusaugError
from eusaug.geometry import Surface, organ_surface
from eusaug.plugin import opt

from .surface_sampling import (  # re-exported: this module was their home first
    ANTERIOR,
    NO_NORMAL,
    NOT_IN_VIEW,
    SUPERIOR,
    ProgressCallback,
    SurfaceConeOptions,
    SurfaceConeSampler,
    cone_directions,
    perpendicular_basis,
    poses_from,
    roll_reference,
)

__all__ = [
    "ANTERIOR",
    "NOT_IN_VIEW",
    "NO_NORMAL",
    "ProgressCallback",
    "SUPERIOR",
    "StomachConeOptions",
    "StomachConeSampler",
    "cone_directions",
    "perpendicular_basis",
    "poses_from",
    "roll_reference",
]


@dataclasses.dataclass(frozen=True)
class StomachConeOptions(SurfaceConeOptions):
    """The surface options plus the organ the probe lies in and the surface smoothing."""

    organ: str = dataclasses.field(default="stomach", metadata=opt("Organ whose wall the probe lies on."))
    smoothing_mm: float | None = dataclasses.field(default=None, metadata=opt("Surface smoothing (mm; none: default)."))
    normal_smoothing_mm: float | None = dataclasses.field(
        default=None, metadata=opt("Normal smoothing (mm; none: default)."))


class StomachConeSampler(SurfaceConeSampler):
    """Poses on the stomach wall, beams in a cone around the outward normal."""

    name = "stomach-cone"
    description = "Probe on the stomach wall, beam in a cone around the outward normal, filtered views."
    beam_side = 1.0

    options_class = StomachConeOptions

    def surface_name(self) -> str:
        return f"{self.organ} surface"

    def surface(self, case: CTCase) -> Surface:
        """The organ surface with outward normals (an absent or empty organ is an error)."""
        label_id = case.label_preset.id_of(self.organ)
        mask = case.labels.ids == label_id
        if not mask.any():
            raise EusaugError(
                f"No {self.organ} in {case.labels.path or 'the label map'} (label {label_id} of preset "
                f"{case.label_preset.name!r}): the {self.name} sampler puts the probe on the {self.organ} wall. "
                "Pass a label map that segments the stomach, or the --preset that names it."
            )
        return organ_surface(mask, case.affine, self.smoothing_mm, self.normal_smoothing_mm)


@hookimpl
def eusaug_pose_samplers() -> list[type]:
    return [StomachConeSampler]
