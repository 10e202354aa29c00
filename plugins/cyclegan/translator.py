"""The ``cyclegan`` translator: loads a run's CT -> sEUS generator, trains runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from eusaug_plugins.cyclegan.config import PRESETS, CycleGANConfig
from eusaug_plugins.cyclegan.runfolder import (
    CONFIG_FILE,
    GENERATOR_FILE,
    LOSSES_CSV,
    VALIDATION_JSON,
    read_run_config,
    snapshot_path,
)

from eusaug import EusaugError, FieldOfView, HUWindow, Planes, TrainableTranslator
from eusaug.io import load_keras_model


def any_size_copy(generator: Any, config: CycleGANConfig) -> Any:
    """The same generator on an input of any (multiple-of-4) size: its layers are convolutions."""
    from eusaug_plugins.cyclegan.networks import build_generator

    free = build_generator(None, config.ngf, config.n_blocks, dtype=config.dtype_policy, seed=config.seed,
                           name=generator.name, upsample=config.upsample)
    free.set_weights(generator.get_weights())
    return free


def fan_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and columns of a ``(H, W)`` fan mask's bounding box (everything when it is empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return slice(None), slice(None)
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def translate_in_batches(images: np.ndarray, forward: Callable[[np.ndarray], Any], batch_size: int,
                         box: tuple[slice, slice] | None = None) -> np.ndarray:
    """``(N, H, W)`` images through ``forward`` (``(B, H', W', 1)`` -> same) in batches, as float32.

    The generator halves the grid twice: images are padded to multiples of 4 with black and
    cropped back after. ``box`` (rows, columns): translate only that window, black elsewhere.
    """
    if box is not None:
        out = np.full(images.shape, -1.0, np.float32)
        out[:, box[0], box[1]] = translate_in_batches(images[:, box[0], box[1]], forward, batch_size)
        return out
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, -h % 4), (0, -w % 4)), constant_values=-1.0).astype(np.float32, copy=False)
    out = np.empty(padded.shape, np.float32)
    for start in range(0, n, batch_size):
        batch = padded[start : start + batch_size, ..., None]
        out[start : start + len(batch)] = np.asarray(forward(batch), np.float32)[..., 0]
    return out[:, :h, :w]


def draw_in_fan(images: np.ndarray, forward: Callable[[np.ndarray], Any], batch_size: int, visible: np.ndarray,
                box: tuple[slice, slice] | None = None) -> np.ndarray:
    """``(N, H, W)`` sEUS in [-1, 1] of ``images`` (:func:`translate_in_batches`), black where
    ``visible`` is False: outside the fan and the CT there is no echo, and the generator would
    draw the volume's edge as a bright line. Synth and validation both draw through this."""
    out = translate_in_batches(images, forward, batch_size, box)
    return np.where(visible, np.clip(out, -1.0, 1.0), np.float32(-1.0)).astype(np.float32, copy=False)


def compiled_forward(generator: Any) -> Callable[[np.ndarray], Any]:
    """``generator`` in inference mode as one compiled function of any-size ``(B, H, W, 1)``
    float32 batches (traced once, not per shape), as synth and validation run it."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, None, None, 1), tf.float32)
    forward = tf.function(lambda x: generator(x, training=False), input_signature=[spec])
    return lambda batch: forward(tf.constant(batch, tf.float32))


class WholePlaneGenerator:
    """The training generator, made to translate whole planes: an any-size copy built once,
    its weights refreshed each epoch, run as one compiled function (as synth runs it) rather
    than layer by layer."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.copy: Any = None
        self.forward: Any = None

    def __call__(self, generator: Any) -> Callable[..., Any]:
        if self.copy is None:
            self.copy = any_size_copy(generator, self.config)
            self.forward = compiled_forward(self.copy)
        else:
            self.copy.set_weights(generator.get_weights())
        return lambda batch, training=False: self.forward(batch)


def _last_epoch(run_dir: Path) -> int | None:
    """The last finished epoch of a run, from ``losses.csv`` (None when it cannot be read)."""
    import csv

    try:
        with (run_dir / LOSSES_CSV).open(newline="") as handle:
            epochs = [int(float(row["epoch"])) for row in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError):
        return None
    return max(epochs) if epochs else None


class CycleGANTranslator(TrainableTranslator):
    """CT planes -> sEUS through a trained CycleGAN generator (Grimwood et al.)."""

    name: ClassVar[str] = "cyclegan"
    description: ClassVar[str] = "CycleGAN CT->EUS generator with denoised discriminators (the paper's method)."
    needs_model: ClassVar[bool] = True
    training_config_class: ClassVar[type] = CycleGANConfig
    training_presets: ClassVar[dict[str, CycleGANConfig]] = PRESETS

    def __init__(self, generator: Any, config: CycleGANConfig, batch_size: int = 8,
                 source: Path | None = None, field_of_view: FieldOfView | None = None) -> None:
        if batch_size < 1:
            raise EusaugError(f"batch_size={batch_size} must be >= 1.")
        self.generator = generator
        self.config = config
        self.batch_size = int(batch_size)
        self.source = source
        #: The field of view the model was trained on (its grid is the training size).
        self.field_of_view = field_of_view
        self.window = HUWindow(config.hu_level, config.hu_width)
        #: Which of the run's epochs this generator is: ``{"asked": "best", "epoch": 7}``
        #: (epoch None: the exported last one, or a model file given directly).
        self.epoch: dict[str, Any] = {"asked": "last", "epoch": None}
        self._forward = compiled_forward(generator)

    @property
    def image_size_px(self) -> int | None:
        """The grid the generator was trained on; synth slices planes at this size.

        None after patch training: the generator then translates whole planes on the
        field of view's own grid (:attr:`field_of_view`).
        """
        return None if self.config.patch_training else self.config.image_size_px

    @classmethod
    def load(cls, model: Path | None = None, **options: Any) -> CycleGANTranslator:
        """From a run folder (``RUN``) or its exported ``generator_ct2eus.keras``.

        ``epoch`` (run folders only): ``best`` (the default: the epoch validation picked,
        see :func:`~eusaug_plugins.cyclegan.epoch_choice.best_epoch`; the last for runs without
        validation), ``last`` or a number.
        """
        from eusaug_plugins.cyclegan.validation import resolve_epoch

        asked = options.pop("epoch", None)
        number: int | None = None
        if model is None:
            raise EusaugError("The cyclegan translator needs a trained model: pass --model RUN.")
        model = Path(model)
        if model.is_dir():
            record = read_run_config(model)
            number = resolve_epoch(model, asked)
            path = model / GENERATOR_FILE if number is None else snapshot_path(model, number)
            if not path.is_file():
                raise EusaugError(
                    f"{model} has no exported generator ({GENERATOR_FILE}) yet: no epoch has finished. "
                    f"Train at least one epoch (eusaug train ... -o {model})."
                )
        elif model.is_file():
            if asked is not None:
                raise EusaugError(f"--epoch needs a run folder, not the model file {model}: pass --model RUN.")
            path = model
            beside = model.parent / CONFIG_FILE
            record = read_run_config(model.parent) if beside.is_file() else None
        else:
            raise EusaugError(f"Model {model} does not exist: pass a run folder written by `eusaug train`.")
        # Importing the networks registers their custom layers for safe-mode loading.
        import eusaug_plugins.cyclegan.denoiser  # noqa: F401
        import eusaug_plugins.cyclegan.networks  # noqa: F401

        if record:
            from eusaug_plugins.cyclegan.kinds import check_translator

            check_translator(record, cls.name, model)
        config = cls.training_config_class.from_dict(record["config"]) if record else cls._config_from_model(path)
        generator = load_keras_model(path)
        if config.patch_training:
            generator = any_size_copy(generator, config)
        fov = (record or {}).get("inputs", {}).get("field_of_view")
        fov = None if fov is None else FieldOfView.from_dict(fov)
        translator = cls(generator, config, source=path, field_of_view=fov, **options)
        if number is None and model.is_dir():
            number = _last_epoch(model)
        translator.epoch = {"asked": "best" if asked is None and model.is_dir() else str(asked or "last"),
                            "epoch": number}
        return translator

    @classmethod
    def _config_from_model(cls, path: Path) -> CycleGANConfig:
        generator = load_keras_model(path)
        size = generator.input_shape[1] or 256
        return cls.training_config_class(image_size_px=int(size))

    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """``(N, H, W)`` float32 sEUS in [-1, 1], -1 outside the fan and the CT; deterministic (no ``rng``)."""
        images = self.source_images(planes, rng)
        return draw_in_fan(images, self._forward, self.batch_size, planes.visible, self.window_of(planes))

    def window_of(self, planes: Planes) -> tuple[slice, slice] | None:
        """What a patch-trained generator translates of a whole plane: the fan's bounding box.

        Instance normalisation takes its statistics over the whole input: the box is ~65 % fan
        where the whole plane is ~38 % (the 128 px training crops ~83 %), and it costs ~40 %
        less to translate. None (the whole image) for generators trained on whole images.
        """
        if not self.config.patch_training:
            return None
        mask = planes.fov.mask()
        return fan_box(mask) if mask.shape == planes.hu.shape[1:] else None

    def source_images(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        """What the generator translates: the windowed CT planes, ``(N, H, W)`` in [-1, 1]."""
        return planes.windowed(self.window)

    def get_config(self) -> dict[str, Any]:
        """What made the images: written beside them by ``eusaug synth``."""
        return {"translator": self.name, "model": str(self.source), "epoch": dict(self.epoch),
                **self.config.to_dict()}

    @classmethod
    def summary(cls, run_dir: Path) -> str:
        """One line describing a run, for the model store."""
        record = json.loads((Path(run_dir) / CONFIG_FILE).read_text())
        config = cls.training_config_class.from_dict(record["config"])
        best = ""
        try:
            chosen = json.loads((Path(run_dir) / VALIDATION_JSON).read_text())
            if chosen.get("best_epoch") is not None:
                best = f", best epoch {chosen['best_epoch']} (KID {chosen['kid']:.4f}, {chosen['backbone']})"
        except (OSError, ValueError, TypeError, KeyError):
            pass  # no validation: synth takes the last epoch
        return f"preset {record.get('preset')}: {config.summary()}{best}"

    @classmethod
    def train(cls, run_dir: Path, **options: Any) -> Path:
        """Train or resume a run: see :func:`eusaug_plugins.cyclegan.run.train_run`.

        Takes ``cases`` (CT cases), ``pose_sets`` (one ``PoseSet`` per case), ``eus_dir``,
        ``landmark``, and optionally ``preset``, ``overrides``, ``resume``, ``force``,
        ``slicer``, ``registry``, ``stop_after``, ``inputs``, ``source_settings`` (keyword
        arguments of :meth:`training_source_fn`).
        """
        from eusaug_plugins.cyclegan.data import PlaneSource
        from eusaug_plugins.cyclegan.run import train_run

        from eusaug.plugin import DEFAULT_SLICER, Registry
        from eusaug.poses import slice_case

        cases, pose_sets = options.pop("cases"), options.pop("pose_sets")
        slicer_name = options.pop("slicer", DEFAULT_SLICER)
        registry = options.pop("registry", None) or Registry()
        source_settings = options.pop("source_settings", {})
        # One slicer instance for the whole run: it keeps each case's prepared volume.
        slicer = registry.create_slicer(slicer_name)
        sources = [PlaneSource(case, ps.poses, ps.fov) for case, ps in zip(cases, pose_sets)]

        def slice_fn(case: Any, poses: np.ndarray, fov: Any) -> Planes:
            return slice_case(case, poses, fov, slicer=slicer)

        source_fn = cls.training_source_fn(run_dir, sources, registry, **source_settings)
        return train_run(run_dir, sources, slice_fn=slice_fn, source_fn=source_fn, **options)

    @classmethod
    def training_source_fn(cls, run_dir: Path, sources: list[Any], registry: Any, **settings: Any) -> Any:
        """The source-domain images during training (None: the windowed CT, as the paper)."""
        return None
