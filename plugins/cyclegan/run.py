"""A CycleGAN run folder: create or resume it, train epoch by epoch, export the generator.

Layout of ``RUN/``::

    config.json              format, eusaug version, landmark, resolved config, inputs
    denoiser_ct.keras        the frozen denoisers (absent with denoiser off)
    denoiser_eus.keras
    checkpoints/epoch-NNNN/  after every epoch: all weights, optimiser state, pools, history
    losses.csv, losses.png   per epoch: generator, discriminator, cycle, identity; train and validation
    validation.csv/.png/.json  per epoch: KID on held-out training subjects' frames, and the best epoch
    generators/epoch-NNNN.keras  the best and latest epoch's CT -> sEUS generator (``synth --epoch``;
                             every epoch's with ``keep_generators=all``)
    samples/epoch-NNNN.png   CT | sEUS | reconstructed CT, and EUS | sCT | reconstructed EUS
    generator_ct2eus.keras   the CT -> sEUS generator, loads with safe_mode=True

Running again on the same folder resumes after the last complete epoch. Under several
workers (``eusaug.io.choose_placement``) only the chief writes ``RUN/``; the others write
into a temporary folder that is removed, and ``config.json`` records the strategy.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from eusaug_plugins.cyclegan.config import PRESETS, CycleGANConfig
from eusaug_plugins.cyclegan.data import EUSFrames, PlaneSource, SliceFn, SourceFn, TrainingData, load_eus_frames
from eusaug_plugins.cyclegan.kinds import CYCLEGAN, ModelKind, check_translator
from eusaug_plugins.cyclegan.lossfiles import LossPlotter, TensorBoardScalars, write_losses
from eusaug_plugins.cyclegan.runfolder import (
    CHECKPOINTS,
    CONFIG_FILE,
    DENOISER_FILES,
    GENERATOR_FILE,
    RESUMABLE_FIELDS,
    RUN_FORMAT,
    RUN_FORMAT_VERSION,
    SAMPLES,
    is_run_folder,
    prune_generators,
    read_run_config,
)
from eusaug_plugins.cyclegan.training import CycleGAN, Denoisers

from eusaug import EusaugError, __version__
from eusaug.io import (
    Placement,
    barrier,
    choose_placement,
    latest_checkpoint,
    load_checkpoint,
    load_keras_model,
    make_progress,
    resolve_precision,
    save_checkpoint,
    save_keras_model,
    worker_folder,
    write_bytes,
    write_text,
)


def _resolve(run_dir: Path, landmark: str, preset: str | None, overrides: dict[str, Any], resume: bool,
             force: bool, kind: ModelKind = CYCLEGAN) -> tuple[CycleGANConfig, dict[str, Any] | None]:
    """The run's config: new from preset + overrides, or the saved one (+ allowed changes)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    exists = run_dir.is_dir() and any(run_dir.iterdir())
    if exists and force:
        if not is_run_folder(run_dir):  # --force replaces a run, never some other folder
            raise EusaugError(f"{run_dir} is not a CycleGAN run folder: --force only replaces runs; "
                              "choose another output folder.")
        return kind.resolve(preset or "fast", **overrides), None
    if not exists:
        if resume:
            raise EusaugError(f"{run_dir} holds no run to resume: drop --resume to start a new run there.")
        return kind.resolve(preset or "fast", **overrides), None
    record = read_run_config(run_dir)
    if record.get("landmark") != landmark:
        raise EusaugError(
            f"{run_dir} is a {record.get('landmark')!r} run, not {landmark!r}: choose another output "
            "folder, or pass --force to replace it."
        )
    check_translator(record, kind.translator, run_dir)
    saved = kind.config_class.from_dict(record["config"])
    wanted = kind.resolve(preset, **overrides) if preset else saved.replace(**overrides)
    # Which generators a run keeps is its own choice unless this call names it: a preset named
    # again on resume would otherwise start deleting what an older run keeps.
    wanted = wanted.replace(keep_generators=overrides.get("keep_generators") or saved.keep_generators)
    changed = [k for k, v in wanted.to_dict().items() if v != saved.to_dict()[k]]
    fixed = [k for k in changed if k not in RESUMABLE_FIELDS]
    if preset and preset != record.get("preset"):
        fixed = fixed or ["preset"]
    if fixed:
        detail = ", ".join(f"{k}: {saved.to_dict().get(k, record.get(k))!r} -> {wanted.to_dict().get(k, preset)!r}"
                           for k in fixed)
        raise EusaugError(
            f"{run_dir} was trained with other settings ({detail}); a resumed run may only change "
            f"{', '.join(RESUMABLE_FIELDS)}. Use another output folder, or --force to start over."
        )
    return saved.replace(**{k: wanted.to_dict()[k] for k in changed}), record


def _write_config(run_dir: Path, config: CycleGANConfig, landmark: str, preset: str, inputs: dict[str, Any],
                  record: dict[str, Any] | None, translator: str = "cyclegan",
                  placement: Placement | None = None) -> dict[str, Any]:
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    if record is None:
        record = {
            "format": RUN_FORMAT,
            "format_version": RUN_FORMAT_VERSION,
            "translator": translator,
            "eusaug_version": __version__,
            "landmark": landmark,
            "preset": preset,
            "created": now,
            "inputs": inputs,
        }
    # The arithmetic this session trained in (``auto`` becomes bf16 or fp32 by the machine).
    record = {**record, "config": config.to_dict(), "updated": now, "precision": resolve_precision(config.precision)}
    if placement is not None:  # where this session trained (a resumed run may train elsewhere)
        record["strategy"] = placement.to_dict()
    write_text(run_dir / CONFIG_FILE, json.dumps(record, indent=2))
    return record


def _denoisers(run_dir: Path, config: CycleGANConfig, data: TrainingData,
               domains: tuple[str, ...] = ("ct", "eus"), write_dir: Path | None = None) -> Denoisers:
    """Load the ``domains``' denoisers, training and saving them (in ``write_dir``, default
    ``run_dir``) first when the run has none."""
    if not config.denoiser:
        return Denoisers()
    from eusaug_plugins.cyclegan.denoiser import train_denoiser

    models = {}
    clean: tuple[np.ndarray, np.ndarray] | None = None
    for index, (domain, filename) in enumerate(DENOISER_FILES.items()):
        if domain not in domains:
            continue
        path = run_dir / filename
        if path.is_file():
            models[domain] = load_keras_model(path)
            models[domain].trainable = False
            continue
        if clean is None:
            clean = data.domain_images()
        images = clean[0] if domain == "ct" else clean[1]
        rng = np.random.default_rng([config.seed, 7, index])
        with make_progress() as progress:
            task = progress.add_task(f"denoiser ({domain})", total=config.denoiser_steps)
            model = train_denoiser(
                images, config.denoiser_steps, rng, depth=config.denoiser_depth, filters=config.denoiser_filters,
                sigma_max=config.denoise_sigma_max, patch_px=config.denoiser_patch_px, seed=config.seed + index,
                name=f"denoiser_{domain}", dtype=config.dtype_policy, on_step=lambda i, loss, t=task: progress.advance(t),
            )
        save_keras_model(model, (write_dir or run_dir) / filename)
        models[domain] = model
    return Denoisers(ct=models.get("ct"), eus=models.get("eus"))


def _sample_grid(model: CycleGAN, data: TrainingData, epoch: int) -> bytes:
    """PNG bytes: the model's rows of titled images (CycleGAN: per sample pair a CT row (CT,
    sEUS, rec. CT) and an EUS row (EUS, sCT, rec. EUS)).

    Drawn with PIL (a few ms) rather than matplotlib (~1 s), as it is made every epoch.
    """
    from PIL import Image, ImageDraw

    from eusaug.io import unit_to_uint8

    ct, eus = data.sample_pairs(2)
    rows = model.sample_rows(ct, eus)
    side = ct.shape[1]
    scale = max(1, 192 // side)  # small training sizes are shown enlarged
    cell, title, gap, head = side * scale, 14, 6, 18
    columns = max(len(row) for row in rows)
    width = columns * cell + (columns + 1) * gap
    height = head + len(rows) * (title + cell + gap) + gap
    sheet = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(sheet)
    draw.text((gap, 3), f"epoch {epoch}", fill=0)
    for r, row in enumerate(rows):
        top = head + r * (title + cell + gap)
        for c, (name, image) in enumerate(row):
            left = gap + c * (cell + gap)
            draw.text((left, top + 1), name, fill=0)
            tile = Image.fromarray(unit_to_uint8(image))
            if scale > 1:
                tile = tile.resize((cell, cell), Image.Resampling.NEAREST)
            sheet.paste(tile, (left, top + title))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def _mean(rows: list[dict[str, float]], name: str) -> float:
    return float(np.mean([r[name] for r in rows])) if rows else float("nan")


def train_run(
    run_dir: str | Path,
    sources: list[PlaneSource],
    eus_dir: str | Path | EUSFrames,
    landmark: str,
    slice_fn: SliceFn,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    kind: ModelKind = CYCLEGAN,
    stop_after: int | None = None,
    inputs: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    source_fn: SourceFn | None = None,
    val_scorer: Callable[[np.ndarray], tuple[float, float]] | None = None,
    prepare_run: Callable[[Path], None] | None = None,
) -> Path:
    """Train (or resume) a CycleGAN in ``run_dir``; return the exported generator's path.

    ``kind``: the model family trained (default the CycleGAN; :data:`~eusaug_plugins.cyclegan.kinds.CUT_KIND`
    for CUT), with its config class, presets and model.
    ``stop_after``: train at most this many epochs in this call (the schedule still spans
    ``epochs``), e.g. to split a long run into sessions. ``source_fn``: what the generator
    translates from (default: the windowed CT plane). ``val_scorer``: replaces the
    validation KID (``(N, S, S)`` sEUS -> ``(score, spread)``, lower is better).
    ``prepare_run``: called with the folder this process writes once it exists (a new or
    replaced run's included), before ``config.json``: a translator puts its own files there.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise EusaugError(f"{run_dir} exists and is not a folder: choose another output folder.")
    config, record = _resolve(run_dir, landmark, preset, overrides or {}, resume, force, kind)
    # First of all TensorFlow work (a multi-worker strategy must be); then every worker has
    # read the run folder before the chief writes to it.
    placement = choose_placement(config.devices, config.distribute)
    barrier(placement)
    with worker_folder(run_dir, placement) as out:
        return _train(run_dir, out, placement, config, record, sources, eus_dir, landmark, slice_fn, preset, force,
                      kind, stop_after, inputs, on_epoch, source_fn, val_scorer, prepare_run)


def _train(run_dir: Path, out: Path, placement: Placement, config: CycleGANConfig, record: dict[str, Any] | None,
           sources: list[PlaneSource], eus_dir: str | Path | EUSFrames, landmark: str, slice_fn: SliceFn,
           preset: str | None, force: bool, kind: ModelKind, stop_after: int | None, inputs: dict[str, Any] | None,
           on_epoch: Callable[[dict[str, float]], None] | None, source_fn: SourceFn | None,
           val_scorer: Callable[[np.ndarray], tuple[float, float]] | None,
           prepare_run: Callable[[Path], None] | None = None) -> Path:
    """:func:`train_run` once the placement is chosen: reads ``run_dir``, writes ``out``
    (the same folder on the chief, a temporary one on other workers)."""
    from eusaug_plugins.cyclegan.epoch_choice import best_epoch
    from eusaug_plugins.cyclegan.validation import open_validator, split_validation_frames

    grid = (sources[0].fov.height_px, sources[0].fov.width_px) if config.patch_training and sources else None
    frames = eus_dir if isinstance(eus_dir, EUSFrames) else load_eus_frames(eus_dir, config, grid)
    if len(frames.images) < 1:
        raise EusaugError(f"EUS folder {eus_dir} holds no frames.")
    all_frames = frames
    holdout = split_validation_frames(frames.paths, config.val_subjects, config.seed, config.val_planes > 0)
    if holdout.enabled:  # the validation subjects' frames never reach the GAN
        frames = EUSFrames(frames.images[holdout.train], [frames.paths[i] for i in holdout.train])
    data = TrainingData(sources, frames, config, slice_fn, replicas=placement.replicas, source_fn=source_fn)
    if force and placement.is_chief and run_dir.is_dir():
        # Only now, with the new run's inputs checked, is the old run removed.
        shutil.rmtree(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    if prepare_run is not None:
        prepare_run(out)
    run_inputs = {**(inputs or {}), "n_eus": len(frames.images), "n_poses": int(len(data.pose_index)),
                  "field_of_view": sources[0].fov.to_dict(), "validation": holdout.to_dict()}
    record = _write_config(out, config, landmark, (record or {}).get("preset", preset or "fast"), run_inputs,
                           record, kind.translator, placement)

    model_class = kind.model_class(config)
    model = model_class(config, _denoisers(run_dir, config, data, model_class.denoised_domains, out),
                        placement.strategy)
    history: list[dict[str, float]] = []
    start = 0
    checkpoint = None if force else latest_checkpoint(run_dir / CHECKPOINTS)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model.state_variables())
        start, history = int(state["epoch"]), list(state.get("history", []))
    end = config.epochs if stop_after is None else min(config.epochs, start + stop_after)
    validator = open_validator(run_dir, config, data, all_frames.images, holdout, start, val_scorer) \
        if start < end and placement.is_chief else None

    meter = RunMeter(total_steps=(end - start) * data.iterations_per_epoch(), images_per_step=data.global_batch)
    plotter = LossPlotter()
    board = TensorBoardScalars(config.tensorboard) if config.tensorboard and placement.is_chief and start < end else None
    with make_progress(_info_column()) as progress, contextlib.closing(plotter), \
            (contextlib.closing(board) if board is not None else contextlib.nullcontext()):
        # One bar for the whole run: its time left is the run's, not the epoch's.
        task = progress.add_task(f"epoch {start + 1}/{config.epochs}", total=meter.total_steps, info="")
        for epoch in range(start, end):  # (files go to ``out``: the run folder on the chief only)
            progress.update(task, description=f"epoch {epoch + 1}/{config.epochs}")
            model.set_learning_rate(config.learning_rate_at(epoch))
            plan = data.plan(epoch)
            train_rows: list[dict[str, float]] = []
            began = time.perf_counter()
            for ct, eus, draws, slots in _feed(model, data, plan.train):
                losses = model.train_step(ct, eus, draws, slots)
                train_rows.append({k: float(v) for k, v in losses.items()})
                _stop_if_diverged(train_rows[-1], epoch + 1, run_dir)
                meter.step()
                progress.update(task, completed=meter.done, info=_describe(train_rows[-1], meter))
            seconds = time.perf_counter() - began
            val_rows = [{k: float(v) for k, v in model.eval_step(ct, eus).items()}
                        for ct, eus, _, _ in _feed(model, data, plan.validation)]
            row: dict[str, float] = {"epoch": epoch + 1, "step": model.step_count,
                                     "learning_rate": float(f"{model.learning_rate:.7g}")}
            for name in model.loss_names:
                row[f"train_{name}"] = _mean(train_rows, name)
            for name in model.loss_names:
                row[f"val_{name}"] = _mean(val_rows, name)
            row["seconds"] = round(seconds, 3)
            row["images_per_s"] = round(len(train_rows) * data.global_batch / max(seconds, 1e-9), 3)
            history.append(row)
            if board is not None:
                board.add(row)
            if validator is not None:  # before the checkpoint: a resume re-scores an epoch it retrains
                validator.end_epoch(epoch + 1, model.g_ct2eus)
            # The checkpoint is the truth; the files after it can always be rebuilt from it.
            save_checkpoint(out / CHECKPOINTS, epoch + 1, model.state_variables(),
                            {"history": history, "learning_rate": model.learning_rate, "step": model.step_count,
                             "format_version": RUN_FORMAT_VERSION})
            if validator is not None and config.keep_generators == "best":
                prune_generators(validator.run_dir, {best_epoch(validator.rows), epoch + 1})
            write_bytes(out / SAMPLES / f"epoch-{epoch + 1:04d}.png", _sample_grid(model, data, epoch + 1))
            save_keras_model(model.g_ct2eus, out / GENERATOR_FILE)
            write_losses(out, history, plotter)
            if on_epoch is not None:
                on_epoch(row)
    if start == end or not (out / GENERATOR_FILE).is_file():
        # Nothing trained now: export again, in case a kill came between checkpoint and export,
        # and rebuild the loss files from the checkpoint's history.
        save_keras_model(model.g_ct2eus, out / GENERATOR_FILE)
        write_losses(out, history)
    return run_dir / GENERATOR_FILE


def _stop_if_diverged(losses: dict[str, float], epoch: int, run_dir: Path) -> None:
    """Stop at the first step whose losses are not finite: every later step would be too, and
    would overwrite the last good checkpoint and snapshots with them."""
    bad = [name for name, value in losses.items() if not np.isfinite(value)]
    if not bad:
        return
    kept = f"{run_dir} keeps the run up to epoch {epoch - 1}" if epoch > 1 else "no epoch was kept"
    raise EusaugError(
        f"Training diverged in epoch {epoch}: the {', '.join(bad)} loss{'es are' if len(bad) > 1 else ' is'} "
        f"{losses[bad[0]]}. Nothing of epoch {epoch} was written ({kept}); resuming would repeat the same "
        "steps, so train again in a new folder with a change: a lower --option learning_rate, "
        "--option precision=fp32, or without the last option you added."
    )


def _info_column() -> Any:
    from rich.progress import TextColumn

    return TextColumn("{task.fields[info]}")


class RunMeter:
    """Images per second and time left for a whole training run, for its progress bar.

    The clock starts when the first step has finished (that one traces the step's graph)
    and runs through validation, sample grids and checkpoints, so the time left covers
    everything the run still has to do.
    """

    def __init__(self, total_steps: int, images_per_step: int, clock: Callable[[], float] = time.perf_counter) -> None:
        self.total_steps = int(total_steps)
        self.images_per_step = int(images_per_step)
        self.clock = clock
        self.done = 0
        self._t0: float | None = None
        self._counted = 0  # steps finished since the clock started

    def step(self) -> None:
        """One training step has finished."""
        self.done += 1
        if self._t0 is None:
            self._t0 = self.clock()
        else:
            self._counted += 1

    @property
    def images_per_s(self) -> float:
        """Training images per second of wall time since the first step (nan before two steps)."""
        if self._t0 is None or self._counted == 0:
            return float("nan")
        return self._counted * self.images_per_step / max(self.clock() - self._t0, 1e-9)

    @property
    def seconds_left(self) -> float:
        """Seconds until the last step of the run, at the rate so far (nan before two steps)."""
        rate = self.images_per_s
        if not rate == rate:  # nan
            return rate
        return max(self.total_steps - self.done, 0) * self.images_per_step / rate


def _clock_text(seconds: float) -> str:
    if not seconds == seconds:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _feed(model: CycleGAN, data: TrainingData, items: np.ndarray) -> Any:
    """Batches of ``items`` for ``model``: sliced ahead in a background thread on one device,
    through ``tf.data`` split over the replicas on several."""
    if model.replicas == 1:
        return data.batches(items)
    return model.distribute(data.dataset(items))


def _describe(losses: dict[str, float], meter: RunMeter) -> str:
    short = {"generator": "G", "discriminator": "D", "cycle": "cyc", "identity": "idt", "nce": "NCE",
             "nce_identity": "NCEidt"}
    text = " ".join(f"{short.get(k, k)} {v:.3f}" for k, v in losses.items())
    rate = meter.images_per_s
    rate_text = "- img/s" if not rate == rate else f"{rate:.2f} img/s"
    return f"{text}  {rate_text}  run {_clock_text(meter.seconds_left)} left"


__all__ = ["PRESETS", "train_run"]
