"""The CycleGAN's configuration: one dataclass, two named presets, every field overridable.

``paper`` is the setting of Grimwood et al. (the reference CycleGAN's defaults at 256x256);
``fast`` is a small, short variant for demos and CI. The resolved config is written to
``config.json`` in the run folder, so a run always says how it was made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from eusaug import EusaugError
from eusaug.io import PRECISION_CHOICES, resolve_precision

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is Python 3.11+

PRECISIONS = PRECISION_CHOICES
#: The generator's upsampling: ``transpose`` (stride-2 transposed convolutions, the
#: reference) or ``resize`` (nearest-neighbour x2 then a 3x3 convolution, no checkerboard).
UPSAMPLE = ("transpose", "resize")
#: ``auto``: MirroredStrategy when several GPUs are visible (MultiWorkerMirroredStrategy when
#: TF_CONFIG or srun makes this process one of several workers); ``mirrored``: always; ``none``: never.
DISTRIBUTE = ("auto", "mirrored", "none")
#: The validation KID's network: ``auto`` takes the standard one when installed.
VAL_BACKBONES = ("auto", "standard", "inception", "none")
KEEP_GENERATORS = ("best", "all")


@dataclass(frozen=True)
class CycleGANConfig:
    """Everything that shapes a CycleGAN run.

    Sizes are pixels on the (square) training grid; learning rates are per Adam step.
    ``decay_start_epoch``: epochs at the full learning rate before it decays linearly
    towards zero (``None``: half of ``epochs``, as the paper's 100 of 200).
    ``crop_margin_px``: images are made ``image_size_px + crop_margin_px`` square and
    randomly cropped back (the paper's 40 px margin at 256).
    ``upsample``: ``"transpose"`` (the reference's transposed convolutions) or
    ``"resize"`` (nearest-neighbour resize then convolution, Odena et al. 2016: no
    checkerboard artefacts, ~4x the FLOPs of the two upsampling layers).
    ``patch_training``: train on ``image_size_px`` crops of the frames and planes at their
    full resolution (the field of view's own grid, e.g. fitted with ``--fov-from``) instead
    of on whole images resized to a square; the generator is fully convolutional, so it then
    translates whole planes at that resolution. Resizing a 640x480 frame to 128 px blurs
    away the speckle: on the shared frames that alone moves FID against unseen subjects from
    74 to 191, more than any translator can win back.
    ``denoise_sigma_max``: the largest Gaussian noise (in [-1, 1] units) the denoiser
    is trained to remove. ``batch_size`` is per replica when ``distribute`` spreads
    training over several GPUs. ``jit_compile`` (XLA) helps on GPUs only: on CPUs it is
    far slower. ``val_subjects``, ``val_planes``, ``val_every``, ``val_backbone``: the
    end-of-epoch validation that picks the best epoch (``validation.py``). ``keep_generators``:
    ``best`` keeps the generators of the best validated epoch and the latest one (each epoch's
    is ~45 MB at ``paper``: 9 GB over its 200 epochs), ``all`` every epoch's.
    """

    image_size_px: int = 256
    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    n_disc_layers: int = 3
    upsample: str = "transpose"
    patch_training: bool = False
    epochs: int = 200
    decay_start_epoch: int | None = None
    batch_size: int = 1
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    cycle_weight: float = 10.0
    identity_weight: float = 0.5
    pool_size: int = 50
    crop_margin_px: int = 40
    flip: bool = True
    validation_fraction: float = 0.1
    hu_level: float = 40.0
    hu_width: float = 400.0
    denoiser: bool = True
    denoiser_depth: int = 7
    denoiser_filters: int = 32
    denoiser_steps: int = 400
    denoiser_patch_px: int = 48
    denoise_sigma_max: float = 0.2
    precision: str = "auto"
    jit_compile: bool = False
    distribute: str = "auto"
    devices: str = "auto"
    val_subjects: str | None = None
    val_planes: int = 32
    val_every: int = 1
    val_backbone: str = "auto"
    keep_generators: str = "best"
    tensorboard: str | None = None
    seed: int = 0

    #: How option errors name this config.
    LABEL: ClassVar[str] = "CycleGAN"

    #: What a run folder written before a field existed did in its place (``from_dict``).
    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {"keep_generators": "all"}

    #: Command-line help of each field (``eusaug train --translator cyclegan --help``).
    FIELD_HELP: ClassVar[dict[str, str]] = {
        "image_size_px": "Training image size in px (square).",
        "ngf": "Generator width (filters of its first layer).",
        "ndf": "Discriminator width (filters of its first layer).",
        "n_blocks": "Residual blocks in each generator (paper: 9).",
        "n_disc_layers": "Strided layers of the PatchGAN discriminator.",
        "upsample": "Generator upsampling: transpose (the reference's) or resize (nearest x2 + conv: no checkerboard).",
        "patch_training": "Train on image_size_px crops at the frames' full resolution and translate whole planes.",
        "epochs": "Epochs in total (a resumed run may extend it).",
        "decay_start_epoch": "Epochs at the full learning rate before linear decay (default: half).",
        "batch_size": "Images per step (the paper: 1).",
        "learning_rate": "Adam learning rate (paper: 2e-4).",
        "beta_1": "Adam beta_1 (paper: 0.5).",
        "cycle_weight": "Weight of the cycle-consistency loss (paper: 10).",
        "identity_weight": "Weight of the identity loss, relative to the cycle weight (paper: 0.5).",
        "pool_size": "Generated images kept to train the discriminators on (paper: 50).",
        "crop_margin_px": "Images are made this much larger and randomly cropped back (paper: 40).",
        "flip": "Random horizontal flips.",
        "validation_fraction": "Share of the data held out to report validation losses.",
        "hu_level": "Centre of the HU window that maps CT to [-1, 1].",
        "hu_width": "Width of that HU window.",
        "denoiser": "Pre-trained Gaussian denoisers in front of both discriminators (the paper's).",
        "denoiser_depth": "Convolution layers of each denoiser.",
        "denoiser_filters": "Filters per denoiser layer.",
        "denoiser_steps": "Pre-training steps of each denoiser.",
        "denoiser_patch_px": "Patch size the denoisers are pre-trained on.",
        "denoise_sigma_max": "Largest noise (in [-1, 1] units) the denoisers learn to remove.",
        "precision": "auto: bf16 where the hardware computes bfloat16 natively (AVX-512 BF16, AMX, Ampere GPUs), "
                     "else fp32; bf16: mixed bfloat16 with float32 losses; fp32: plain float32.",
        "jit_compile": "XLA compilation (helps on GPUs; far slower on CPUs).",
        "distribute": "auto: mirrored over several GPUs when present, multi-worker under TF_CONFIG or srun; "
                      "mirrored: always; none: never.",
        "devices": "Devices of this machine to train on: N, all, or auto (every GPU when there are several). "
                   "Without GPUs, N logical CPU devices (EUSAUG_CPU_DEVICES=N splits the CPU; a test aid).",
        "val_subjects": "Training subjects whose frames are set aside to pick the best epoch, e.g. c,f "
                        "(default: one drawn with the seed; a seeded 10% of frames when names give no subjects).",
        "val_planes": "CT planes translated and scored by KID after a scored epoch (0: no validation; synth uses the last).",
        "val_every": "Score every Nth epoch (and always the last).",
        "tensorboard": "Also write each epoch's losses and learning rate as TensorBoard scalars into this folder "
                       "(TensorFlow's own summary writer; `tensorboard --logdir FOLDER` shows them).",
        "val_backbone": "Network of the validation KID: auto (standard when installed, else ImageNet Inception, "
                        "else pixels), standard, inception or none.",
        "keep_generators": "Epoch generators kept in generators/: best (the best validated epoch's and the "
                           "latest) or all (synth --epoch N for any N; ~45 MB each at paper).",
        "seed": "Seed of everything random in the run.",
    }

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, rule: str) -> None:
            if not ok:
                raise EusaugError(
                    f"{self.LABEL} option {field}={getattr(self, field)!r} is out of range: it must be {rule}."
                )

        need(self.image_size_px >= 16 and self.image_size_px % 4 == 0, "image_size_px", "a multiple of 4, >= 16")
        need(self.ngf >= 1, "ngf", ">= 1")
        need(self.ndf >= 1, "ndf", ">= 1")
        need(self.n_blocks >= 0, "n_blocks", ">= 0")
        need(1 <= self.n_disc_layers <= 5, "n_disc_layers", "between 1 and 5")
        need(self.epochs >= 1, "epochs", ">= 1")
        need(
            self.decay_start_epoch is None or 0 <= self.decay_start_epoch <= self.epochs,
            "decay_start_epoch",
            f"between 0 and epochs ({self.epochs}), or None",
        )
        need(self.batch_size >= 1, "batch_size", ">= 1")
        need(0 < self.learning_rate < 1, "learning_rate", "in (0, 1)")
        need(0 <= self.beta_1 < 1, "beta_1", "in [0, 1)")
        need(self.cycle_weight >= 0, "cycle_weight", ">= 0")
        need(self.identity_weight >= 0, "identity_weight", ">= 0")
        need(self.pool_size >= 0, "pool_size", ">= 0")
        need(self.crop_margin_px >= 0, "crop_margin_px", ">= 0")
        need(0 <= self.validation_fraction < 1, "validation_fraction", "in [0, 1)")
        need(self.hu_width > 0, "hu_width", "> 0")
        need(self.denoiser_depth >= 2, "denoiser_depth", ">= 2")
        need(self.denoiser_filters >= 1, "denoiser_filters", ">= 1")
        need(self.denoiser_steps >= 0, "denoiser_steps", ">= 0")
        need(self.denoiser_patch_px >= 8, "denoiser_patch_px", ">= 8")
        need(0 < self.denoise_sigma_max <= 1, "denoise_sigma_max", "in (0, 1]")
        need(self.upsample in UPSAMPLE, "upsample", " or ".join(UPSAMPLE))
        need(self.precision in PRECISIONS, "precision", " or ".join(PRECISIONS))
        need(self.distribute in DISTRIBUTE, "distribute", ", ".join(DISTRIBUTE))
        devices = str(self.devices).strip().lower()
        need(devices in ("auto", "all") or (devices.isdigit() and int(devices) >= 1), "devices",
             "a count >= 1, all or auto")
        need(self.val_planes >= 0, "val_planes", ">= 0")
        need(self.val_every >= 1, "val_every", ">= 1")
        need(self.val_backbone in VAL_BACKBONES, "val_backbone", ", ".join(VAL_BACKBONES))
        need(self.keep_generators in KEEP_GENERATORS, "keep_generators", " or ".join(KEEP_GENERATORS))
        need(self.seed >= 0, "seed", ">= 0")

    @property
    def decay_start(self) -> int:
        """The epoch (0-based) from which the learning rate decays."""
        return self.epochs // 2 if self.decay_start_epoch is None else self.decay_start_epoch

    @property
    def load_size_px(self) -> int:
        """Side of the images before the random crop."""
        return self.image_size_px + self.crop_margin_px

    @property
    def dtype_policy(self) -> str:
        """The Keras dtype policy of every layer: variables float32, compute as ``precision``."""
        return "mixed_bfloat16" if resolve_precision(self.precision) == "bf16" else "float32"

    @property
    def precision_label(self) -> str:
        """``bf16``, ``fp32``, or what ``auto`` became on this machine (``auto: fp32``)."""
        resolved = resolve_precision(self.precision)
        return resolved if resolved == self.precision else f"{self.precision}: {resolved}"

    def learning_rate_at(self, epoch: int) -> float:
        """Learning rate during 0-based ``epoch``: constant, then linear decay towards zero.

        Follows the reference CycleGAN: after ``decay_start`` epochs the rate falls by
        ``1 / (epochs - decay_start + 1)`` of its base each epoch.
        """
        n_decay = self.epochs - self.decay_start
        factor = 1.0 - max(0, epoch - self.decay_start + 1) / (n_decay + 1)
        return self.learning_rate * max(factor, 0.0)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``; unknown field names are an error that lists the known ones."""
        known = field_names(type(self))
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise EusaugError(
                f"Unknown {self.LABEL} option(s) {', '.join(unknown)}: known options are {', '.join(known)}."
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls().replace(**{**cls.LEGACY_DEFAULTS, **data})

    def summary(self) -> str:
        """One line for the model store and ``eusaug models``."""
        return (
            f"{self.image_size_px}px ngf{self.ngf} {self.n_blocks} blocks"
            f"{', resize upsampling' if self.upsample == 'resize' else ''}"
            f"{', full-resolution patches' if self.patch_training else ''}, {self.epochs} epochs, "
            f"{self.precision_label}, denoiser {'on' if self.denoiser else 'off'}"
        )


def field_names(config_class: type[CycleGANConfig] | None = None) -> list[str]:
    """The option names of ``config_class`` (default: the CycleGAN's)."""
    return [f.name for f in dataclasses.fields(config_class or CycleGANConfig)]


PRESETS: dict[str, CycleGANConfig] = {
    # The paper: reference CycleGAN defaults at 256x256, 200 epochs with decay after 100.
    "paper": CycleGANConfig(),
    # Demos and CI: half the resolution, half the width, 6 blocks, a few epochs.
    "fast": CycleGANConfig(
        image_size_px=128,
        ngf=32,
        ndf=32,
        n_blocks=6,
        epochs=10,
        crop_margin_px=20,
        denoiser_depth=5,
        denoiser_filters=16,
        denoiser_steps=200,
        # A fast epoch is short: scoring whole planes after each took a quarter of a 30-minute
        # budget's epochs (docs/cyclegan.md, "Validation").
        val_every=2,
    ),
}


def resolve_config(preset: str = "fast", presets: Mapping[str, CycleGANConfig] | None = None,
                   **overrides: Any) -> CycleGANConfig:
    """The preset called ``preset`` of ``presets`` (default: the CycleGAN's) with ``overrides``
    (``None`` values are ignored)."""
    presets = PRESETS if presets is None else presets
    if preset not in presets:
        label = next(iter(presets.values())).LABEL
        raise EusaugError(f"Unknown {label} preset {preset!r}: use one of {', '.join(presets)}.")
    return presets[preset].replace(**{k: v for k, v in overrides.items() if v is not None})


#: Generator layers whose features PatchNCE may compare (``block{N}_add`` for any residual block).
NCE_LAYER_STEMS = ("pad_in", "conv_in_relu", "down0_relu", "down1_relu")


@dataclass(frozen=True)
class CUTConfig(CycleGANConfig):
    """A CUT run (contrastive unpaired translation, Park et al. 2020): the CycleGAN's fields
    for the generator, discriminator, denoiser, data and schedule, plus PatchNCE's.

    ``nce_layers``: comma-separated generator layer names whose features are compared
    (the input, the first convolution, both downsamplings, the first residual block: the
    reference's layers 0, 4, 8, 12, 16). ``nce_identity``: the PatchNCE term on real EUS
    through the generator too (CUT; FastCUT leaves it out and weights PatchNCE 10).
    ``cycle_weight``, ``identity_weight`` and ``pool_size`` are unused: CUT has no second
    generator and no image pool.
    """

    LABEL: ClassVar[str] = "CUT"

    nce_weight: float = 1.0
    nce_identity: bool = True
    nce_layers: str = "pad_in,conv_in_relu,down0_relu,down1_relu,block0_add"
    nce_patches: int = 256
    nce_temperature: float = 0.07
    nce_mlp_units: int = 256
    flip_equivariance: bool = False

    FIELD_HELP: ClassVar[dict[str, str]] = {
        **CycleGANConfig.FIELD_HELP,
        "cycle_weight": "Unused by cut (no cycle loss).",
        "identity_weight": "Unused by cut (see nce_identity).",
        "pool_size": "Unused by cut (no image pool).",
        "denoiser": "Pre-trained Gaussian denoiser in front of the discriminator (as the paper's CycleGAN).",
        "nce_weight": "Weight of the PatchNCE loss (CUT: 1; FastCUT: 10).",
        "nce_identity": "PatchNCE also on real EUS through the generator (CUT: on; FastCUT: off).",
        "nce_layers": "Comma-separated generator layers PatchNCE compares (pad_in, conv_in_relu, down0_relu, "
                      "down1_relu, blockN_add).",
        "nce_patches": "Patch locations sampled per layer and image (CUT: 256).",
        "nce_temperature": "InfoNCE temperature (CUT: 0.07).",
        "nce_mlp_units": "Units of the 2-layer projection head on each layer (CUT: 256).",
        "flip_equivariance": "Flip the generator's input at random and its features back (FastCUT's augmentation).",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_nce()

    def _check_nce(self) -> None:
        bad = [n for n in self.nce_layer_names if not self._is_nce_layer(n)]
        if not self.nce_layer_names or bad:
            raise EusaugError(
                f"{self.LABEL} option nce_layers={self.nce_layers!r} names no layer or unknown layers "
                f"({', '.join(bad)}): use some of {', '.join(NCE_LAYER_STEMS)}, block0_add .. "
                f"block{max(self.n_blocks - 1, 0)}_add, comma-separated."
            )
        for field, ok, rule in (("nce_weight", self.nce_weight >= 0, ">= 0"),
                                ("nce_patches", self.nce_patches >= 2, ">= 2"),
                                ("nce_temperature", self.nce_temperature > 0, "> 0"),
                                ("nce_mlp_units", self.nce_mlp_units >= 1, ">= 1")):
            if not ok:
                raise EusaugError(f"{self.LABEL} option {field}={getattr(self, field)!r} is out of range: "
                                  f"it must be {rule}.")

    @property
    def nce_layer_names(self) -> list[str]:
        """``nce_layers`` as a list of generator layer names."""
        return [n.strip() for n in self.nce_layers.split(",") if n.strip()]

    def _is_nce_layer(self, name: str) -> bool:
        if name in NCE_LAYER_STEMS:
            return True
        index = name.removeprefix("block").removesuffix("_add")
        return name.startswith("block") and name.endswith("_add") and index.isdigit() and int(index) < self.n_blocks

    def summary(self) -> str:
        nce = f"PatchNCE x{self.nce_weight:g}{' + identity' if self.nce_identity else ''}"
        return f"{super().summary()}, {nce}{', flip-equivariant' if self.flip_equivariance else ''}"


#: The hybrid's learned stage: after raysim, a CycleGAN (the default) or a CUT.
LEARNED_STAGES = ("cyclegan", "cut")


@dataclass(frozen=True)
class HybridConfig(CUTConfig):
    """A hybrid run: raysim images translated by the ``learned`` stage (the CUT fields apply
    only with ``learned="cut"``; the CycleGAN's loss fields only with ``"cyclegan"``). The
    ``fast`` preset trains a CUT stage, the ``paper`` preset the paper's CycleGAN."""

    LABEL: ClassVar[str] = "hybrid"

    learned: str = "cyclegan"
    #: The raysim calibration the training images are simulated with (``--calibrate-from``
    #: fits one); a relative path is the run folder's own copy, so a moved run still finds it.
    raysim_calibration: str | None = None

    FIELD_HELP: ClassVar[dict[str, str]] = {
        **CUTConfig.FIELD_HELP,
        **{k: CycleGANConfig.FIELD_HELP[k] + " (learned=cyclegan)" for k in ("cycle_weight", "identity_weight",
                                                                              "pool_size")},
        **{k: v + " (learned=cut)" for k, v in CUTConfig.FIELD_HELP.items() if k.startswith(("nce_", "flip_eq"))},
        "learned": "The learned stage after raysim: cut (the fast preset's) or cyclegan (the paper preset's).",
        "raysim_calibration": "A raysim calibration file to simulate the training images with (copied into the "
                              "run folder; --calibrate-from FRAMES fits one).",
    }

    def __post_init__(self) -> None:
        CycleGANConfig.__post_init__(self)
        if self.learned not in LEARNED_STAGES:
            raise EusaugError(f"hybrid option learned={self.learned!r} is out of range: it must be "
                              f"{' or '.join(LEARNED_STAGES)}.")
        if self.learned == "cut":  # the PatchNCE fields mean nothing to a CycleGAN stage
            self._check_nce()

    def summary(self) -> str:
        if self.learned == "cut":
            return f"raysim then CUT: {super().summary()}"
        return f"raysim then CycleGAN: {CycleGANConfig.summary(self)}"


CUT_PRESETS: dict[str, CUTConfig] = {
    # The CycleGAN's sizes and schedules, so the two compare like for like.
    "paper": CUTConfig(**PRESETS["paper"].to_dict()),
    "fast": CUTConfig(**PRESETS["fast"].to_dict()),
    # FastCUT at the paper's size: PatchNCE x10 without the identity term, flip equivariance.
    "fastcut": CUTConfig(**PRESETS["paper"].to_dict(), nce_weight=10.0, nce_identity=False,
                         flip_equivariance=True),
}

HYBRID_PRESETS: dict[str, HybridConfig] = {name: HybridConfig(**config.to_dict()) for name, config in PRESETS.items()}
# The hybrid's learned stage starts from raysim's calibrated speckle: a discriminator that sees it
# undenoised can hold the generator to the frames' texture. Measured with CUT on held-out subjects
# (realism bench, 30 minutes): 143.5 -> 132.0 FID (d, e) and 179.7 -> 166.6 (c, j) at the last epoch.
# Without CUT's identity term (PatchNCE on real EUS through the generator) a step is cheaper:
# 46 and 48 epochs in the bench's 30 minutes instead of 27 and 36; at the last epoch 132.0 -> 121.2 FID
# (d, e) and 166.6 -> 169.4 (c, j), mean 1.76x -> 1.70x the ideal. The paper preset keeps both.
# Every realism figure since 2026-12-06 is a CUT stage's, so the fast preset trains one (the paper
# preset keeps the paper's CycleGAN). Three residual blocks instead of six: at the last epoch
# 123.2 -> 121.9 (d, e) and 163.2 -> 155.7 (c, j), mean 1.68x -> 1.63x, on the AVX-512 BF16 CPU
# (54 and 70 epochs instead of 47 and 59), and 154.6 -> 146.9 (d, e) on an AVX2 CPU, where synthesis
# of 200 images took 142 s instead of 227 s (docs/realism.md, 2026-12-08).
HYBRID_PRESETS["fast"] = dataclasses.replace(HYBRID_PRESETS["fast"], denoiser=False, nce_identity=False,
                                             learned="cut", n_blocks=3)
