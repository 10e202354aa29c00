"""Speckle statistics shared by the translators and the augmentations that imitate ultrasound."""

from __future__ import annotations

import math

#: Mean of a Rayleigh variable of scale 1: the envelope of fully developed speckle in
#: diffuse tissue. Dividing by it gives speckle of mean 1 (brightness-preserving).
RAYLEIGH_MEAN = math.sqrt(math.pi / 2.0)
