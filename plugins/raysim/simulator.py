"""The ``raysim`` translator: a training-free, ray-based ultrasound simulator (CT plane -> B-mode image).

In the spirit of the ray-casting simulators the paper builds on (Vitale et al. 2019,
after Burger et al. 2013): tissue properties are looked up from HU, each beam line is
followed from the transducer, and the echo at each depth is

    (diffuse scatter * Rayleigh speckle + specular interface reflection)
        * transmission through the interfaces above it * attenuation of the path,

blurred by an anisotropic point-spread function, then time-gain compensated,
log-compressed and scan-converted into the field of view. Everything is computed on
the beam grid of :class:`eusaug_plugins.raysim.scan_convert.BeamGrid` (depth along the last axis), so
a batch is a handful of array operations.

Non-contrast CT cannot tell blood from liver (both ~40 HU), so vessels and other
fluid-filled organs are made anechoic from the label map, and their walls (which 3 mm
CT cannot resolve) echo weakly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from eusaug_plugins.raysim.params import PRESETS, RaySimParams, coerce_option, preset_for
from eusaug_plugins.raysim.scan_convert import BeamGrid
from eusaug_plugins.raysim.tissue import GEL_HU, tissue_lookup
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from eusaug import EusaugError, LabelPreset, Planes, Translator, get_preset
from eusaug.geometry import FieldOfView
from eusaug.translate import RAYLEIGH_MEAN

#: Depth bands over which a sector's lateral PSF width (in beams) is held constant.
LATERAL_BANDS = 16


@dataclass
class RaySimOutput:
    """What :meth:`RaySim.simulate` returns, with the stages tests and figures look at.

    ``image``: ``(N, H, W)`` float32 in [-1, 1], -1 outside the field of view and the CT volume.
    ``envelope``: ``(N, n_beams, n_samples)`` float32 linear echo envelope before TGC
    (relative to diffuse soft tissue, whose speckle has mean :data:`RAYLEIGH_MEAN`).
    ``tgc_gain``: ``(n_samples,)`` float32 amplitude gain applied at each depth.
    """

    image: np.ndarray
    envelope: np.ndarray
    tgc_gain: np.ndarray
    grid: BeamGrid = field(repr=False)


def _gaussian_kernel(sigma_samples: float) -> np.ndarray:
    """The normalised kernel ``gaussian_filter1d`` applies for ``sigma_samples``."""
    impulse = np.zeros(int(4 * sigma_samples + 0.5) * 2 + 3)
    impulse[impulse.size // 2] = 1.0
    return gaussian_filter1d(impulse, sigma_samples, mode="constant")


def _kernel_sum_squares(sigma_samples: float) -> float:
    """Variance left in white noise after blurring: the sum of the squared kernel."""
    return float((_gaussian_kernel(sigma_samples) ** 2).sum())


def _kernel_peak(sigma_samples: float) -> float:
    """Peak left of a one-sample line after blurring: the kernel's centre value."""
    return float(_gaussian_kernel(sigma_samples).max())


def _extend_into_outside(planes: Planes) -> tuple[np.ndarray, np.ndarray]:
    """HU (float32 copy) and labels with pixels outside the CT volume set to the nearest inside pixel.

    The volume's edge is no tissue interface: filling it this way keeps the smoothing and
    the impedance steps from drawing a bright line where the CT ends.
    """
    from scipy.ndimage import distance_transform_edt

    hu = planes.hu.astype(np.float32, copy=True)
    labels = planes.labels
    if planes.inside is None or planes.inside.all():
        return hu, labels
    labels = labels.copy()
    for k, inside in enumerate(planes.inside):
        if inside.all() or not inside.any():
            continue
        rows, cols = distance_transform_edt(~inside, return_distances=False, return_indices=True)
        hu[k] = hu[k][rows, cols]
        labels[k] = labels[k][rows, cols]
    return hu, labels


class RaySim(Translator):
    """Ray-based ultrasound simulation from HU: reflections, shadows, attenuation, speckle."""

    name = "raysim"
    description = "Physics-based (ray) ultrasound simulation from CT, no training; the baseline."
    needs_model = False
    options_class = RaySimParams

    def __init__(self, preset: str | None = None, **overrides: Any) -> None:
        """``preset``: the named settings to start from (default: the calibration's, else ``eus``)."""
        if preset is not None and preset not in PRESETS:
            raise EusaugError(f"raysim: unknown preset {preset!r}: use one of {', '.join(PRESETS)}.")
        unknown = sorted(set(overrides) - set(RaySimParams.__dataclass_fields__))
        if unknown:
            raise EusaugError(
                f"raysim: unknown option(s) {', '.join(unknown)}: "
                f"known ones are {', '.join(RaySimParams.__dataclass_fields__)}."
            )
        calibration = overrides.get("calibration")
        self._calibration_record: dict[str, Any] | None = None
        if calibration not in (None, "", "none", "None"):
            from eusaug_plugins.raysim.calibration import read_calibration_record

            self._calibration_record = read_calibration_record(calibration)
            fitted_with = self._calibration_record.get("preset")
            # Fitted values are relative to their preset (TGC per MHz, noise, interface width): never mix presets.
            if preset is not None and fitted_with in PRESETS and fitted_with != preset:
                raise EusaugError(
                    f"raysim: the calibration {calibration} was fitted with preset {fitted_with}, not {preset}: leave "
                    f"the preset out (or give preset={fitted_with}), or calibrate again with preset={preset}.")
            preset = preset or (fitted_with if fitted_with in PRESETS else None)
        base = PRESETS[preset or "eus"]
        if self._calibration_record is not None:
            base = replace(base, **self._calibration_record["fitted"], calibration=str(calibration))
        self.params = replace(base, **{k: coerce_option(k, v, getattr(base, k)) for k, v in overrides.items()})
        self._default_preset = None if self.params.label_preset is None else get_preset(self.params.label_preset)
        self._grids: dict[FieldOfView, BeamGrid] = {}

    def _fluid_ids(self, planes_preset: LabelPreset | None) -> np.ndarray:
        """Label ids drawn as fluid: named by the planes' own preset, else by ``label_preset``."""
        if self._default_preset is None:
            return np.zeros(0, dtype=np.int64)
        preset = planes_preset or self._default_preset
        return np.array(sorted(preset.ids[n] for n in self.params.fluid_labels if n in preset.ids), dtype=np.int64)

    @classmethod
    def load(cls, model: Path | None = None, **options: Any) -> RaySim:
        """Build from options; raysim has no model, so a model path is a mistake."""
        if model is not None:
            raise EusaugError(f"raysim needs no trained model, but got {model}: drop --model.")
        return cls(**options)

    def get_config(self) -> dict[str, Any]:
        """The resolved settings, to be written beside the images they made (with the calibration's frames)."""
        config = {"translator": self.name, **self.params.to_dict()}
        if self._calibration_record is not None:
            config["calibration_record"] = self._calibration_record
        return config

    @classmethod
    def calibrate(cls, frames: Path, path: Path, preset: str | None = None, planes: Planes | None = None) -> Path:
        """Fit the simulator to the real ``frames`` (a folder), simulating the CT ``planes`` when
        given (else phantom tissue), and write the calibration file to ``path``. ``preset``:
        the one to start from (default: the one suited to the planes' fan, ``eus`` without planes)."""
        from eusaug_plugins.raysim.calibration import calibrate, write_calibration

        chosen = preset or preset_for(None if planes is None else planes.fov)
        return write_calibration(path, calibrate(frames, preset=chosen, planes=planes))

    def grid_for(self, fov: FieldOfView) -> BeamGrid:
        """The beam grid used for ``fov`` (kept per field of view)."""
        if fov not in self._grids:
            self._grids[fov] = BeamGrid.for_fov(fov, self.params.beams_per_px, self.params.samples_per_px)
        return self._grids[fov]

    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """``(N, H, W)`` float32 B-mode images in [-1, 1]; -1 outside the field of view and the CT volume."""
        return self.simulate(planes, rng, keep_envelope=False).image

    def simulate(self, planes: Planes, rng: np.random.Generator, keep_envelope: bool = True) -> RaySimOutput:
        """Simulate ``planes`` in batches of ``params.batch_size``; see :class:`RaySimOutput`.

        With ``keep_envelope=False`` the envelope is not kept (it is ``(0, B, S)``).
        """
        fov = planes.fov
        expected = (fov.height_px, fov.width_px)
        if planes.hu.ndim != 3 or planes.hu.shape[1:] != expected:
            raise EusaugError(
                f"raysim: planes are {planes.hu.shape}, but their field of view is {expected[0]}x{expected[1]} px: "
                "slice them with the same FieldOfView."
            )
        grid = self.grid_for(fov)
        tgc = self._tgc_gain(grid)
        images, envelopes = [], []
        for start in range(0, len(planes), self.params.batch_size):
            chunk = planes.subset(slice(start, start + self.params.batch_size))
            envelope = self._envelope(chunk, grid, rng)
            image = grid.to_image(self._log_compress(envelope * tgc), fill=-1.0)
            # No CT, no echo: outside the volume is black, never noise brightened by TGC.
            images.append(np.where(chunk.visible, image, np.float32(-1.0)))
            if keep_envelope:
                envelopes.append(envelope)
        empty = np.zeros((0, *expected), np.float32)
        return RaySimOutput(
            np.concatenate(images) if images else empty,
            np.concatenate(envelopes) if envelopes else np.zeros((0, grid.n_beams, grid.n_samples), np.float32),
            tgc,
            grid,
        )

    # -- stages ---------------------------------------------------------------------
    def _tgc_gain(self, grid: BeamGrid) -> np.ndarray:
        depth_cm = grid.depths_mm / 10.0
        gain_db = self.params.tgc_db_cm_mhz * self.params.frequency_mhz * 2.0 * depth_cm
        return (10.0 ** (gain_db / 20.0)).astype(np.float32)

    def _envelope(self, planes: Planes, grid: BeamGrid, rng: np.random.Generator) -> np.ndarray:
        """Linear echo envelope ``(N, n_beams, n_samples)`` before TGC."""
        p = self.params
        row_mm, col_mm = grid.fov.pixel_size_mm
        sigma = (0.0, p.ct_smoothing_mm / row_mm, p.ct_smoothing_mm / col_mm)
        hu_plane, label_plane = _extend_into_outside(planes)
        if p.ct_smoothing_mm > 0:
            gaussian_filter(hu_plane, sigma, output=hu_plane, mode="nearest", truncate=3.0)
        hu_beams = grid.to_beams(hu_plane)
        gel = self._coupling_gel(hu_beams)
        if gel is not None:
            hu_beams[gel] = np.float32(GEL_HU)
        tissue = tissue_lookup(hu_beams)
        echogenicity = tissue["echogenicity"]
        if gel is not None:
            echogenicity[gel] = np.float32(0.0)
        fluid = None
        fluid_ids = self._fluid_ids(planes.label_preset)
        if fluid_ids.size:
            fluid_plane = np.isin(label_plane, fluid_ids).astype(np.float32)
            if fluid_plane.any():
                if p.ct_smoothing_mm > 0:
                    gaussian_filter(fluid_plane, sigma, output=fluid_plane, mode="nearest", truncate=3.0)
                fluid = grid.to_beams(fluid_plane)
                echogenicity = echogenicity + (np.float32(p.fluid_echogenicity) - echogenicity) * fluid
        reflection = self._reflection(tissue["impedance_mrayl"], fluid, grid)

        # Amplitude left after the round trip: each interface passes (1 - r^2) of it, and
        # the path attenuates by alpha * f dB per cm, both ways.
        step_cm = grid.sample_mm / 10.0
        log_transmit = np.log1p(-np.minimum(reflection**2, np.float32(1 - 1e-6)))
        log_path = np.cumsum(log_transmit, axis=-1) - log_transmit
        path_db = np.cumsum(tissue["attenuation_db_cm_mhz"], axis=-1) * np.float32(2 * p.frequency_mhz * step_cm)
        log_path -= path_db * np.float32(np.log(10.0) / 20.0)
        reach = np.exp(log_path)
        if planes.inside is not None and not planes.inside.all():
            # A beam that leaves the CT volume carries no sound beyond it, even where it re-enters.
            inside = grid.to_beams(planes.inside.astype(np.float32)) > 0.5
            reach *= np.logical_and.accumulate(inside, axis=-1)

        # Complex baseband echo: Gaussian scatterers (-> Rayleigh envelope) plus coherent
        # interface echoes, then blurred by the PSF. The noise floor shares the scatterer
        # field; adding independent Gaussians only changes the amplitude.
        noise = np.float32(10.0 ** (p.noise_db / 20.0))
        sigma_axial = p.psf_axial_mm / grid.sample_mm
        bands = self._lateral_bands(grid)
        # Scale scatterers so blurred speckle keeps unit variance per part, and interface
        # echoes so a blurred interface keeps its peak amplitude.
        speckle_scale = np.empty(grid.n_samples, np.float32)
        for start, stop, sigma_lateral in bands:
            speckle_scale[start:stop] = 1.0 / np.sqrt(_kernel_sum_squares(sigma_axial) * _kernel_sum_squares(sigma_lateral))
        scatter = np.sqrt((echogenicity * reach) ** 2 + noise**2) * speckle_scale
        parts = rng.standard_normal((2, *reach.shape), dtype=np.float32)
        parts *= scatter
        parts[0] += np.float32(p.reflection_gain / _kernel_peak(sigma_axial)) * reflection * reach
        for part in parts:
            gaussian_filter1d(part, sigma_axial, axis=-1, output=part, mode="constant")
            for start, stop, sigma_lateral in bands:
                band = part[..., start:stop]
                gaussian_filter1d(band, sigma_lateral, axis=-2, output=band, mode="constant")
        return np.hypot(parts[0], parts[1])

    def _coupling_gel(self, hu_beams: np.ndarray) -> np.ndarray | None:
        """``(N, B, S)`` bool: air samples before each beam's first tissue (None when off or none)."""
        if not self.params.gel_coupling:
            return None
        tissue_seen = np.logical_or.accumulate(hu_beams >= np.float32(self.params.gel_below_hu), axis=-1)
        gel = ~tissue_seen
        return gel if gel.any() else None

    def _lateral_bands(self, grid: BeamGrid) -> list[tuple[int, int, float]]:
        """Depth bands ``(start, stop, lateral sigma in beams)``.

        Beams of a sector spread apart with depth, so a PSF of fixed width in mm covers
        fewer beams deeper down; :data:`LATERAL_BANDS` bands approximate that.
        """
        count = 1 if grid.fov.kind == "rectangle" else min(LATERAL_BANDS, grid.n_samples)
        edges = np.linspace(0, grid.n_samples, count + 1).round().astype(int)
        bands = []
        for start, stop in itertools.pairwise(edges):
            depth_mm = float(grid.depths_mm[(start + stop - 1) // 2])
            spacing_mm = max(grid.beam_spacing_mm(depth_mm), 1e-6)
            # A beam grid far finer than the PSF (beams meeting at an apex) blurs across it all.
            sigma = min(self.params.psf_lateral_mm / spacing_mm, grid.n_beams / 2.0)
            bands.append((int(start), int(stop), sigma))
        return bands

    def _reflection(self, impedance: np.ndarray, fluid: np.ndarray | None, grid: BeamGrid) -> np.ndarray:
        """Amplitude reflection coefficient at each interface (0 elsewhere), ``(N, B, S)``.

        The impedance step is measured across ``interface_width_mm`` and kept only at its
        peak along the beam, so a CT edge blurred over a voxel gives one thin echo. Walls
        of fluid structures add ``wall_reflection`` times the step of the fluid fraction.
        """
        p = self.params
        half = max(1, round(p.interface_width_mm / 2.0 / grid.sample_mm))

        def across(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            padded = np.pad(values, ((0, 0), (0, 0), (half, half)), mode="edge")
            return padded[..., 2 * half:], padded[..., : -2 * half]

        deeper, shallower = across(impedance)
        step = np.abs(deeper - shallower) / (deeper + shallower)
        if fluid is not None and p.wall_reflection > 0:
            deeper, shallower = across(fluid)
            step += np.float32(p.wall_reflection) * np.abs(deeper - shallower)
        before = np.concatenate([step[..., :1], step[..., :-1]], axis=-1)
        after = np.concatenate([step[..., 1:], np.zeros_like(step[..., :1])], axis=-1)
        peak = (step > before) & (step >= after) & (step > np.float32(p.interface_threshold))
        return np.where(peak, step, np.float32(0.0)).astype(np.float32, copy=False)

    def _log_compress(self, envelope: np.ndarray) -> np.ndarray:
        p = self.params
        level_db = np.float32(20.0) * np.log10(envelope / np.float32(RAYLEIGH_MEAN) + np.float32(1e-12))
        low = np.float32(p.white_db - p.dynamic_range_db)
        unit = (level_db - low) * np.float32(2.0 / p.dynamic_range_db) - np.float32(1.0)
        if p.display_smoothing_samples > 0:
            gaussian_filter(unit, (0, p.display_smoothing_samples, p.display_smoothing_samples), output=unit, mode="nearest")
        return np.clip(unit, -1.0, 1.0).astype(np.float32, copy=False)
