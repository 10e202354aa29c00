"""Sliced CT planes, the HU window that feeds translators, and the paper's slice filter.

The slicing itself is done by slicer plugins (the bundled one is ``plane``); this
module holds the data they return and the reference sampling they must agree with.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from eusaug.ct.labels import LabelPreset
from eusaug.ct.volume import AIR_HU, BONE_RULES, DEFAULT_BONE_HU, BoneRule, CTCase, bone_mask
from eusaug.errors import EusaugError
from eusaug.geometry.field_of_view import FieldOfView, plane_points_world

#: The grid size (pixels) at which the paper's thresholds (1000 / 50 px) are meant.
PAPER_GRID_PX = 256 * 256

#: Verdicts of the slice filter (the ``status`` column of ``manifest.csv``).
KEPT = "kept"
TOO_FEW_LANDMARK = "too few landmark pixels"
TOO_MUCH_BONE = "too much bone"
TOO_MUCH_OUTSIDE = "too much outside the CT"
TOO_MUCH_GAS = "too much gas shadow"

#: Default largest share of the fan allowed outside the CT volume: a plane that leaves the
#: scan over more than a fifth of its fan teaches a translator black where tissue would be.
MAX_OUTSIDE_FRACTION = 0.2

#: HU below which a sample inside the body is gas (bowel gas, lung): air is -1000 HU, fat
#: -100, so -500 leaves partial-volume fat alone yet catches gas blurred by 3 mm voxels.
GAS_HU = -500.0
#: HU from which a sample counts as body tissue: air before it along a beam is the gap
#: between the probe and the skin (coupling gel on a real scan), not gas.
BODY_HU = -200.0
#: Default largest share of the fan shadowed by gas. A sonographer moves the probe, presses
#: the bowel aside, or changes the patient's breath until the target is seen; a view with a
#: small shadow at its edge is kept (shadows of a gas bubble or a rib under a tenth of the
#: fan are common in diagnostic images), but one whose shadow hides more than a tenth of
#: the fan shows a black wedge no real training frame has, and teaches translators black.
MAX_GAS_SHADOW_FRACTION = 0.1


def beam_coordinates(fov: FieldOfView, n_beams: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(beam index, depth mm)`` of every grid pixel, each ``(H, W)``: which beam line a pixel is on.

    Beams are ``n_beams`` (default: the grid's width) equal bins of the fan's angle
    (``sector``) or of the lateral position (``rectangle``); depth runs along each beam.
    """
    n = int(n_beams or fov.width_px)
    u, v = fov.pixel_coordinates_mm()
    if fov.kind == "rectangle":
        lateral, depth = (u + fov.width_mm / 2.0) / fov.width_mm, v
    else:
        half = np.deg2rad(fov.opening_deg) / 2.0
        lateral = (np.arctan2(u, v + fov.probe_radius_mm) + half) / (2.0 * half)
        depth = np.hypot(u, v + fov.probe_radius_mm) - fov.probe_radius_mm
    return np.clip((lateral * n).astype(np.int64), 0, n - 1), depth


@dataclass(frozen=True)
class HUWindow:
    """A CT display window; the default is the usual abdominal soft-tissue window."""

    level: float = 40.0
    width: float = 400.0

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise EusaugError(f"HU window width {self.width} must be positive.")

    def to_unit(self, hu: np.ndarray) -> np.ndarray:
        """Map HU to float32 in [-1, 1] (window bottom -> -1, top -> +1)."""
        low = self.level - self.width / 2.0
        out = (np.asarray(hu, dtype=np.float32) - np.float32(low)) * np.float32(2.0 / self.width) - 1.0
        return np.clip(out, -1.0, 1.0)


@dataclass
class Planes:
    """A batch of sliced planes.

    ``hu``: ``(N, H, W)`` float32 HU (air, -1024, outside the CT); ``labels``: ``(N, H, W)``
    integer label ids (0 outside the CT); ``mask``: ``(N, H, W)`` bool, True inside the
    field of view; ``poses``: ``(N, 4, 4)`` float64 world mm; ``label_preset``: the label preset
    that names the ids in ``labels`` (None when unknown), so translators that use labels
    read BTCV and TotalSegmentator maps alike; ``inside``: ``(N, H, W)`` bool, True where
    the pixel lies inside the CT volume (None: slicer did not say, taken as all inside),
    so air in the body is told apart from "no CT here".
    """

    hu: np.ndarray
    labels: np.ndarray
    mask: np.ndarray
    poses: np.ndarray
    fov: FieldOfView
    label_preset: LabelPreset | None = None
    inside: np.ndarray | None = None

    @property
    def preset(self) -> LabelPreset | None:
        """Deprecated (one release): :attr:`label_preset` ("preset" now means named settings only)."""
        warnings.warn("Planes.preset is deprecated: use Planes.label_preset.", DeprecationWarning, stacklevel=2)
        return self.label_preset

    def __len__(self) -> int:
        return int(self.hu.shape[0])

    @property
    def visible(self) -> np.ndarray:
        """``(N, H, W)`` bool: in the field of view and inside the CT; translators draw black elsewhere."""
        return self.mask if self.inside is None else self.mask & self.inside

    def outside_fraction(self) -> np.ndarray:
        """``(N,)`` float64: share of each plane's field of view that lies outside the CT volume."""
        if self.inside is None:
            return np.zeros(len(self))
        fan = self.mask.sum(axis=(1, 2))
        outside = (self.mask & ~self.inside).sum(axis=(1, 2))
        return outside / np.maximum(fan, 1)

    def gas_shadow_fraction(self, gas_hu: float = GAS_HU, body_hu: float = BODY_HU) -> np.ndarray:
        """``(N,)`` float64: share of each fan shadowed by gas in the body.

        Along each beam, gas (below ``gas_hu``, inside the CT) deeper than the beam's first
        body tissue (from ``body_hu``) reflects nearly all sound, so the gas and everything
        below it is shadowed. Air before the skin is not gas (the probe is coupled by gel).
        """
        beam, depth = beam_coordinates(self.fov)
        fan = self.fov.mask()
        beam_f, depth_f = beam[fan], depth[fan]
        n_beams = int(beam.max()) + 1
        out = np.zeros(len(self))
        for k in range(len(self)):
            hu = self.hu[k][fan]
            inside = np.ones(hu.shape, bool) if self.inside is None else self.inside[k][fan]
            skin = np.full(n_beams, np.inf)
            body = inside & (hu >= body_hu)
            np.minimum.at(skin, beam_f[body], depth_f[body])
            gas = inside & (hu < gas_hu) & (depth_f > skin[beam_f])
            first_gas = np.full(n_beams, np.inf)
            np.minimum.at(first_gas, beam_f[gas], depth_f[gas])
            out[k] = float((depth_f >= first_gas[beam_f]).mean()) if fan.any() else 0.0
        return out

    def windowed(self, window: HUWindow | None = None) -> np.ndarray:
        """``(N, H, W)`` float32 in [-1, 1]; -1 outside the field of view."""
        unit = (window or HUWindow()).to_unit(self.hu)
        return np.where(self.mask, unit, np.float32(-1.0)).astype(np.float32, copy=False)

    def subset(self, index: np.ndarray | slice | list[int]) -> Planes:
        return Planes(self.hu[index], self.labels[index], self.mask[index], self.poses[index], self.fov,
                      self.label_preset, None if self.inside is None else self.inside[index])


def reference_slice(case: CTCase, poses: np.ndarray, fov: FieldOfView) -> Planes:
    """Slice with ``scipy.ndimage.map_coordinates``: slow but obviously right.

    The baseline that fast slicers are checked against (trilinear HU, nearest labels).
    """
    from scipy.ndimage import map_coordinates

    poses = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    points = plane_points_world(poses, fov)
    ijk = case.ct.world_to_voxel(points)
    coords = np.moveaxis(ijk, -1, 0)
    hu = map_coordinates(case.ct.hu, coords, order=1, mode="constant", cval=AIR_HU).astype(np.float32)
    labels = map_coordinates(case.labels.ids, coords, order=0, mode="constant", cval=0)
    mask = np.broadcast_to(fov.mask(), hu.shape).copy()
    upper = np.array(case.ct.hu.shape, np.float64) - 1.0
    tolerance = 1e-6
    inside = np.asarray(((ijk >= -tolerance) & (ijk <= upper + tolerance)).all(axis=-1), dtype=bool)
    return Planes(hu, labels.astype(case.labels.ids.dtype), mask, poses, fov, case.label_preset, inside)


@dataclass(frozen=True)
class SliceFilter:
    """The paper's plane filter: > ``min_landmark_px`` landmark and < ``max_bone_px`` bone pixels.

    Paper, section 2.3: "CT slices were selectively generated so that EUS images were
    paired only with CT slices containing >1000 labelled pixels and < 50 pixels with high
    Hounsfield Units, indicative of bone." Counts are taken inside the field of view on
    the output grid. The paper's numbers are meant at 256x256 (:data:`PAPER_GRID_PX`);
    with ``scale_with_grid`` they scale with the number of grid pixels, so a 128x128 grid
    asks for > 250 and < 12.5. Bone follows ``bone_rule`` (see
    :func:`eusaug.ct.volume.bone_mask`): ``hu``, the paper's, counts pixels above
    ``bone_hu`` (:data:`~eusaug.ct.volume.DEFAULT_BONE_HU`, 200 HU, eusaug's choice: the
    paper gives no number); ``labels`` (the preset's bone labels) and ``either`` are opt-ins.
    Planes whose field of view leaves the CT volume over more than ``max_outside_fraction``
    of its pixels are rejected first (:data:`TOO_MUCH_OUTSIDE`; 1 turns the rule off), then
    those whose fan is shadowed by gas over more than ``max_gas_shadow_fraction``
    (:data:`TOO_MUCH_GAS`, see :meth:`Planes.gas_shadow_fraction` and
    :data:`MAX_GAS_SHADOW_FRACTION` for why a tenth; 1 turns the rule off).
    """

    min_landmark_px: int = 1000
    max_bone_px: int = 50
    bone_hu: float = DEFAULT_BONE_HU
    scale_with_grid: bool = True
    bone_rule: BoneRule = "hu"
    max_outside_fraction: float = MAX_OUTSIDE_FRACTION
    max_gas_shadow_fraction: float = MAX_GAS_SHADOW_FRACTION

    def __post_init__(self) -> None:
        if not 0 <= self.max_gas_shadow_fraction <= 1:
            raise EusaugError(
                f"Slice filter max_gas_shadow_fraction={self.max_gas_shadow_fraction} must be in [0, 1] "
                "(a share of the field of view; 1 turns the gas rule off)."
            )
        if not 0 <= self.max_outside_fraction <= 1:
            raise EusaugError(
                f"Slice filter max_outside_fraction={self.max_outside_fraction} must be in [0, 1] "
                "(a share of the field of view)."
            )
        if self.min_landmark_px < 0 or self.max_bone_px <= 0:
            raise EusaugError(
                f"Slice filter thresholds min_landmark_px={self.min_landmark_px} (>= 0) and "
                f"max_bone_px={self.max_bone_px} (> 0) are out of range."
            )
        if self.bone_rule not in BONE_RULES:
            raise EusaugError(f"Slice filter bone_rule={self.bone_rule!r} is unknown: use one of "
                              f"{', '.join(BONE_RULES)} (hu is the paper's).")

    def thresholds(self, fov: FieldOfView) -> tuple[float, float]:
        """(landmark, bone) thresholds on ``fov``'s grid."""
        scale = fov.height_px * fov.width_px / PAPER_GRID_PX if self.scale_with_grid else 1.0
        return self.min_landmark_px * scale, self.max_bone_px * scale

    def counts(self, planes: Planes, landmark_id: int, preset: LabelPreset | None) -> tuple[np.ndarray, np.ndarray]:
        """``(landmark_px, bone_px)``, each ``(N,)`` int64, inside the field of view."""
        inside = planes.mask
        landmark_px = ((planes.labels == landmark_id) & inside).sum(axis=(1, 2))
        bone = bone_mask(planes.hu, planes.labels, preset, self.bone_hu, self.bone_rule)
        bone_px = (bone & inside).sum(axis=(1, 2))
        return landmark_px.astype(np.int64), bone_px.astype(np.int64)

    def reasons(self, planes: Planes, landmark_id: int, preset: LabelPreset | None) -> list[str]:
        """Per plane: :data:`KEPT` or the reason it is rejected."""
        landmark_px, bone_px = self.counts(planes, landmark_id, preset)
        return self.verdicts(landmark_px, bone_px, planes.fov, planes.outside_fraction(), self.gas_of(planes))

    def gas_of(self, planes: Planes) -> np.ndarray | None:
        """Gas-shadowed share of each fan, or None when the gas rule is off (skips the work)."""
        return None if self.max_gas_shadow_fraction >= 1 else planes.gas_shadow_fraction()

    def verdicts(self, landmark_px: np.ndarray, bone_px: np.ndarray, fov: FieldOfView,
                 outside_fraction: np.ndarray | None = None,
                 gas_shadow_fraction: np.ndarray | None = None) -> list[str]:
        """The verdict for each pair of counts (outside share first when given, gas, then landmark)."""
        min_landmark, max_bone = self.thresholds(fov)
        size = len(np.asarray(landmark_px))
        outside = np.zeros(size) if outside_fraction is None else np.asarray(outside_fraction)
        gas = np.zeros(size) if gas_shadow_fraction is None else np.asarray(gas_shadow_fraction)
        out = []
        for lm, bn, off, shadow in zip(np.asarray(landmark_px), np.asarray(bone_px), outside, gas):
            if off > self.max_outside_fraction:
                out.append(TOO_MUCH_OUTSIDE)
            elif shadow > self.max_gas_shadow_fraction:
                out.append(TOO_MUCH_GAS)
            elif lm <= min_landmark:
                out.append(TOO_FEW_LANDMARK)
            elif bn >= max_bone:
                out.append(TOO_MUCH_BONE)
            else:
                out.append(KEPT)
        return out

    def describe(self, fov: FieldOfView) -> str:
        """The thresholds in words, on ``fov``'s grid (for messages)."""
        landmark, bone = self.thresholds(fov)
        what = {"hu": f"> {self.bone_hu:g} HU", "labels": "bone labels",
                "either": f"bone labels or > {self.bone_hu:g} HU"}[self.bone_rule]
        text = (f"> {landmark:g} landmark px and < {bone:g} bone px ({what}) on "
                f"{fov.height_px}x{fov.width_px}")
        if self.max_outside_fraction < 1:
            text += f", <= {self.max_outside_fraction:.0%} outside the CT"
        if self.max_gas_shadow_fraction < 1:
            text += f", <= {self.max_gas_shadow_fraction:.0%} shadowed by gas"
        return text

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SliceFilter:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)
