"""Bundled FID/KID feature backbones, contributed through ``eusaug_feature_backbones`` like any plugin's.

``inception``: the paper's Keras ImageNet InceptionV3 (weights from Keras' cache, or
random with a warning); ``standard``: the literature's 2015 TensorFlow Inception graph
(TTUR / pytorch-fid / clean-fid, torch only when used); ``none``: 16x16 pixels, no network.
"""

from __future__ import annotations

import os
from typing import Any

from eusaug import hookimpl
from eusaug.evaluate import FeatureExtractor, InceptionExtractor, PixelExtractor, Precision

WeightsArg = str | os.PathLike[str] | None


def inception(weights: WeightsArg, precision: Precision, seed: int) -> FeatureExtractor:
    return InceptionExtractor(weights, precision, seed)


def standard(weights: WeightsArg, precision: Precision, seed: int) -> FeatureExtractor:
    from eusaug.evaluate import StandardExtractor

    return StandardExtractor()


def pixels(weights: WeightsArg, precision: Precision, seed: int) -> FeatureExtractor:
    return PixelExtractor()


@hookimpl
def eusaug_feature_backbones() -> dict[str, Any]:
    return {"inception": inception, "standard": standard, "none": pixels}
