"""Bundled evaluators: FID/KID, classifier sweep, McNemar, Grad-CAM; and the FID feature backbones.

Each is a thin :class:`eusaug.plugin.interfaces.Evaluator` over one library function, found
through the ``eusaug`` entry-point group like any third-party evaluator.
"""

from __future__ import annotations

from eusaug_plugins.evaluators.backbones import eusaug_feature_backbones
from eusaug_plugins.evaluators.classifier import ClassifierEvaluator
from eusaug_plugins.evaluators.fid import FIDEvaluator
from eusaug_plugins.evaluators.gradcam import GradCamEvaluator
from eusaug_plugins.evaluators.mcnemar import McNemarEvaluator

from eusaug import hookimpl

__all__ = ["ClassifierEvaluator", "FIDEvaluator", "GradCamEvaluator", "McNemarEvaluator", "eusaug_evaluators",
           "eusaug_feature_backbones"]


@hookimpl
def eusaug_evaluators() -> list[type]:
    return [FIDEvaluator, ClassifierEvaluator, McNemarEvaluator, GradCamEvaluator]
