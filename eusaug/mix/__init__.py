"""Stage 4: synthetic images mixed into a labelled training set at a ratio, on disk, streamed (tf.data or
PyTorch), or as albumentations transforms; and the subject split of the real images below both the classifier
and the pipeline.

Rooms: ``ratios`` (the checked ratio), ``plan`` (which images), ``write`` (sets on disk), ``stream`` (read
image by image), ``subjects`` (the subject split), ``labelled_sets`` (reading labelled sets), ``swap``,
``translate_ct``, ``ultrasound_transforms`` (albumentations transforms), ``torch_data`` (PyTorch datasets).
"""

from __future__ import annotations

from eusaug.mix.labelled_sets import (
    CLASS_COLUMNS,
    PATH_COLUMNS,
    RESERVED_CLASS_NAMES,
    LabelledSetWarning,
    LabelledSource,
    as_labelled_set,
    check_class_name,
    image_size,
    image_sizes,
    read_labelled_set,
    report_sizes,
)
from eusaug.mix.plan import (
    ClassSelection,
    MissingClass,
    MixMode,
    MixPlan,
    Source,
    class_rng,
    match_class_names,
    plan_mix,
    synthetic_counts,
)
from eusaug.mix.ratios import PAPER_RATIOS, Ratio, check_ratio, check_ratios, parse_ratios, ratio_folder_name
from eusaug.mix.stream import TF_DECODABLE, check_image_size, mixed_dataset, read_grey_sized, stream_mixed
from eusaug.mix.subjects import (
    DEFAULT_SUBJECT_PATTERN,
    Split,
    SplitSettings,
    read_subjects_csv,
    split_by_subject,
    subject_of,
)
from eusaug.mix.write import (
    CONFIG_NAME,
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    METADATA_COLUMNS,
    METADATA_NAME,
    ClassCount,
    ManifestRow,
    check_output_apart,
    mix_folders,
    mix_sweep,
    read_mix_manifest,
    read_mixed_sets,
    read_set_metadata,
    summarise,
    write_mix,
)

# The albumentations transforms load albumentations and OpenCV, the datasets PyTorch (an optional
# extra): imported on first use, so `import eusaug.mix` needs neither.
_LAZY = {
    "SyntheticSwap": "eusaug.mix.swap",
    "TranslateCT": "eusaug.mix.translate_ct",
    **{name: "eusaug.mix.ultrasound_transforms" for name in ("DepthGain", "SectorMask", "SpeckleNoise")},
    "fit_into_frame": "eusaug.mix.transform_helpers",
    **{name: "eusaug.mix.torch_data" for name in ("LabelledDataset", "MixedDataset", "epoch_seed", "item_seed")},
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CLASS_COLUMNS",
    "CONFIG_NAME",
    "ClassCount",
    "ClassSelection",
    "DEFAULT_SUBJECT_PATTERN",
    "DepthGain",
    "LabelledDataset",
    "LabelledSetWarning",
    "LabelledSource",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "METADATA_COLUMNS",
    "METADATA_NAME",
    "ManifestRow",
    "MissingClass",
    "MixMode",
    "MixPlan",
    "MixedDataset",
    "PAPER_RATIOS",
    "PATH_COLUMNS",
    "RESERVED_CLASS_NAMES",
    "Ratio",
    "SectorMask",
    "Source",
    "SpeckleNoise",
    "Split",
    "SplitSettings",
    "SyntheticSwap",
    "TF_DECODABLE",
    "TranslateCT",
    "as_labelled_set",
    "check_class_name",
    "check_image_size",
    "check_output_apart",
    "check_ratio",
    "check_ratios",
    "class_rng",
    "epoch_seed",
    "fit_into_frame",
    "image_size",
    "image_sizes",
    "item_seed",
    "match_class_names",
    "mix_folders",
    "mix_sweep",
    "mixed_dataset",
    "parse_ratios",
    "plan_mix",
    "ratio_folder_name",
    "read_grey_sized",
    "read_labelled_set",
    "read_mix_manifest",
    "read_mixed_sets",
    "read_set_metadata",
    "read_subjects_csv",
    "report_sizes",
    "split_by_subject",
    "stream_mixed",
    "subject_of",
    "summarise",
    "synthetic_counts",
    "write_mix",
]
