"""Mixing synthetic images into a labelled training set at a synthetic ratio.

The paper trains its classifiers with 0, 25, 50 and 75 % synthetic images (Table 2).
Two modes give a class of ``n`` real images its synthetic share ``ratio``:

* ``replace`` (default): the class keeps its size ``n``; ``s = round(ratio * n)``
  synthetic images replace real ones, ``n - s`` real images stay;
* ``add``: all ``n`` real images stay and ``s = round(ratio * n / (1 - ratio))``
  synthetic ones are added, so that ``s / (n + s)`` is as close to ``ratio`` as counts allow.

``round`` is round-half-up on the exact fraction (``ratio`` is read as the nearest
fraction with denominator <= 10^6, so 0.25 is exactly 1/4): a class of 21 at 0.5
``replace`` gets 11 synthetic + 10 real; at 0.25 ``add`` it gets 7 synthetic.

Draws are seeded and stratified per class: each class gets its own random stream from
``(seed, class name)``, so adding or removing a class leaves the others' selection as it
was. The selection takes prefixes of one permutation per class and side, so the
synthetic images chosen at 0.25 are among those chosen at 0.5 and the real images kept at
0.5 are among those kept at 0.25: a sweep's ratios differ only in the ratio.

Classes present on one side only: a class with real images but no synthetic ones is
kept all real with a warning (the paper's background class has no sEUS counterpart) --
``missing_class="error"`` makes it an error; a class with synthetic images only is left
out with a warning (there is no real size to take a share of). When a class has fewer
synthetic images than its share needs, it is an error that gives the numbers.

This module keeps the names importable from their old home: planning lives in
:mod:`eusaug.mix.plan`, the ratio in :mod:`eusaug.mix.ratios`, writing in
:mod:`eusaug.mix.write`, streaming in :mod:`eusaug.mix.stream`.
"""

from __future__ import annotations

from eusaug.mix.plan import (
    ClassSelection,
    MissingClass,
    MixMode,
    MixPlan,
    Source,
    class_rng,
    emit_notes,
    match_class_names,
    plan_mix,
    synthetic_counts,
)
from eusaug.mix.ratios import PAPER_RATIOS, Ratio, check_ratio, check_ratios, parse_ratios, ratio_folder_name
from eusaug.mix.stream import TF_DECODABLE, check_image_size, mixed_dataset, read_grey_sized, stream_mixed
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
    summarise,
    write_mix,
)

__all__ = [
    "CONFIG_NAME", "MANIFEST_COLUMNS", "MANIFEST_NAME", "METADATA_COLUMNS", "METADATA_NAME", "PAPER_RATIOS",
    "TF_DECODABLE", "ClassCount", "ClassSelection", "ManifestRow", "MissingClass", "MixMode", "MixPlan", "Ratio",
    "Source", "check_image_size", "check_output_apart", "check_ratio", "check_ratios", "class_rng", "emit_notes",
    "match_class_names", "mix_folders", "mix_sweep", "mixed_dataset", "parse_ratios", "plan_mix",
    "ratio_folder_name", "read_grey_sized", "read_mix_manifest", "read_mixed_sets", "stream_mixed", "summarise",
    "synthetic_counts", "write_mix",
]
