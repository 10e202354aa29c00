"""A 40^3 2-mm CT with a 'liver' ball (60 HU, label 5) in soft tissue (-100 HU): the tiny case CycleGAN tests slice."""

from __future__ import annotations

import numpy as np

from eusaug import get_preset
from eusaug.ct.volume import CTCase, CTVolume, LabelMap


def ball_liver_case() -> CTCase:
    n = 40
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -40.0
    i, j, k = np.mgrid[:n, :n, :n]
    ball = (i - 20) ** 2 + (j - 20) ** 2 + (k - 20) ** 2 < 12**2
    hu = np.where(ball, 60.0, -100.0).astype(np.float32)
    return CTCase(CTVolume(hu, affine), LabelMap(np.where(ball, 5, 0).astype(np.int16), affine),
                  get_preset("totalsegmentator"))
