"""Stage 3: training translators (CycleGAN and any trainable plugin), synthesis, and the model store."""

from __future__ import annotations

from eusaug.translate.collection import (
    CLUSTER_HINT,
    COLLECTION_CSV,
    COLLECTION_FIELDS,
    COLLECTION_JSON,
    CaseJob,
    CaseResult,
    Runner,
    cached_translator,
    case_seed,
    find_cases,
    read_collection,
    run_case,
    synthesize_collection,
)
from eusaug.translate.grey_levels import (
    GreyLevels,
)
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
    poses_calibration,
    read_synth_manifest,
    resolve_model,
    synthesize,
    synthesize_case,
    translator_fov,
)
from eusaug.translate.train import (
    PathLike,
    train_translator,
    train_translator_cases,
)

__all__ = [
    "CLUSTER_HINT",
    "COLLECTION_CSV",
    "COLLECTION_FIELDS",
    "COLLECTION_JSON",
    "CaseJob",
    "CaseResult",
    "GreyLevels",
    "MANIFEST",
    "MANIFEST_FIELDS",
    "ModelEntry",
    "PathLike",
    "RAYLEIGH_MEAN",
    "Runner",
    "SETTINGS",
    "STORE_FILE",
    "STORE_VERSION",
    "cached_translator",
    "case_seed",
    "eusaug_home",
    "find_cases",
    "find_model",
    "forget_model",
    "format_pose",
    "list_models",
    "load_translator",
    "parse_pose",
    "poses_calibration",
    "read_collection",
    "read_synth_manifest",
    "register_model",
    "resolve_model",
    "run_case",
    "store_path",
    "synthesize",
    "synthesize_case",
    "synthesize_collection",
    "train_translator",
    "train_translator_cases",
    "translator_fov",
]
