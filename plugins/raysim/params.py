"""raysim's settings: one frozen dataclass validated on construction, and its named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eusaug_plugins.raysim.tissue import FLUID_LABELS

from eusaug import EusaugError, FieldOfView


@dataclass(frozen=True)
class RaySimParams:
    """Settings of the simulator; the defaults model the paper's 7.5 MHz echoendoscope.

    Amplitudes are relative to the mean diffuse echo of soft tissue (echogenicity 1).
    """

    #: Centre frequency; attenuation (dB/cm/MHz) scales with it.
    frequency_mhz: float = 7.5
    #: Point-spread function, Gaussian sigma along the beam (pulse length) and across it.
    psf_axial_mm: float = 0.25
    psf_lateral_mm: float = 0.6
    #: Distance over which an impedance step is measured: about the CT voxel size, whose
    #: interpolation spreads every edge over that length.
    interface_width_mm: float = 3.0
    #: Weaker impedance steps (amplitude reflection coefficient) are left to the diffuse
    #: scatter: CT noise of +-20 HU would otherwise draw faint lines all over soft tissue.
    interface_threshold: float = 0.02
    #: Echo of an interface with reflection coefficient 1, relative to diffuse soft tissue.
    reflection_gain: float = 500.0
    #: Amplitude reflection coefficient of the walls of ``fluid_labels`` structures
    #: (vessels, gallbladder); 0 turns them off.
    wall_reflection: float = 0.05
    #: Echogenicity of the structures named in ``fluid_labels`` (blood, bile, urine).
    fluid_echogenicity: float = 0.03
    fluid_labels: tuple[str, ...] = FLUID_LABELS
    #: Gaussian smoothing (sigma) of the HU plane and of the fluid mask before simulation;
    #: it hides the staircase of 3 mm CT voxels that would otherwise draw jagged interfaces.
    ct_smoothing_mm: float = 1.5
    #: Label preset that names the ids in ``Planes.labels`` when the planes carry none
    #: (``Planes.label_preset`` wins); None ignores labels and uses HU only.
    label_preset: str | None = "totalsegmentator"
    #: Electronic noise, dB relative to diffuse soft tissue at the transducer (before TGC).
    noise_db: float = -60.0
    #: Time-gain compensation slope (dB/cm/MHz, round trip); 0 turns TGC off.
    tgc_db_cm_mhz: float = 0.5
    #: Log compression: echo level (dB re diffuse soft tissue) shown white, and the range shown.
    white_db: float = 60.0
    dynamic_range_db: float = 80.0
    #: Gaussian smoothing (sigma, beam-grid samples) of the log-compressed image, like a
    #: scanner's speckle-reduction filter; the envelope statistics before it stay Rayleigh.
    display_smoothing_samples: float = 0.0
    #: Beam grid density relative to the image pixels (beams per column, samples per row).
    beams_per_px: float = 1.0
    samples_per_px: float = 1.0
    #: Air between the array face and the first tissue of each beam is coupling gel
    #: (anechoic water), as when a probe is pressed onto gel-covered skin or a water-filled
    #: balloon: a convex array's flanks and a skin point a little off the CT's outline would
    #: otherwise start their beams in air, which reflects everything and leaves them black.
    #: Air deeper in the body (bowel gas, lung) still shadows. False keeps the air.
    gel_coupling: bool = True
    #: HU below which a sample before the first tissue counts as air to be replaced by gel: below
    #: fat (-100 HU), so the skin edge, which CT and the smoothing blur into air, is no lung.
    gel_below_hu: float = -200.0
    #: Planes simulated at once; bounds memory (about 64 bytes per beam sample).
    batch_size: int = 32
    #: A calibration file (``--calibrate-from FRAMES`` writes one): its fitted values replace
    #: the preset's; options given beside it still win. Recorded so synth.json names it.
    calibration: str | None = None

    def __post_init__(self) -> None:
        positive = ("frequency_mhz", "psf_axial_mm", "psf_lateral_mm", "interface_width_mm",
                    "dynamic_range_db", "beams_per_px", "samples_per_px")
        for name in positive:
            if not getattr(self, name) > 0:
                raise EusaugError(f"raysim: {name}={getattr(self, name)} must be positive.")
        non_negative = ("reflection_gain", "wall_reflection", "fluid_echogenicity", "tgc_db_cm_mhz",
                        "ct_smoothing_mm", "interface_threshold", "display_smoothing_samples")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise EusaugError(f"raysim: {name}={getattr(self, name)} must be >= 0.")
        if self.batch_size < 1:
            raise EusaugError(f"raysim: batch_size={self.batch_size} must be >= 1.")
        object.__setattr__(self, "fluid_labels", tuple(self.fluid_labels))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fluid_labels"] = list(self.fluid_labels)
        return out


#: Named settings: ``eus`` (the paper's 7.5 MHz radial/linear echoendoscope, 4-6 cm deep)
#: and ``abdominal`` (a 3.5 MHz transabdominal curvilinear probe: coarser, deeper).
PRESETS: dict[str, RaySimParams] = {
    "eus": RaySimParams(),
    "abdominal": RaySimParams(frequency_mhz=3.5, psf_axial_mm=0.45, psf_lateral_mm=1.2, noise_db=-70.0),
}


#: Fans deeper than this (mm) are transabdominal: the ``abdominal`` preset suits them.
DEEP_FOV_MM = 100.0


def preset_for(fov: FieldOfView | None) -> str:
    """The preset suited to a field of view: ``abdominal`` for deep fans, else ``eus``."""
    return "abdominal" if fov is not None and fov.depth_mm > DEEP_FOV_MM else "eus"


def coerce_option(name: str, value: Any, default: Any) -> Any:
    """Options typed on a command line arrive as strings: convert them to the field's type."""
    if not isinstance(value, str):
        return value
    try:
        if isinstance(default, bool):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise EusaugError(f"raysim: {name}={value!r} is not a number: give e.g. {name}={default}.") from None
    if isinstance(default, tuple):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if name in ("label_preset", "calibration") and value.strip().lower() in ("", "none"):
        return None
    return value
