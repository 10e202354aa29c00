"""Demo data for the examples: raysim frames of the embedded sample CT, as class folders.

The examples need no real frames and no ``../shared`` folder: as ``eusaug demo`` does
without ``--eus``, raysim frames stand in for the real domain. The classes are the three
landmarks of the paper (aorta, liver, pancreas); each split is drawn from its own poses
(its own seed), and the "synthetic" split is simulated at another frequency, so that it
differs from the "real" one as a second simulator would. They stand in for real EUS and
sEUS only so that the examples run anywhere, in seconds, without a trained translator.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from eusaug import sample_ct_path
from eusaug.translate import synthesize

LANDMARKS = ("aorta", "liver", "pancreas")

#: raysim's options per split: the stand-in "synthetic" domain is simulated at 5 MHz.
SPLIT_OPTIONS = {"real": {}, "test": {}, "synthetic": {"frequency_mhz": 5.0}}


def raysim_sets(folder: Path, counts: dict[str, int], seed: int = 0) -> dict[str, Path]:
    """One class folder per landmark for each split of ``counts`` (split name -> images per class).

    Returns the split folders, e.g. ``{"real": folder/real, "test": folder/test}``.
    """
    splits: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="raysim_", dir=folder) as scratch:
        for split_index, (split, n) in enumerate(counts.items()):
            for landmark_index, landmark in enumerate(LANDMARKS):
                out = Path(scratch) / split / landmark
                synthesize(sample_ct_path(), landmark, n, out, translator="raysim",
                           seed=seed * 1000 + split_index * 10 + landmark_index,
                           translator_options=SPLIT_OPTIONS.get(split, {}))
                target = folder / split / landmark
                target.mkdir(parents=True)
                for image in sorted(out.glob("seus_*.png")):
                    shutil.move(image, target / f"{landmark}_{image.name}")
            splits[split] = folder / split
    return splits
