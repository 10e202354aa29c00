"""The ``cut`` translator: a CUT run's CT -> sEUS generator (Park et al. 2020), and its training.

A CUT generator is the CycleGAN's ResNet generator, so loading, patch-trained
whole-plane translation and the black outside the fan are the CycleGAN translator's;
training runs the same run loop with CUT's model (:mod:`eusaug_plugins.cyclegan.cut_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from eusaug_plugins.cyclegan.config import CUT_PRESETS, CUTConfig
from eusaug_plugins.cyclegan.translator import CycleGANTranslator


class CUTTranslator(CycleGANTranslator):
    """CT planes -> sEUS through a generator trained with PatchNCE instead of a cycle (one-sided)."""

    name: ClassVar[str] = "cut"
    description: ClassVar[str] = ("Contrastive unpaired translation (CUT/FastCUT): one generator, PatchNCE "
                                  "instead of a cycle; about half the CycleGAN's cost per step.")
    training_config_class: ClassVar[type] = CUTConfig
    training_presets: ClassVar[dict[str, CUTConfig]] = CUT_PRESETS

    @classmethod
    def train(cls, run_dir: Path, **options: Any) -> Path:
        """Train or resume a CUT run; the options are the CycleGAN translator's (presets: fast, paper, fastcut)."""
        from eusaug_plugins.cyclegan.kinds import CUT_KIND

        return super().train(run_dir, kind=CUT_KIND, **options)


__all__ = ["CUTTranslator"]
