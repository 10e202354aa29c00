"""The plugin system: the four interfaces (sampler, slicer, translator, evaluator), their hooks, the registry,
and the typed options that plugins declare."""

from __future__ import annotations

from eusaug.plugin.hookspecs import (
    ENTRY_POINT_GROUP,
    HOOK_OF_KIND,
    PROJECT,
    eusaug_evaluators,
    eusaug_pose_samplers,
    eusaug_slicers,
    eusaug_translators,
    hookimpl,
    hookspec,
)
from eusaug.plugin.interfaces import (
    KINDS,
    EvaluationResult,
    Evaluator,
    Plugin,
    PoseSampler,
    Slicer,
    TrainableTranslator,
    Translator,
)
from eusaug.plugin.registry import (
    BASE_OF_KIND,
    DEFAULT_SAMPLER,
    DEFAULT_SLICER,
    DEFAULT_TRANSLATOR,
    DEFAULTS,
    DISABLE_ENV,
    P,
    PluginInfo,
    Registry,
)

__all__ = [
    "hookimpl",
    "hookspec",
    "BASE_OF_KIND",
    "DEFAULTS",
    "DEFAULT_SAMPLER",
    "DEFAULT_SLICER",
    "DEFAULT_TRANSLATOR",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "EvaluationResult",
    "Evaluator",
    "HOOK_OF_KIND",
    "KINDS",
    "P",
    "PROJECT",
    "Plugin",
    "PluginInfo",
    "PoseSampler",
    "Registry",
    "Slicer",
    "TrainableTranslator",
    "Translator",
    "eusaug_evaluators",
    "eusaug_pose_samplers",
    "eusaug_slicers",
    "eusaug_translators",
]
