"""What the surface samplers share: a probe on a surface, a beam in a cone around its normal.

``stomach-cone`` (probe on the stomach wall, beam around the outward normal) and
``skin-surface`` (probe on the skin, beam around the inward normal) differ only in the
surface and the side the beam faces, so both subclass :class:`SurfaceConeSampler`.

Candidate poses are drawn in batches: a point uniform over the surface area, a beam
uniform in a cone (half-angle ``cone_deg``) around the normal there, and a roll about the
beam uniform in ``roll_range_deg``. Roll 0 puts the lateral (image column) axis along the
projection of the patient's superior axis (anterior when the beam is nearly
superior-inferior).

Candidates are screened cheaply on a grid ``screen_factor`` times coarser: only those
that clearly miss the landmark, or clearly show too much bone, are rejected there. The
rest are sliced on the full grid and kept when they show the landmark and pass the
slice filter, exactly as ``eusaug slice`` will count them.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from eusaug.ct import AIR_HU, CTCase, Landmark
from eusaug.errors import EusaugError
from eusaug.geometry import (
    KEPT,
    TOO_FEW_LANDMARK,
    TOO_MUCH_BONE,
    TOO_MUCH_GAS,
    TOO_MUCH_OUTSIDE,
    FieldOfView,
    Planes,
    PlaneSampler,
    SliceFilter,
    Surface,
    plane_grid,
)
from eusaug.plugin import PoseSampler, build_options, opt

#: Rejection reason when a field of view holds no landmark pixel at all.
NOT_IN_VIEW = "landmark not in view"
#: Rejection reason for the (rare) surface point where the normal is undefined.
NO_NORMAL = "no surface normal"

#: World axes (RAS+) that define roll 0.
SUPERIOR = np.array([0.0, 0.0, 1.0])
ANTERIOR = np.array([0.0, 1.0, 0.0])

ProgressCallback = Callable[[int, int], None]


def perpendicular_basis(axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``(n, 3)`` completing each unit axis ``(n, 3)`` to a right-handed frame."""
    helper = np.where(np.abs(axes[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    first = np.cross(axes, helper)
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    return first, np.cross(axes, first)


def cone_directions(axes: np.ndarray, cone_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors uniform over the spherical cap of half-angle ``cone_deg`` around each axis.

    Uniform on the sphere means the cosine of the angle to the axis is uniform in
    ``[cos(cone_deg), 1]`` and the azimuth uniform in ``[0, 2 pi)``.
    """
    axes = np.asarray(axes, dtype=np.float64)
    n = len(axes)
    cos_angle = 1.0 - rng.random(n) * (1.0 - np.cos(np.deg2rad(cone_deg)))
    sin_angle = np.sqrt(np.clip(1.0 - cos_angle**2, 0.0, None))
    azimuth = rng.random(n) * 2.0 * np.pi
    first, second = perpendicular_basis(axes)
    return (
        cos_angle[:, None] * axes
        + (sin_angle * np.cos(azimuth))[:, None] * first
        + (sin_angle * np.sin(azimuth))[:, None] * second
    )


def roll_reference(beams: np.ndarray) -> np.ndarray:
    """The lateral axis at roll 0: superior projected across each beam (anterior if parallel)."""
    reference = np.where(np.abs(beams @ SUPERIOR)[:, None] < 0.99, SUPERIOR, ANTERIOR)
    lateral = reference - beams * (reference * beams).sum(axis=1, keepdims=True)
    return lateral / np.linalg.norm(lateral, axis=1, keepdims=True)


def poses_from(origins: np.ndarray, beams: np.ndarray, roll_deg: np.ndarray) -> np.ndarray:
    """``(n, 4, 4)`` poses (see :mod:`eusaug.geometry`) from transducer points, beams and rolls."""
    beams = beams / np.linalg.norm(beams, axis=1, keepdims=True)
    reference = roll_reference(beams)
    roll = np.deg2rad(roll_deg)[:, None]
    lateral = np.cos(roll) * reference + np.sin(roll) * np.cross(beams, reference)
    poses = np.zeros((len(origins), 4, 4))
    poses[:, :3, 0] = lateral
    poses[:, :3, 1] = beams
    poses[:, :3, 2] = np.cross(lateral, beams)
    poses[:, :3, 3] = origins
    poses[:, 3, 3] = 1.0
    return poses


@dataclasses.dataclass(frozen=True)
class SurfaceConeOptions:
    """Options every surface sampler takes (``eusaug poses --option KEY=VALUE``); checked once, here."""

    cone_deg: float = dataclasses.field(default=30.0, metadata=opt("Half-angle of the beam cone around the normal (deg)."))
    roll_range_deg: tuple[float, float] = dataclasses.field(
        default=(-180.0, 180.0), metadata=opt("Roll about the beam, min,max (deg)."))
    max_draws: int | None = dataclasses.field(default=None, metadata=opt("Draw budget (none: 200 per pose, >= 2000)."))
    batch_size: int = dataclasses.field(default=256, metadata=opt("Candidates drawn at once."))
    screen_factor: int = dataclasses.field(default=4, metadata=opt("How much coarser the screening grid is."))

    def __post_init__(self) -> None:
        if not 0.0 <= self.cone_deg <= 90.0:
            raise EusaugError(f"Cone half-angle cone_deg={self.cone_deg} must be within 0..90 degrees.")
        if len(self.roll_range_deg) != 2:
            raise EusaugError(f"Roll range roll_range_deg={self.roll_range_deg} must be two numbers: min,max.")
        low, high = (float(r) for r in self.roll_range_deg)
        if not low <= high or high - low > 360.0:
            raise EusaugError(
                f"Roll range {self.roll_range_deg} deg must be (min, max) with min <= max, at most 360 apart."
            )
        if self.max_draws is not None and self.max_draws < 1:
            raise EusaugError(f"Draw budget max_draws={self.max_draws} must be at least 1.")
        if self.batch_size < 1 or self.screen_factor < 1:
            raise EusaugError(f"batch_size={self.batch_size} and screen_factor={self.screen_factor} must be >= 1.")
        object.__setattr__(self, "cone_deg", float(self.cone_deg))
        object.__setattr__(self, "roll_range_deg", (low, high))
        object.__setattr__(self, "batch_size", int(self.batch_size))
        object.__setattr__(self, "screen_factor", int(self.screen_factor))


class SurfaceConeSampler(PoseSampler):
    """Base of the surface samplers: subclasses say which surface, and which way the beam faces.

    Options come as keywords (``StomachCone(cone_deg=20)``) or as a ready ``options``
    object of the class's :attr:`options_class`; each option is also an attribute.
    """

    #: +1: beams around the outward normal (from inside an organ); -1: around the inward one.
    beam_side: ClassVar[float] = 1.0
    #: What the failure message suggests besides the common fixes.
    extra_fix: ClassVar[str] = ""
    options_class: ClassVar[type | None] = SurfaceConeOptions
    #: When set, the sampler's own outside-the-CT limit replaces the slice filter's (see skin-surface).
    max_outside_fraction: float | None = None
    #: When set, the sampler's own gas-shadow limit replaces the slice filter's (see skin-surface).
    max_gas_shadow_fraction: float | None = None

    def __init__(self, options: SurfaceConeOptions | None = None, *, on_progress: ProgressCallback | None = None,
                 **values: Any) -> None:
        assert self.options_class is not None
        if options is not None and values:
            raise EusaugError(f"Sampler {self.name!r}: give an options object or keyword options, not both.")
        self.options = options if options is not None else build_options(self.options_class, values, self.name)
        for f in dataclasses.fields(self.options):
            setattr(self, f.name, getattr(self.options, f.name))
        self.on_progress = on_progress

    @staticmethod
    def default_max_draws(n: int) -> int:
        """The draw budget when none is given: 200 draws per pose asked for, at least 2000."""
        return max(2000, 200 * n)

    # -- what subclasses define -----------------------------------------------------------
    @abstractmethod
    def surface(self, case: CTCase) -> Surface:
        """The surface the probe moves on, with outward normals."""

    @abstractmethod
    def surface_name(self) -> str:
        """The surface in words, for messages (e.g. ``"stomach surface"``)."""

    def candidate_surface(self, case: CTCase, landmark: str, fov: FieldOfView) -> Surface:
        """The part of :meth:`surface` worth drawing from for ``landmark`` (all of it here)."""
        return self.surface(case)

    def beam_axes(self, surface: Surface, origins: np.ndarray) -> np.ndarray:
        """Cone axes at ``origins``: the normal, flipped inward when :attr:`beam_side` is -1."""
        return self.beam_side * surface.normals_at(origins)

    # -- all randomness is drawn here -----------------------------------------------------
    def draw(self, surface: Surface, count: int, rng: np.random.Generator) -> np.ndarray:
        """``(count, 4, 4)`` candidate poses: area-uniform points, cone beams, uniform roll."""
        origins = surface.sample_points(count, rng)
        axes = self.beam_axes(surface, origins)
        good = np.isfinite(axes).all(axis=1)
        origins, axes = origins[good], axes[good]
        beams = cone_directions(axes, self.cone_deg, rng)
        roll = rng.uniform(self.roll_range_deg[0], self.roll_range_deg[1], size=len(origins))
        return poses_from(origins, beams, roll)

    # -- the sampler ------------------------------------------------------------------------
    def applied_filter(self, slice_filter: SliceFilter | None) -> SliceFilter | None:
        """``slice_filter`` with this sampler's own outside and gas limits, where it has them."""
        if slice_filter is None:
            return None
        own = {name: getattr(self, name) for name in ("max_outside_fraction", "max_gas_shadow_fraction")
               if getattr(self, name) is not None}
        return dataclasses.replace(slice_filter, **own)

    def sample(
        self,
        case: CTCase,
        landmark: str,
        n: int,
        fov: FieldOfView,
        rng: np.random.Generator,
        slice_filter: SliceFilter | None = None,
    ) -> np.ndarray:
        if n < 1:
            raise EusaugError(f"Number of poses n={n} must be at least 1.")
        # The caller passes a checked Landmark (eusaug.poses.sample_poses does); a plain name is checked here once.
        landmark_id = (landmark if isinstance(landmark, Landmark) else case.landmark(landmark)).label_id
        slice_filter = self.applied_filter(slice_filter)
        surface = self.candidate_surface(case, landmark, fov)
        budget = self.max_draws or self.default_max_draws(n)
        volume = PlaneSampler(case.ct.hu, case.labels.ids, fill_value=AIR_HU, label_fill=0)
        screen_fov = dataclasses.replace(
            fov,
            height_px=max(8, fov.height_px // self.screen_factor),
            width_px=max(8, fov.width_px // self.screen_factor),
        )
        kept: list[np.ndarray] = []
        rejected: Counter[str] = Counter()
        draws = 0
        while len(kept) < n and draws < budget:
            count = min(self.batch_size, budget - draws)
            candidates = self.draw(surface, count, rng)
            draws += count
            if len(candidates) < count:
                rejected[NO_NORMAL] += count - len(candidates)
            survivors = self._screen(case, volume, candidates, landmark_id, fov, screen_fov, slice_filter, rejected)
            if len(survivors):
                planes = self._slice(volume, case, survivors, fov)
                verdicts = self._verdicts(planes, landmark_id, case, slice_filter)
                for pose, verdict in zip(survivors, verdicts):
                    if verdict != KEPT:
                        rejected[verdict] += 1
                    elif len(kept) < n:
                        kept.append(pose)
            if self.on_progress is not None:
                self.on_progress(len(kept), draws)
        if len(kept) < n:
            raise EusaugError(self._failure(case, landmark, n, len(kept), draws, rejected, fov, slice_filter))
        return np.stack(kept)

    @staticmethod
    def _slice(volume: PlaneSampler, case: CTCase, poses: np.ndarray, fov: FieldOfView) -> Planes:
        grid = plane_grid(poses, fov, case.affine)
        hu, labels = volume.sample(grid)
        mask = np.broadcast_to(fov.mask(), (len(poses), fov.height_px, fov.width_px))
        return Planes(hu, labels, mask, poses, fov, inside=volume.inside(grid))  # type: ignore[arg-type]

    @staticmethod
    def _verdicts(
        planes: Planes, landmark_id: int, case: CTCase, slice_filter: SliceFilter | None
    ) -> list[str]:
        """Verdict per plane on the full grid: :data:`KEPT`, :data:`NOT_IN_VIEW` or a filter reason."""
        active = slice_filter or SliceFilter(min_landmark_px=0)
        landmark_px, bone_px = active.counts(planes, landmark_id, case.label_preset)
        gas = active.gas_of(planes) if slice_filter is not None else None
        verdicts = active.verdicts(landmark_px, bone_px, planes.fov, planes.outside_fraction(), gas)
        if slice_filter is None:
            verdicts = [KEPT if v in (TOO_MUCH_BONE, TOO_MUCH_OUTSIDE) else v for v in verdicts]
        return [NOT_IN_VIEW if lm == 0 else v for v, lm in zip(verdicts, landmark_px)]

    def _screen(
        self,
        case: CTCase,
        volume: PlaneSampler,
        candidates: np.ndarray,
        landmark_id: int,
        fov: FieldOfView,
        screen_fov: FieldOfView,
        slice_filter: SliceFilter | None,
        rejected: Counter[str],
    ) -> np.ndarray:
        """Candidates worth slicing on the full grid; clear failures are counted in ``rejected``."""
        if self.screen_factor == 1 or len(candidates) == 0:
            return candidates
        planes = self._slice(volume, case, candidates, screen_fov)
        active = slice_filter or SliceFilter(min_landmark_px=0)
        landmark_px, bone_px = active.counts(planes, landmark_id, case.label_preset)
        scale = (fov.height_px * fov.width_px) / (screen_fov.height_px * screen_fov.width_px)
        reasons = np.full(len(candidates), "", dtype=object)
        if slice_filter is not None:
            min_landmark, max_bone = slice_filter.thresholds(fov)
            # Margins: a coarse pixel stands for `scale` fine ones, so only clear cases go.
            reasons[landmark_px * scale < 0.5 * min_landmark - scale] = TOO_FEW_LANDMARK
            reasons[(reasons == "") & (bone_px * scale > 2.0 * max_bone + scale)] = TOO_MUCH_BONE
            # Coarse pixels blur the volume's edge: only clearly-outside planes go here.
            far_out = planes.outside_fraction() > slice_filter.max_outside_fraction + 0.1
            reasons[(reasons == "") & far_out] = TOO_MUCH_OUTSIDE
        reasons[landmark_px == 0] = NOT_IN_VIEW
        for reason in reasons[reasons != ""]:
            rejected[reason] += 1
        return candidates[reasons == ""]

    def _failure(
        self,
        case: CTCase,
        landmark: str,
        n: int,
        found: int,
        draws: int,
        rejected: Counter[str],
        fov: FieldOfView,
        slice_filter: SliceFilter | None,
    ) -> str:
        reasons = [NOT_IN_VIEW, TOO_FEW_LANDMARK, TOO_MUCH_BONE, TOO_MUCH_OUTSIDE, TOO_MUCH_GAS] + (
            [NO_NORMAL] if rejected[NO_NORMAL] else [])
        counts = ", ".join(f"{rejected[r]} {r}" for r in reasons)
        rule = slice_filter.describe(fov) if slice_filter is not None else "landmark in view"
        return (
            f"Found only {found} of {n} poses viewing {landmark!r} in {draws} draws (the budget) on the "
            f"{self.surface_name()} of {case.ct.path or 'the CT'}; rejected: {counts} (filter: {rule}, cone "
            f"{self.cone_deg:g} deg). Fix: raise --max-draws, widen --cone-deg, relax the filter, "
            f"{self.extra_fix}or ask for fewer poses or another landmark."
        )
