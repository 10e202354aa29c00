"""The ``skin-surface`` sampler: transabdominal ultrasound, the probe on the patient's skin.

Most clinical ultrasound is transabdominal, so this sampler puts the probe on the body
surface of the CT and aims the beam into the body: points uniform over the skin area, a
beam uniform in a cone (half-angle ``cone_deg``) around the *inward* normal, roll,
coarse screening, landmark test and slice filter exactly as ``stomach-cone`` does (the
shared code is :mod:`eusaug_plugins.surface_sampling`). The skin needs no label: it is
the outline of the CT above ``threshold_hu`` (:func:`eusaug.surface.body_surface`).

Transabdominal probes see deeper than echoendoscopes: pass a field of view to match,
e.g. :data:`TRANSABDOMINAL_FOV` (150 mm deep); the sampler uses the one it is given.

Two restrictions make drawing efficient without changing which poses can be kept:

* ``max_from_anterior_deg``: the patient lies supine, so the back (skin whose outward
  normal is more than this angle from anterior) is out of reach; 180 allows all skin.
* ``restrict_to_reach``: skin from which no beam in the cone, at any roll, can put any
  landmark voxel inside the field of view is dropped before drawing. The test is
  conservative (margins of a voxel and a pixel), so it only saves draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from eusaug import hookimpl
from eusaug.ct import CTCase
from eusaug.errors import EusaugError
from eusaug.geometry import BODY_THRESHOLD_HU, FieldOfView, Surface, body_surface
from eusaug.plugin import opt

from .surface_sampling import ANTERIOR, SurfaceConeOptions, SurfaceConeSampler

#: A curvilinear abdominal probe: 60 deg fan, 150 mm deep, 50 mm radius of curvature.
TRANSABDOMINAL_FOV = FieldOfView(depth_mm=150.0, opening_deg=60.0, probe_radius_mm=50.0)

#: Side (mm) of the cells of skin tested together for reach.
REACH_CELL_MM = 6.0

#: At most this many landmark points are used to test which skin can reach the landmark.
MAX_REACH_POINTS = 3000


def fov_reach(fov: FieldOfView, bin_mm: float) -> tuple[float, np.ndarray]:
    """How far the field of view reaches, and how wide, seen from the transducer.

    Returns ``(reach_mm, widest_rad)``: the largest distance of a field-of-view pixel from
    the transducer, and per ``bin_mm`` distance bin the largest angle between the beam
    and a pixel at that distance (a neighbouring bin's value counts too, for margin).
    """
    u, v = fov.pixel_coordinates_mm()
    inside = fov.mask()
    distance = np.hypot(u, v)[inside]
    angle = np.arctan2(np.abs(u), v)[inside]
    bins = (distance // bin_mm).astype(int)
    widest = np.full(int(bins.max()) + 2, -np.inf)
    np.maximum.at(widest, bins, angle)
    widest = np.maximum(widest, np.maximum(np.roll(widest, 1), np.roll(widest, -1)))
    widest[-1] = max(widest[-1], widest[-2])
    return float(distance.max()), widest


def landmark_points(mask: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, float]:
    """At most :data:`MAX_REACH_POINTS` landmark voxel centres on a regular lattice (world mm).

    Returns the points and the lattice's half-diagonal in mm: every landmark voxel that
    has lattice neighbours inside the landmark is within that distance of a point.
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    ijk = np.argwhere(mask)
    step_mm = float(spacing.min())
    while True:
        stride = np.maximum(1, np.round(step_mm / spacing)).astype(int)
        chosen = ijk[(ijk % stride == 0).all(axis=1)]
        if 0 < len(chosen) <= MAX_REACH_POINTS or (stride > np.array(mask.shape)).all():
            break
        step_mm *= 1.25
    if len(chosen) == 0:  # a landmark thinner than the lattice: evenly spaced voxels of it instead
        chosen = ijk[:: max(1, -(-len(ijk) // MAX_REACH_POINTS))]
    points = chosen @ affine[:3, :3].T + affine[:3, 3]
    return points, 0.5 * float(np.linalg.norm(stride * spacing))


@dataclasses.dataclass(frozen=True)
class SkinSurfaceOptions(SurfaceConeOptions):
    """The surface options plus how the skin is found and which part of it the probe may touch."""

    threshold_hu: float = dataclasses.field(default=BODY_THRESHOLD_HU, metadata=opt("Body outline threshold (HU)."))
    max_from_anterior_deg: float = dataclasses.field(
        default=110.0, metadata=opt("Largest angle of the skin normal from anterior (deg, (0, 180])."))
    restrict_to_reach: bool = dataclasses.field(default=True, metadata=opt("Only skin close enough to see the landmark."))
    smoothing_mm: float | None = dataclasses.field(default=None, metadata=opt("Surface smoothing (mm; none: default)."))
    normal_smoothing_mm: float | None = dataclasses.field(
        default=None, metadata=opt("Normal smoothing (mm; none: default)."))
    # 2 %, not the paper filter's 20 %: a probe on the skin sees only body, so any fan leaving the CT
    # is a CT artefact (raysim 224 -> 216, hybrid 172 -> 168 FID in one measurement, issue 18).
    max_outside_fraction: float = dataclasses.field(
        default=0.02, metadata=opt("Largest share of the fan outside the CT volume (replaces the slice filter's)."))
    # 1 %, not the slice filter's tenth: a gas pocket deep in the fan shadows little of it yet is drawn as
    # a black hole no real transabdominal frame shows (raysim 178.3 -> 172.0 FID on d, e, issue 18).
    max_gas_shadow_fraction: float = dataclasses.field(
        default=0.01, metadata=opt("Largest share of the fan shadowed by bowel gas (replaces the slice filter's)."))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.max_from_anterior_deg <= 180.0:
            raise EusaugError(
                f"max_from_anterior_deg={self.max_from_anterior_deg} must be in (0, 180]: 90 allows the front "
                "half of the skin, 110 (default) adds the flanks, 180 all of it."
            )
        for name, meaning in (("max_outside_fraction", "a share of the fan"),
                              ("max_gas_shadow_fraction", "a share of the fan; 1 turns the gas rule off")):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise EusaugError(f"{name}={value} must be in [0, 1] ({meaning}).")
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "threshold_hu", float(self.threshold_hu))
        object.__setattr__(self, "max_from_anterior_deg", float(self.max_from_anterior_deg))


class SkinSurfaceSampler(SurfaceConeSampler):
    """Poses on the skin, beams in a cone around the inward normal (transabdominal ultrasound)."""

    name = "skin-surface"
    description = "Probe on the skin (body outline from HU), beam in a cone around the inward normal, filtered views."
    beam_side = -1.0
    extra_fix = "use a deeper field of view (depth_mm), "

    options_class = SkinSurfaceOptions

    def surface_name(self) -> str:
        return "skin (body surface)"

    def surface(self, case: CTCase) -> Surface:
        """The whole skin with outward normals (no body above ``threshold_hu`` is an error)."""
        return body_surface(case, self.threshold_hu, self.smoothing_mm, self.normal_smoothing_mm)

    def candidate_surface(self, case: CTCase, landmark: str, fov: FieldOfView) -> Surface:
        """The skin within reach: not on the back, and close enough to the landmark to see it."""
        skin = self.surface(case)
        centroids = skin.triangles_mm.mean(axis=1)
        outward = skin.normals_at(centroids)
        with np.errstate(invalid="ignore"):
            front = outward @ ANTERIOR >= np.cos(np.deg2rad(self.max_from_anterior_deg)) - 1e-9
        if not front.any():
            raise EusaugError(
                f"No skin of {case.ct.path or 'the CT'} faces within max_from_anterior_deg="
                f"{self.max_from_anterior_deg:g} deg of anterior: is the CT in RAS world coordinates "
                "with the patient supine? Raise max_from_anterior_deg (180 allows all skin)."
            )
        keep = front
        if self.restrict_to_reach:
            keep = front & self._reaches(case, landmark, fov, centroids, -outward)
            if not keep.any():
                reach_mm, _ = fov_reach(fov, 1.0)
                raise EusaugError(
                    f"No skin point of {case.ct.path or 'the CT'} can see {landmark!r}: no landmark voxel is "
                    f"within the field of view ({reach_mm:.0f} mm reach, depth_mm={fov.depth_mm:g}) of a beam "
                    f"within cone_deg={self.cone_deg:g} of the inward normal on the skin facing at most "
                    f"{self.max_from_anterior_deg:g} deg from anterior. Fix: a deeper field of view (e.g. "
                    "FieldOfView(depth_mm=150)), a wider cone_deg, or a larger max_from_anterior_deg."
                )
        return skin.subset(keep)

    def _reaches(
        self, case: CTCase, landmark: str, fov: FieldOfView, origins: np.ndarray, inward: np.ndarray
    ) -> np.ndarray:
        """Per origin: can some beam in the cone, at some roll, put a landmark point in view?

        With the roll free, a point at distance ``r`` and angle ``phi`` from the cone axis is
        in view of some beam when ``r`` is within the reach and ``phi - cone_deg`` is at most
        the field of view's widest angle at ``r``. Origins are tested per cell of
        :data:`REACH_CELL_MM`, with the cell's spread of positions and normals, the point
        lattice and a pixel as margins.
        """
        result = np.zeros(len(origins), dtype=bool)
        usable = np.flatnonzero(np.isfinite(inward).all(axis=1))
        if len(usable) == 0:
            return result
        cell_ijk = np.floor(origins[usable] / REACH_CELL_MM).astype(np.int64)
        cell_ijk -= cell_ijk.min(axis=0)
        keys = np.ravel_multi_index(cell_ijk.T, tuple(cell_ijk.max(axis=0) + 1))
        cells, which = np.unique(keys, return_inverse=True)
        count = np.bincount(which, minlength=len(cells))[:, None]
        centre = np.stack([np.bincount(which, origins[usable, k], len(cells)) for k in range(3)], axis=1) / count
        summed = np.stack([np.bincount(which, inward[usable, k], len(cells)) for k in range(3)], axis=1)
        axis = summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-9)
        spread_mm = np.zeros(len(cells))
        np.maximum.at(spread_mm, which, np.linalg.norm(origins[usable] - centre[which], axis=1))
        spread_rad = np.zeros(len(cells))
        cos_spread = np.clip((inward[usable] * axis[which]).sum(axis=1), -1.0, 1.0)
        np.maximum.at(spread_rad, which, np.arccos(cos_spread))

        voxel_mm = 0.5 * float(np.linalg.norm(np.linalg.norm(case.affine[:3, :3], axis=0)))  # half-diagonal
        points, lattice_mm = landmark_points(case.mask(landmark), case.affine)
        fixed_mm = lattice_mm + voxel_mm + fov.pixel_mm
        margin_mm = fixed_mm + spread_mm[:, None]  # (cells, 1)
        bin_mm = max(fixed_mm, 1.0)
        reach_mm, widest = fov_reach(fov, bin_mm)
        cone = np.deg2rad(self.cone_deg) + spread_rad[:, None]
        seen = np.zeros(len(cells), dtype=bool)
        chunk = max(1, 2_000_000 // max(1, len(points)))
        for start in range(0, len(cells), chunk):
            rows = slice(start, start + chunk)
            offsets = points[None, :, :] - centre[rows, None, :]
            distance = np.linalg.norm(offsets, axis=2)
            cos_phi = np.einsum("cpk,ck->cp", offsets, axis[rows]) / np.maximum(distance, 1e-9)
            phi = np.arccos(np.clip(cos_phi, -1.0, 1.0))
            margin = margin_mm[rows]
            slack = np.arcsin(np.clip(margin / np.maximum(distance, 1e-9), 0.0, 1.0))
            bins = np.minimum((distance // bin_mm).astype(int), len(widest) - 1)
            near = distance <= reach_mm + margin
            touching = distance <= margin
            seen[rows] = (touching | (near & (phi - cone[rows] - slack <= widest[bins]))).any(axis=1)
        result[usable] = seen[which]
        return result


@hookimpl
def eusaug_pose_samplers() -> list[type]:
    return [SkinSurfaceSampler]
