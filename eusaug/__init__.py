"""eusaug: synthetic endoscopic ultrasound (sEUS) from CT, for augmenting classifier training.

Implements Grimwood et al., "Endoscopic ultrasound image synthesis using a
cycle-consistent adversarial network". Importing this package is cheap: TensorFlow is
only imported by the parts that need it.
"""

from __future__ import annotations

from eusaug.errors import EusaugError
from eusaug.geometry import FieldOfView, plane_points_world, pose_from_axes, validate_poses
from eusaug.hookspecs import hookimpl
from eusaug.interfaces import (
    EvaluationResult,
    Evaluator,
    PoseSampler,
    Slicer,
    TrainableTranslator,
    Translator,
)
from eusaug.labels import LabelPreset, get_preset
from eusaug.registry import PluginInfo, Registry
from eusaug.sample import sample_ct_path, sample_labels_path
from eusaug.slicing import HUWindow, Planes, SliceFilter, reference_slice
from eusaug.volume import CTCase, CTVolume, LabelMap, load_case, load_ct, load_labels

__version__ = "0.1.0"

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
