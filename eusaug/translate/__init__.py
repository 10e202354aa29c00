"""Stage 3: training translators (CycleGAN and any trainable plugin), synthesis, and the model store."""

from __future__ import annotations

from eusaug.translate.model_store import (
    STORE_FILE,
    STORE_VERSION,
    ModelEntry,
    eusaug_home,
    find_model,
    forget_model,
    list_models,
    register_model,
    store_path,
)
from eusaug.translate.speckle import (
    RAYLEIGH_MEAN,
)
from eusaug.translate.synth import (
    MANIFEST,
    MANIFEST_FIELDS,
    SETTINGS,
    format_pose,
    load_translator,
    parse_pose,
    read_synth_manifest,
    synthesize,
)
from eusaug.translate.train import (
    PathLike,
    train_translator,
)

__all__ = [
    "MANIFEST",
    "MANIFEST_FIELDS",
    "ModelEntry",
    "PathLike",
    "RAYLEIGH_MEAN",
    "SETTINGS",
    "STORE_FILE",
    "STORE_VERSION",
    "eusaug_home",
    "find_model",
    "forget_model",
    "format_pose",
    "list_models",
    "load_translator",
    "parse_pose",
    "read_synth_manifest",
    "register_model",
    "store_path",
    "synthesize",
    "train_translator",
]
