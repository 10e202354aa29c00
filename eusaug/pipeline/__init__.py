"""The whole protocol as resumable stages (``eusaug demo``, ``eusaug reproduce``) and the HTML report of any run folder."""

from __future__ import annotations

from eusaug.pipeline.demo import (
    DEMO_PRESETS,
    run_demo,
)
from eusaug.pipeline.environment import cpu_name, environment_versions
from eusaug.pipeline.folder_report import (
    FolderKind,
    build_folder_report,
    folder_kind,
    write_folder_report,
)
from eusaug.pipeline.html import (
    DENSE_COLUMNS,
    LONG_TEXT_CHARS,
    MAX_HEADER_CHARS,
    MAX_PATH_CHARS,
    MIN_COLUMN_PX,
    NOTE_COLUMNS,
    PAGE_WIDTH_PX,
    WIDE_TEXT_PX,
    ImageLike,
    Report,
    format_number,
    image_data_uri,
)
from eusaug.pipeline.networks import resolve_fid_preset, resolve_network_weights
from eusaug.pipeline.protocol import (
    check_eus_dir,
    run_evaluator,
    run_pipeline,
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
from eusaug.pipeline.run_files import drop_saved_models, synthesized_images, write_labelled_csv
from eusaug.pipeline.run_report import (
    RUN_JSON,
    RunView,
    build_run_report,
    cyclegan_epochs,
    write_run_report,
)
from eusaug.pipeline.stage_runner import (
    MARKER,
    Stage,
    StageResult,
    read_summary,
    run_stages,
    stage_done,
)

__all__ = [
    "CaseInput",
    "DEMO_PRESETS",
    "DENSE_COLUMNS",
    "FOV_SETTINGS",
    "FolderKind",
    "ImageLike",
    "LONG_TEXT_CHARS",
    "MARKER",
    "MAX_HEADER_CHARS",
    "MAX_PATH_CHARS",
    "MIN_COLUMN_PX",
    "NOTE_COLUMNS",
    "PAGE_WIDTH_PX",
    "PAPER_LANDMARKS",
    "PAPER_RATIOS",
    "REPRODUCE_PRESETS",
    "RESERVED_AFTER_TRAINING_S",
    "RUN_JSON",
    "Report",
    "RunConfig",
    "RunContext",
    "RunView",
    "Stage",
    "StageResult",
    "WIDE_TEXT_PX",
    "build_folder_report",
    "build_run_report",
    "check_eus_dir",
    "cpu_name",
    "cyclegan_epochs",
    "drop_saved_models",
    "environment_versions",
    "find_cases",
    "folder_kind",
    "format_number",
    "image_data_uri",
    "load_run_config",
    "read_summary",
    "resolve_fid_preset",
    "resolve_network_weights",
    "run_demo",
    "run_evaluator",
    "run_pipeline",
    "run_reproduce",
    "run_stages",
    "stage_done",
    "synthesized_images",
    "write_folder_report",
    "write_labelled_csv",
    "write_run_report",
]
