"""The ``edge-echo`` translator: CT edges as bright echoes on a speckled, windowed plane.

Not a physical simulation (eusaug's bundled ``raysim`` is one); it shows the shape of a
translator plugin in a few lines: a class with ``name``/``description``, options
validated in ``__init__``, all randomness from the ``rng`` argument, a vectorised
``translate`` that works on any batch and plane size, and the hook that registers it.
It imports only eusaug's public API.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, sobel

from eusaug import EusaugError, HUWindow, Planes, Translator, hookimpl


class EdgeEcho(Translator):
    """Sobel edges of the windowed CT plane plus multiplicative Rayleigh speckle."""

    name = "edge-echo"
    description = "Example plugin: CT edges as echoes on Rayleigh speckle (template for third parties)."
    needs_model = False

    def __init__(self, edge_gain: float = 1.0, speckle_px: float = 1.0, brightness: float = 0.12) -> None:
        if edge_gain < 0 or speckle_px < 0 or not 0 < brightness <= 1:
            raise EusaugError(
                f"edge-echo: got edge_gain={edge_gain}, speckle_px={speckle_px}, brightness={brightness}; "
                "use edge_gain >= 0, speckle_px >= 0 and 0 < brightness <= 1."
            )
        self.edge_gain = edge_gain
        self.speckle_px = speckle_px
        self.brightness = brightness

    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """``(N, H, W)`` float32 in [-1, 1]; -1 outside the field of view."""
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
        return np.where(planes.mask, image, -1.0).astype(np.float32)


@hookimpl
def eusaug_translators() -> list[type]:
    """eusaug calls this to learn which translators the package adds."""
    from .matched import EchoMatch  # beside EdgeEcho, which it builds on

    return [EdgeEcho, EchoMatch]
