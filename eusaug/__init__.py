"""eusaug: synthetic endoscopic ultrasound (sEUS) from CT, for augmenting classifier training.

Implements Grimwood et al., "Endoscopic ultrasound image synthesis using a
cycle-consistent adversarial network". The package is laid out like the pipeline, one
subpackage per stage, imports pointing one way down it::

    eusaug.io         files: atomic writes, images, tables, checkpoints, progress
    eusaug.ct         CT volumes and label maps (stage 0)
    eusaug.geometry   field of view, poses, surfaces, planes
    eusaug.plugin     the plugin interfaces, hooks and registry
    eusaug.poses      pose sampling and slicing (stages 1-2)
    eusaug.translate  training and synthesis (stage 3)
    eusaug.mix        synthetic ratio mixing and transforms (stage 4)
    eusaug.evaluate   FID, classifier, McNemar, Grad-CAM (stage 5)
    eusaug.pipeline   the whole protocol and its report
    eusaug.cli        the ``eusaug`` command

Importing this package is cheap: TensorFlow is only imported by the parts that need it.
"""

from __future__ import annotations

from eusaug import _moved
from eusaug.ct import CTCase, CTVolume, LabelMap, LabelPreset, get_preset, load_case, load_ct, load_labels
from eusaug.ct.sample_case import sample_ct_path, sample_labels_path
from eusaug.errors import EusaugError
from eusaug.geometry import (
    FieldOfView,
    HUWindow,
    Planes,
    SliceFilter,
    plane_points_world,
    pose_from_axes,
    reference_slice,
    validate_poses,
)
from eusaug.plugin import (
    EvaluationResult,
    Evaluator,
    PluginInfo,
    PoseSampler,
    Registry,
    Slicer,
    TrainableTranslator,
    Translator,
    hookimpl,
)
from eusaug.version import __version__

_moved.install()

__all__ = [
    "CTCase",
    "CTVolume",
    "EusaugError",
    "EvaluationResult",
    "Evaluator",
    "FieldOfView",
    "HUWindow",
    "LabelMap",
    "LabelPreset",
    "PluginInfo",
    "Planes",
    "PoseSampler",
    "Registry",
    "SliceFilter",
    "Slicer",
    "TrainableTranslator",
    "Translator",
    "__version__",
    "get_preset",
    "hookimpl",
    "load_case",
    "load_ct",
    "load_labels",
    "plane_points_world",
    "pose_from_axes",
    "reference_slice",
    "sample_ct_path",
    "sample_labels_path",
    "validate_poses",
]
