"""``raysim``: a training-free, ray-based ultrasound simulator (CT plane -> B-mode image).

The package only registers the translator and names its public parts; the simulator is
in :mod:`.simulator`, its settings in :mod:`.params`, tissue tables in :mod:`.tissue`,
scan conversion in :mod:`.scan_convert`.
"""

from __future__ import annotations

from eusaug_plugins.raysim.params import PRESETS, RaySimParams
from eusaug_plugins.raysim.simulator import RaySim, RaySimOutput
from eusaug_plugins.raysim.tissue import FLUID_LABELS, GEL_HU, HU_KNOTS, tissue_lookup

from eusaug import hookimpl
from eusaug.translate import RAYLEIGH_MEAN


@hookimpl
def eusaug_translators() -> list[type]:
    return [RaySim]


__all__ = ["FLUID_LABELS", "GEL_HU", "HU_KNOTS", "PRESETS", "RAYLEIGH_MEAN", "RaySim", "RaySimOutput",
           "RaySimParams", "eusaug_translators", "tissue_lookup"]
