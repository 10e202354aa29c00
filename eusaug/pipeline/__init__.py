"""The whole protocol as resumable stages (``eusaug demo``, ``eusaug reproduce``) and its HTML report."""

from __future__ import annotations

from eusaug.pipeline.demo import (
    DEMO_PRESETS,
    run_demo,
)
from eusaug.pipeline.engine import (
    check_eus_dir,
    run_pipeline,
)
from eusaug.pipeline.html import (
    ImageLike,
    Report,
    image_data_uri,
)
from eusaug.pipeline.reproduce import (
    REPRODUCE_PRESETS,
    find_cases,
    load_run_config,
    run_reproduce,
)
from eusaug.pipeline.run_config import (
    FOV_SETTINGS,
    PAPER_LANDMARKS,
    PAPER_RATIOS,
    RESERVED_AFTER_TRAINING_S,
    CaseInput,
    RunConfig,
    RunContext,
)
from eusaug.pipeline.run_report import (
    write_run_report,
)
from eusaug.pipeline.stages import (
    MARKER,
    Stage,
    StageResult,
    read_summary,
    run_stages,
    stage_done,
)
from eusaug.pipeline.steps import (
    cpu_name,
    environment_versions,
    resolve_network_weights,
    run_evaluator,
    synthesized_images,
    write_labelled_csv,
)

__all__ = [
    "CaseInput",
    "DEMO_PRESETS",
    "FOV_SETTINGS",
    "ImageLike",
    "MARKER",
    "PAPER_LANDMARKS",
    "PAPER_RATIOS",
    "REPRODUCE_PRESETS",
    "RESERVED_AFTER_TRAINING_S",
    "Report",
    "RunConfig",
    "RunContext",
    "Stage",
    "StageResult",
    "check_eus_dir",
    "cpu_name",
    "environment_versions",
    "find_cases",
    "image_data_uri",
    "load_run_config",
    "read_summary",
    "resolve_network_weights",
    "run_demo",
    "run_evaluator",
    "run_pipeline",
    "run_reproduce",
    "run_stages",
    "stage_done",
    "synthesized_images",
    "write_labelled_csv",
    "write_run_report",
]
