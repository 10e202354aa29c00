"""Stage 4: synthetic images mixed into a labelled training set at a ratio, on disk, streamed (tf.data or
PyTorch), or as albumentations transforms."""

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
from eusaug.mix.mixing import (
    CONFIG_NAME,
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    PAPER_RATIOS,
    TF_DECODABLE,
    ClassCount,
    ClassSelection,
    ManifestRow,
    MissingClass,
    MixMode,
    MixPlan,
    Source,
    check_image_size,
    check_output_apart,
    check_ratio,
    class_rng,
    mix_folders,
    mix_sweep,
    mixed_dataset,
    plan_mix,
    ratio_folder_name,
    read_grey_sized,
    read_mix_manifest,
    stream_mixed,
    summarise,
    synthetic_counts,
    write_mix,
)

# The albumentations transforms load albumentations and OpenCV, the datasets PyTorch (an optional
# extra): imported on first use, so `import eusaug.mix` needs neither.
_LAZY = {
    **{name: "eusaug.mix.augment"
       for name in ("DepthGain", "SectorMask", "SpeckleNoise", "SyntheticSwap", "TranslateCT", "fit_into_frame")},
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
    "DepthGain",
    "LabelledDataset",
    "LabelledSetWarning",
    "LabelledSource",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "ManifestRow",
    "MissingClass",
    "MixMode",
    "MixPlan",
    "MixedDataset",
    "PAPER_RATIOS",
    "PATH_COLUMNS",
    "RESERVED_CLASS_NAMES",
    "SectorMask",
    "Source",
    "SpeckleNoise",
    "SyntheticSwap",
    "TF_DECODABLE",
    "TranslateCT",
    "as_labelled_set",
    "check_class_name",
    "check_image_size",
    "check_output_apart",
    "check_ratio",
    "class_rng",
    "epoch_seed",
    "fit_into_frame",
    "image_size",
    "image_sizes",
    "item_seed",
    "mix_folders",
    "mix_sweep",
    "mixed_dataset",
    "plan_mix",
    "ratio_folder_name",
    "read_grey_sized",
    "read_labelled_set",
    "read_mix_manifest",
    "report_sizes",
    "stream_mixed",
    "summarise",
    "synthetic_counts",
    "write_mix",
]
