"""The ``edge-echo`` translator: CT edges as bright echoes on a speckled, windowed plane.

Not a physical simulation (eusaug's bundled ``raysim`` is one); it shows the shape of a
translator plugin in a few lines: a class with ``name``/``description``, an options
dataclass validated in its ``__post_init__`` (``--option KEY=VALUE`` is typed by it),
all randomness from the ``rng`` argument, a vectorised ``translate`` that works on any
batch and plane size, and the hook that registers it.
It imports only eusaug's public API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter, sobel

from eusaug import EusaugError, HUWindow, Planes, Translator, hookimpl
from eusaug.plugin import build_options, opt


@dataclass(frozen=True)
class EdgeEchoOptions:
    """The options of ``edge-echo``, checked once, here."""

    edge_gain: float = field(default=1.0, metadata=opt("Brightness of CT edges (>= 0)."))
    speckle_px: float = field(default=1.0, metadata=opt("Speckle grain size in pixels (>= 0)."))
    brightness: float = field(default=0.12, metadata=opt("Echo of plain tissue, in (0, 1]."))

    def __post_init__(self) -> None:
        if self.edge_gain < 0 or self.speckle_px < 0 or not 0 < self.brightness <= 1:
            raise EusaugError(
                f"edge-echo: got edge_gain={self.edge_gain}, speckle_px={self.speckle_px}, "
                f"brightness={self.brightness}; use edge_gain >= 0, speckle_px >= 0 and 0 < brightness <= 1."
            )


class EdgeEcho(Translator):
    """Sobel edges of the windowed CT plane plus multiplicative Rayleigh speckle."""

    name = "edge-echo"
    description = "Example plugin: CT edges as echoes on Rayleigh speckle (template for third parties)."
    needs_model = False

    options_class = EdgeEchoOptions

    def __init__(self, **options: Any) -> None:
        self.options = build_options(EdgeEchoOptions, options, self.name)
        self.edge_gain = self.options.edge_gain
        self.speckle_px = self.options.speckle_px
        self.brightness = self.options.brightness

    def get_config(self) -> dict[str, Any]:
        """Everything that shapes the images, written to ``synth.json`` beside them."""
        return {"translator": self.name, **asdict(self.options)}

    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """``(N, H, W)`` float32 in [-1, 1]; -1 outside the field of view and the CT volume (no echo)."""
        # Window the HU without the field-of-view mask, so its border is not an edge, and
        # smooth away the staircase of the CT voxels.
        tissue = (HUWindow(level=40.0, width=400.0).to_unit(planes.hu) + 1.0) / 2.0  # [0, 1]
        tissue = gaussian_filter(tissue, (0, 2.5, 2.5))
        # Edges across the beam (changes with depth, axis 1) echo most.
        edges = np.abs(sobel(tissue, axis=1)) + 0.3 * np.abs(sobel(tissue, axis=2))
        speckle = rng.rayleigh(scale=1.0, size=tissue.shape).astype(np.float32)
        if self.speckle_px > 0:  # grains wider than deep, as a probe's point-spread function
            speckle = gaussian_filter(speckle, (0, self.speckle_px, 2 * self.speckle_px))
            speckle /= speckle.mean()
        echo = (self.brightness * (0.2 + tissue) + self.edge_gain * edges) * speckle
        image = np.clip(np.log1p(4.0 * echo) / np.log1p(4.0) * 2.0 - 1.0, -1.0, 1.0)
        return np.where(planes.visible, image, -1.0).astype(np.float32)


@hookimpl
def eusaug_translators() -> list[type]:
    """eusaug calls this to learn which translators the package adds."""
    from .matched import EchoMatch  # beside EdgeEcho, which it builds on

    return [EdgeEcho, EchoMatch]
