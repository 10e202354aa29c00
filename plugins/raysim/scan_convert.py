"""Scan conversion: resample images between a field of view's pixel grid and its beams.

Ultrasound is formed along beam lines (one column per beam, one row per depth sample)
and shown on a Cartesian grid. For a ``sector`` field of view the beams fan out from a
virtual apex ``probe_radius_mm`` above the array face (so this is polar <-> Cartesian);
for a ``rectangle`` they are parallel. Simulators work on the beam grid, where depth is
one array axis, and scan-convert back for display.

Both directions are bilinear gathers whose indices and weights are computed once per
:class:`BeamGrid`, so a whole batch ``(N, H, W)`` is resampled with four vectorised takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eusaug.errors import EusaugError
from eusaug.geometry import FieldOfView


@dataclass(frozen=True)
class _Gather:
    """Precomputed resampling: ``out[:, p] = sum_k weights[k, p] * x[:, index[k, p]]``."""

    index: np.ndarray  # (K, P) int64 flat indices into the source grid
    weights: np.ndarray  # (K, P) float32
    inside: np.ndarray  # (P,) bool: target point lies within the source's extent

    def apply(self, source: np.ndarray, out_shape: tuple[int, ...], fill: float | None) -> np.ndarray:
        flat = source.reshape(source.shape[0], -1)
        out = np.take(flat, self.index[0], axis=1) * self.weights[0]
        for k in range(1, self.index.shape[0]):
            out += np.take(flat, self.index[k], axis=1) * self.weights[k]
        if fill is not None:
            out[:, ~self.inside] = fill
        return out.reshape((source.shape[0], *out_shape))


def _bilinear(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> _Gather:
    """Gather for fractional ``(rows, cols)`` on a grid of ``shape`` (edge values beyond it)."""
    height, width = shape
    inside = (rows >= -0.5) & (rows <= height - 0.5) & (cols >= -0.5) & (cols <= width - 0.5)
    rows = np.clip(rows, 0.0, height - 1.0).ravel()
    cols = np.clip(cols, 0.0, width - 1.0).ravel()
    r0 = np.minimum(np.floor(rows).astype(np.int64), height - 2) if height > 1 else np.zeros(rows.size, np.int64)
    c0 = np.minimum(np.floor(cols).astype(np.int64), width - 2) if width > 1 else np.zeros(cols.size, np.int64)
    fr = (rows - r0).astype(np.float32)
    fc = (cols - c0).astype(np.float32)
    r1 = np.minimum(r0 + 1, height - 1)
    c1 = np.minimum(c0 + 1, width - 1)
    index = np.stack([r0 * width + c0, r0 * width + c1, r1 * width + c0, r1 * width + c1])
    weights = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc])
    return _Gather(index, weights, inside.ravel())


def _nearest(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> _Gather:
    height, width = shape
    inside = (rows >= -0.5) & (rows <= height - 0.5) & (cols >= -0.5) & (cols <= width - 0.5)
    r = np.clip(np.rint(rows), 0, height - 1).astype(np.int64).ravel()
    c = np.clip(np.rint(cols), 0, width - 1).astype(np.int64).ravel()
    return _Gather((r * width + c)[None], np.ones((1, r.size), np.float32), inside.ravel())


@dataclass(frozen=True)
class BeamGrid:
    """``n_beams`` beam lines x ``n_samples`` depth samples covering ``fov``.

    Beams are evenly spaced in angle (sector, :attr:`beam_positions` in radians, 0 along
    the beam axis, positive towards +lateral) or in lateral position (rectangle, mm).
    Samples are evenly spaced from the array face (depth 0) to ``fov.depth_mm``.
    Arrays on this grid are ``(N, n_beams, n_samples)``: depth is the last axis.
    """

    fov: FieldOfView
    n_beams: int
    n_samples: int
    _cache: dict[str, _Gather] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.n_beams < 2 or self.n_samples < 2:
            raise EusaugError(f"Beam grid {self.n_beams} beams x {self.n_samples} samples is too small (>= 2 each).")

    @classmethod
    def for_fov(cls, fov: FieldOfView, beams_per_px: float = 1.0, samples_per_px: float = 1.0) -> BeamGrid:
        """A grid about as fine as ``fov``'s pixels: ``width_px`` beams, ``height_px`` samples."""
        return cls(fov, max(2, round(fov.width_px * beams_per_px)), max(2, round(fov.height_px * samples_per_px)))

    # -- geometry -------------------------------------------------------------------
    @property
    def depths_mm(self) -> np.ndarray:
        """``(n_samples,)`` depth of each sample below the array face, mm."""
        return np.linspace(0.0, self.fov.depth_mm, self.n_samples)

    @property
    def sample_mm(self) -> float:
        """Spacing of samples along a beam, mm."""
        return self.fov.depth_mm / (self.n_samples - 1)

    @property
    def beam_positions(self) -> np.ndarray:
        """``(n_beams,)`` beam angles (sector, radians) or lateral positions (rectangle, mm)."""
        if self.fov.kind == "sector":
            half = np.deg2rad(self.fov.opening_deg) / 2.0
            return np.linspace(-half, half, self.n_beams)
        return np.linspace(-self.fov.width_mm / 2.0, self.fov.width_mm / 2.0, self.n_beams)

    def beam_spacing_mm(self, depth_mm: float) -> float:
        """Lateral distance between neighbouring beams at ``depth_mm`` below the array face."""
        step = float(self.beam_positions[1] - self.beam_positions[0])
        if self.fov.kind == "sector":
            return step * (self.fov.probe_radius_mm + depth_mm)
        return step

    def points_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """In-plane coordinates ``(u, v)`` mm of every beam sample, each ``(n_beams, n_samples)``."""
        position = self.beam_positions[:, None]
        depth = self.depths_mm[None, :]
        if self.fov.kind == "sector":
            radius = self.fov.probe_radius_mm + depth
            return radius * np.sin(position), radius * np.cos(position) - self.fov.probe_radius_mm
        return np.broadcast_to(position, (self.n_beams, self.n_samples)), np.broadcast_to(
            depth, (self.n_beams, self.n_samples)
        )

    def _pixel_indices(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) on the fov pixel grid of in-plane points (u, v) mm."""
        return self.fov.pixel_indices(u, v)

    def _beam_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (beam, sample) of every fov pixel centre."""
        u, v = self.fov.pixel_coordinates_mm()
        positions = self.beam_positions
        step = positions[1] - positions[0]
        if self.fov.kind == "sector":
            r0 = self.fov.probe_radius_mm
            lateral, depth = np.arctan2(u, v + r0), np.hypot(u, v + r0) - r0
        else:
            lateral, depth = u, v
        return (lateral - positions[0]) / step, depth / self.sample_mm

    def _gather(self, key: str) -> _Gather:
        if key not in self._cache:
            if key.startswith("to_beams"):
                rows, cols = self._pixel_indices(*self.points_mm())
                shape = (self.fov.height_px, self.fov.width_px)
            else:
                rows, cols = self._beam_indices()
                shape = (self.n_beams, self.n_samples)
            make = _nearest if key.endswith("nearest") else _bilinear
            self._cache[key] = make(rows, cols, shape)
        return self._cache[key]

    # -- resampling -----------------------------------------------------------------
    def to_beams(self, images: np.ndarray, nearest: bool = False) -> np.ndarray:
        """Sample ``(N, H, W)`` images on the fov grid along the beams: ``(N, n_beams, n_samples)``.

        Bilinear for intensities; ``nearest=True`` for label ids (dtype kept).
        """
        images = self._check(images, (self.fov.height_px, self.fov.width_px), "images")
        gather = self._gather("to_beams_nearest" if nearest else "to_beams")
        source = images if nearest else images.astype(np.float32, copy=False)
        out = gather.apply(source, (self.n_beams, self.n_samples), None)
        return out.astype(images.dtype, copy=False) if nearest else out

    def to_image(self, beams: np.ndarray, fill: float = -1.0, nearest: bool = False) -> np.ndarray:
        """Scan-convert ``(N, n_beams, n_samples)`` to ``(N, H, W)``; ``fill`` outside the fov."""
        beams = self._check(beams, (self.n_beams, self.n_samples), "beams")
        gather = self._gather("to_image_nearest" if nearest else "to_image")
        source = beams if nearest else beams.astype(np.float32, copy=False)
        out = gather.apply(source, (self.fov.height_px, self.fov.width_px), None)
        out = np.where(self.fov.mask()[None], out, np.asarray(fill, dtype=out.dtype))
        return out.astype(beams.dtype, copy=False) if nearest else out.astype(np.float32, copy=False)

    @staticmethod
    def _check(array: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
        array = np.asarray(array)
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3 or array.shape[1:] != shape:
            raise EusaugError(f"Scan conversion: {what} must be (N, {shape[0]}, {shape[1]}), got {array.shape}.")
        return array
