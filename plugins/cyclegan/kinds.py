"""What a run folder trains: the translator's name, its config and presets, and its model.

The run loop (:func:`eusaug_plugins.cyclegan.run.train_run`) is the same for every model
built on the ResNet generator: run folder, resume, schedule, checkpoints, samples,
progress. A :class:`ModelKind` is what differs, so the CycleGAN, CUT and the hybrid's
learned stage share that loop. TensorFlow is imported only when a model is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eusaug_plugins.cyclegan.config import (
    CUT_PRESETS,
    HYBRID_PRESETS,
    PRESETS,
    CUTConfig,
    CycleGANConfig,
    HybridConfig,
    resolve_config,
)

from eusaug import EusaugError


@dataclass(frozen=True)
class ModelKind:
    """One trainable model family of the run loop.

    ``model_class(config)`` gives the class to build, called as ``cls(config, denoisers,
    strategy)``; it declares ``loss_names`` (the columns of ``losses.csv``) and
    ``denoised_domains`` (which of ``"ct"``, ``"eus"`` get a denoiser in front of their
    discriminator), and has the CycleGAN's ``train_step``/``eval_step``/``state_variables``/
    ``sample_rows``.
    """

    translator: str
    config_class: type[CycleGANConfig]
    presets: Mapping[str, CycleGANConfig]
    model_class: Callable[[CycleGANConfig], type]

    def resolve(self, preset: str, **overrides: Any) -> CycleGANConfig:
        """The preset called ``preset`` with ``overrides`` (``None`` values ignored)."""
        return resolve_config(preset, self.presets, **overrides)


def _cyclegan(config: CycleGANConfig) -> type:
    from eusaug_plugins.cyclegan.training import CycleGAN

    return CycleGAN


def _cut(config: CycleGANConfig) -> type:
    from eusaug_plugins.cyclegan.cut_model import CUT

    return CUT


def _learned_stage(config: CycleGANConfig) -> type:
    return _cut(config) if getattr(config, "learned", "cyclegan") == "cut" else _cyclegan(config)


def check_translator(record: Mapping[str, Any], translator: str, run_dir: Any) -> None:
    """Refuse a run folder (its ``config.json`` ``record``) that another translator trained.

    Hybrid runs made before the hybrid had a choice of stage recorded ``cyclegan``.
    """
    recorded = str(record.get("translator", "cyclegan"))
    if recorded == translator or (translator == "hybrid" and recorded == "cyclegan"):
        return
    raise EusaugError(f"{run_dir} is a {recorded} run, not {translator}: use --translator {recorded} with it, "
                      "or another run folder.")


CYCLEGAN = ModelKind("cyclegan", CycleGANConfig, PRESETS, _cyclegan)
CUT_KIND = ModelKind("cut", CUTConfig, CUT_PRESETS, _cut)
HYBRID = ModelKind("hybrid", HybridConfig, HYBRID_PRESETS, _learned_stage)

__all__ = ["CUT_KIND", "CYCLEGAN", "HYBRID", "ModelKind", "check_translator"]
