"""Tissue properties from HU: the lookup tables raysim simulates with.

Values are typical published ones (rounded); non-contrast CT cannot tell blood from
liver, so the fluid-filled structures are named by label instead (:data:`FLUID_LABELS`).
"""

from __future__ import annotations

import numpy as np

#: Tissue properties at HU knots (linear in between): air, lung, fat, fluid, soft tissue,
#: dense soft tissue, trabecular bone, cortical bone. Values are typical published ones
#: (rounded); attenuation of air and lung only needs to be large enough to shadow.
HU_KNOTS = (-1024.0, -700.0, -100.0, 5.0, 40.0, 100.0, 300.0, 1000.0, 3071.0)
DENSITY_KG_M3 = (1.2, 300.0, 950.0, 1005.0, 1055.0, 1070.0, 1200.0, 1900.0, 2100.0)
SPEED_M_S = (343.0, 650.0, 1450.0, 1520.0, 1570.0, 1590.0, 2100.0, 3500.0, 4000.0)
ATTENUATION_DB_CM_MHZ = (40.0, 40.0, 0.6, 0.3, 0.5, 0.7, 8.0, 20.0, 20.0)
#: Diffuse backscatter amplitude relative to soft tissue (fat is echogenic, air has no scatterers).
ECHOGENICITY = (0.0, 0.2, 2.5, 1.0, 1.0, 1.1, 1.5, 1.5, 1.5)

#: HU given to coupling gel (water): its impedance is close to skin's, so the skin echoes weakly.
GEL_HU = 0.0

#: Fluid-filled structures of TotalSegmentator / BTCV that are anechoic on ultrasound.
FLUID_LABELS = (
    "aorta", "inferior_vena_cava", "portal_vein_and_splenic_vein", "heart", "gallbladder",
    "urinary_bladder", "kidney_cyst_left", "kidney_cyst_right", "pulmonary_vein",
    "superior_vena_cava", "iliac_artery_left", "iliac_artery_right", "iliac_vena_left",
    "iliac_vena_right", "brachiocephalic_trunk",
)


def tissue_lookup(hu: np.ndarray) -> dict[str, np.ndarray]:
    """Density (kg/m^3), speed (m/s), attenuation (dB/cm/MHz) and echogenicity from HU.

    Returns float32 arrays shaped like ``hu``; ``impedance_mrayl`` is density * speed / 1e6.
    """
    hu = np.asarray(hu, dtype=np.float32)
    # A 1 HU lookup table: an index and four takes are far cheaper than four np.interp calls.
    grid = np.arange(HU_KNOTS[0], HU_KNOTS[-1] + 1.0, dtype=np.float64)
    index = np.clip(np.rint(hu - HU_KNOTS[0]), 0, grid.size - 1).astype(np.intp)
    out = {}
    for key, values in (("density_kg_m3", DENSITY_KG_M3), ("speed_m_s", SPEED_M_S),
                        ("attenuation_db_cm_mhz", ATTENUATION_DB_CM_MHZ), ("echogenicity", ECHOGENICITY)):
        table = np.interp(grid, HU_KNOTS, values).astype(np.float32)
        out[key] = np.take(table, index)
    out["impedance_mrayl"] = out["density_kg_m3"] * out["speed_m_s"] * np.float32(1e-6)
    return out
