"""The ``hybrid`` translator: raysim first, then a learned stage from raysim images to real frames.

The idea of Vitale et al. 2019 ("Improving realism in patient-specific abdominal
ultrasound simulation using CycleGANs"): a physics simulator gets the geometry, shadows
and speckle statistics right, so the CycleGAN only has to learn the last step of
appearance, instead of redrawing CT as ultrasound. Training and synthesis are the
CycleGAN's, with the raysim image of each plane as the source domain. raysim is found
through the registry, like any translator; its preset follows the depth of the field of
view (``abdominal`` beyond 100 mm, where the ``eus`` preset's time-gain compensation
would brighten noise, else ``eus``) and is recorded in the run folder. A new run
simulates with raysim calibrated to its own training frames unless told otherwise
(``--calibrate-from FRAMES``, ``raysim_calibration=FILE``, or ``raysim_calibration=none``);
it keeps a copy and synthesis uses the same (:mod:`.hybrid_calibration`).

The learned stage is CUT (``learned=cut``, the ``fast`` preset's) or the CycleGAN
(``learned=cyclegan``, the ``paper`` preset's): both end in the same ResNet generator, so
synthesis is the same, and a run keeps the stage it was trained with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from eusaug_plugins.cyclegan.config import HYBRID_PRESETS, HybridConfig
from eusaug_plugins.cyclegan.hybrid_calibration import (
    FrameFilter,
    default_calibration_frames,
    resolve_calibration,
    run_calibration,
)
from eusaug_plugins.cyclegan.translator import CycleGANTranslator

from eusaug import EusaugError, FieldOfView, Planes, Registry, Translator
from eusaug.io import write_text
from eusaug.plugin import DEFAULT_SLICER
from eusaug.poses import calibration_planes

#: The run folder's record of the simulator behind the CycleGAN.
HYBRID_FILE = "hybrid.json"
#: Fields of view deeper than this use raysim's transabdominal preset.
DEEP_FOV_MM = 100.0


def raysim_preset_for(fov: FieldOfView) -> str:
    """``abdominal`` for deep (transabdominal) fans, ``eus`` for the echoendoscope's."""
    return "abdominal" if fov.depth_mm > DEEP_FOV_MM else "eus"


def validation_left_out(config: HybridConfig) -> FrameFilter:
    """The frames a run's calibration fits on: all but the validation frames ``config`` sets
    aside (the same split the run makes), so validation scores frames nothing was fitted to."""

    def keep(paths: list[Path]) -> tuple[list[Path], str]:
        from eusaug_plugins.cyclegan.validation import split_validation_frames

        split = split_validation_frames(paths, config.val_subjects, config.seed, config.val_planes > 0)
        if not split.enabled:
            return paths, ""
        return [paths[i] for i in split.train], split.note

    return keep


class HybridTranslator(CycleGANTranslator):
    """CT planes -> raysim images -> sEUS through a CycleGAN or CUT trained from raysim images to real frames."""

    name: ClassVar[str] = "hybrid"
    description: ClassVar[str] = ("raysim, then CUT (preset fast) or a CycleGAN (preset paper, or learned=cyclegan) "
                                  "from raysim images to real frames (Vitale et al. 2019).")
    training_config_class: ClassVar[type] = HybridConfig
    training_presets: ClassVar[dict[str, HybridConfig]] = HYBRID_PRESETS

    def __init__(self, *args: Any, raysim: Translator | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raysim = raysim

    @classmethod
    def load(cls, model: Path | None = None, **options: Any) -> HybridTranslator:
        translator = super().load(model, **options)
        assert isinstance(translator, HybridTranslator)
        run = Path(model) if model is not None and Path(model).is_dir() else Path(str(model)).parent
        record_path = run / HYBRID_FILE
        if not record_path.is_file():
            raise EusaugError(f"{run} holds no {HYBRID_FILE}: it is not a hybrid run. Use --translator cyclegan "
                              "for it, or train a hybrid one (eusaug train --translator hybrid).")
        record = json.loads(record_path.read_text())
        # A run trained on calibrated raysim images names its calibration: synthesis must use the same.
        path = resolve_calibration(run, record.get("raysim_calibration"))
        calibration = {} if path is None else {"calibration": str(path)}
        translator.raysim = Registry().translator("raysim").load(None, preset=record["raysim_preset"], **calibration)
        return translator

    def source_images(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """The raysim image of each plane: what this CycleGAN learned to translate."""
        if self.raysim is None:
            raise EusaugError("This hybrid translator has no simulator: load it from its run folder.")
        return np.asarray(self.raysim.translate(planes, rng), np.float32)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return {**config, "translator": self.name,
                "raysim": None if self.raysim is None else self.raysim.get_config()}

    @classmethod
    def train(cls, run_dir: Path, **options: Any) -> Path:
        """The learned stage's training with raysim images as the source domain; records the
        simulator's preset and calibration. ``calibrate_from``: a folder of frames to fit raysim
        to first (a new run only: a resumed one keeps its own)."""
        from eusaug_plugins.cyclegan.kinds import HYBRID

        preset = raysim_preset_for(options["pose_sets"][0].fov)
        overrides = dict(options.pop("overrides", None) or {})
        asked = options.pop("calibrate_from", None)
        eus_dir = options.get("eus_dir")
        frames = default_calibration_frames(Path(run_dir), overrides, asked, eus_dir, bool(options.get("force")),
                                            bool(options.get("resume")))
        # Fitted on the run's own frames, the validation frames are left out of the fit.
        own = frames is not None and isinstance(eus_dir, (str, Path)) and Path(frames).resolve() == Path(eus_dir).resolve()
        config = HYBRID.resolve(options.get("preset") or "fast", **overrides) if own else None
        with run_calibration(Path(run_dir), overrides, frames, preset,
                             bool(options.get("force")), options.get("registry"),
                             lambda: calibration_planes(options["cases"][0], options["pose_sets"][0].poses,
                                                        options["pose_sets"][0].fov,
                                                        options.get("slicer") or DEFAULT_SLICER),
                             optional=asked is None,
                             keep=None if config is None else validation_left_out(config)) as calibration:
            model = super().train(run_dir, kind=HYBRID, overrides=calibration.overrides, prepare_run=calibration.place,
                                  source_settings={"calibration": calibration.source}, **options)
        record: dict[str, Any] = {"raysim_preset": preset}
        if calibration.recorded:
            record["raysim_calibration"] = calibration.recorded
        write_text(Path(run_dir) / HYBRID_FILE, json.dumps(record, indent=2))
        return model

    @classmethod
    def training_source_fn(cls, run_dir: Path, sources: list[Any], registry: Any,
                           calibration: Path | None = None, **settings: Any) -> Any:
        """raysim images of the training planes (its speckle seeded, so a run is reproducible),
        simulated with ``calibration`` when given."""
        fitted = {} if calibration is None else {"calibration": str(calibration)}
        raysim = (registry or Registry()).translator("raysim").load(None, preset=raysim_preset_for(sources[0].fov),
                                                                    **fitted)
        rng = np.random.default_rng(0)
        return lambda planes: raysim.translate(planes, rng)
