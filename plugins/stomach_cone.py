"""The default pose sampler, ``stomach-cone``: probe poses on the stomach wall (paper, section 2.2).

The echoendoscope lies in the stomach and looks out through its wall: points uniform
over the stomach surface area, beams in a cone (half-angle ``cone_deg``) around the
outward normal, roll uniform in ``roll_range_deg``, cheap coarse screening, then the
landmark test and slice filter on the full grid. The drawing, roll convention and
screening are shared with ``skin-surface`` in :mod:`eusaug_plugins.surface_sampling`.
"""

from __future__ import annotations

from eusaug import hookimpl
from eusaug.ct import CTCase
from eusaug.errors import EusaugError
from eusaug.geometry import Surface, organ_surface

from .surface_sampling import (  # re-exported: this module was their home first
    ANTERIOR,
    NO_NORMAL,
    NOT_IN_VIEW,
    SUPERIOR,
    ProgressCallback,
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
    "SUPERIOR",
    "StomachConeSampler",
    "cone_directions",
    "perpendicular_basis",
    "poses_from",
    "roll_reference",
]


class StomachConeSampler(SurfaceConeSampler):
    """Poses on the stomach wall, beams in a cone around the outward normal."""

    name = "stomach-cone"
    description = "Probe on the stomach wall, beam in a cone around the outward normal, filtered views."
    beam_side = 1.0

    def __init__(
        self,
        cone_deg: float = 30.0,
        roll_range_deg: tuple[float, float] = (-180.0, 180.0),
        max_draws: int | None = None,
        batch_size: int = 256,
        screen_factor: int = 4,
        organ: str = "stomach",
        smoothing_mm: float | None = None,
        normal_smoothing_mm: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(cone_deg, roll_range_deg, max_draws, batch_size, screen_factor, on_progress)
        self.organ = organ
        self.smoothing_mm = smoothing_mm
        self.normal_smoothing_mm = normal_smoothing_mm

    def surface_name(self) -> str:
        return f"{self.organ} surface"

    def surface(self, case: CTCase) -> Surface:
        """The organ surface with outward normals (an absent or empty organ is an error)."""
        label_id = case.preset.id_of(self.organ)
        mask = case.labels.ids == label_id
        if not mask.any():
            raise EusaugError(
                f"No {self.organ} in {case.labels.path or 'the label map'} (label {label_id} of preset "
                f"{case.preset.name!r}): the {self.name} sampler puts the probe on the {self.organ} wall. "
                "Pass a label map that segments the stomach, or the --preset that names it."
            )
        return organ_surface(mask, case.affine, self.smoothing_mm, self.normal_smoothing_mm)


@hookimpl
def eusaug_pose_samplers() -> list[type]:
    return [StomachConeSampler]
