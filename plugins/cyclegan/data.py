"""Training data: CT planes sliced on the fly beside training, and real EUS frames.

Each epoch has a *plan* drawn from the run's seed and the epoch number alone: the 90/10
split of EUS frames (and of CT poses), which pose each iteration slices, the crop
offsets and flips, and the image pools' draws. A background thread then does pure work
on the plan (slice, window, crop, flip, stack into batches) while the step runs
(:meth:`TrainingData.batches`; a ``tf.data`` pipeline of the same batches feeds several
replicas), so a resumed epoch sees exactly the data an uninterrupted one would.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from eusaug_plugins.cyclegan.config import CycleGANConfig
from PIL import Image

from eusaug import EusaugError, FieldOfView, HUWindow, Planes
from eusaug.ct import CTCase
from eusaug.io import list_images, read_grey_uint8, uint8_to_unit

#: ``source_fn(planes) -> (N, H, W)`` float32 in [-1, 1]: what the generator translates from
#: (e.g. raysim images for the ``hybrid`` translator).
SourceFn = Callable[[Planes], np.ndarray]
#: ``slice_fn(case, poses (N,4,4), fov) -> Planes``: the slicer the pipeline calls.
SliceFn = Callable[[CTCase, np.ndarray, FieldOfView], Planes]


@dataclass
class PlaneSource:
    """Poses to slice from one CT case, with the field of view they were sampled for."""

    case: CTCase
    poses: np.ndarray
    fov: FieldOfView


@dataclass(frozen=True)
class EUSFrames:
    """Real frames resized to ``(N, L, L)`` uint8, ``L`` the pre-crop size, with their paths."""

    images: np.ndarray
    paths: list[Path]


def load_eus_frames(folder: str | Path, config: CycleGANConfig,
                    frame_shape: tuple[int, int] | None = None) -> EUSFrames:
    """Read every image in ``folder`` (any size, grey or RGB) at the size training uses.

    As in the reference CycleGAN the frames are resized to the pre-crop square; with
    ``frame_shape`` (``(H, W)``, patch training) they are resized to that grid instead, the
    field of view's, so planes and frames share one pixel spacing. Frames smaller than the
    training size are refused rather than upsampled.
    """
    paths = list_images(folder)
    height, width = frame_shape or (config.load_size_px, config.load_size_px)
    out = np.empty((len(paths), height, width), np.uint8)
    for i, path in enumerate(paths):
        image = read_grey_uint8(path)
        h, w = image.shape
        if min(h, w) < config.image_size_px:
            raise EusaugError(
                f"EUS frame {path} is {w}x{h} px, smaller than the training size {config.image_size_px} px: "
                "remove it, or train at a smaller size (--image-size)."
            )
        if (h, w) != (height, width):
            image = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
        out[i] = image
    return EUSFrames(out, paths)


def crop_corners(mask: np.ndarray, size: int) -> np.ndarray:
    """``(K, 2)`` top-left corners of the ``size`` crops of ``mask``'s grid whose centre lies in ``mask``.

    Patch training draws its crops from these, so no crop is all black background.
    """
    h, w = mask.shape
    if h < size or w < size:
        raise EusaugError(f"The field of view's grid is {h}x{w} px, smaller than the {size} px training crops: "
                          "train at a smaller size (--image-size) or on a larger grid (--fov-size).")
    ys, xs = np.mgrid[0 : h - size + 1, 0 : w - size + 1]
    inside = mask[ys + size // 2, xs + size // 2]
    corners = np.stack([ys[inside], xs[inside]], axis=1).astype(np.int32)
    if not len(corners):
        corners = np.array([[(h - size) // 2, (w - size) // 2]], np.int32)
    return corners


# Fields of one planned training pair.
PLAN_DTYPE = np.dtype(
    [
        ("source", np.int32), ("pose", np.int32),
        ("ct_y", np.int32), ("ct_x", np.int32), ("ct_flip", np.bool_),
        ("eus", np.int32), ("eus_y", np.int32), ("eus_x", np.int32), ("eus_flip", np.bool_),
        ("pool_u", np.float32, (2,)), ("pool_slot", np.int32, (2,)),
    ]
)


@dataclass(frozen=True)
class EpochPlan:
    """What one epoch trains and validates on: structured arrays of :data:`PLAN_DTYPE`."""

    epoch: int
    train: np.ndarray
    validation: np.ndarray


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices; validation is empty when there is too little data."""
    order = rng.permutation(n)
    n_val = int(round(n * fraction))
    if fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    else:
        n_val = 0
    return order[n_val:], order[:n_val]


class TrainingData:
    """Plans epochs and turns plans into ``tf.data`` pipelines of ``(ct, eus, draws, slots)``."""

    def __init__(self, sources: list[PlaneSource], frames: EUSFrames, config: CycleGANConfig,
                 slice_fn: SliceFn, replicas: int = 1, source_fn: SourceFn | None = None) -> None:
        if not sources or not any(len(s.poses) for s in sources):
            raise EusaugError("No CT poses to train on: the poses file(s) hold no kept planes. "
                              "Sample more poses (eusaug poses -n ...) or relax the slice filter.")
        self.config = config
        #: Images per training step over all replicas.
        self.global_batch = config.batch_size * max(int(replicas), 1)
        self.frames = frames
        self.slice_fn = slice_fn
        #: Planes -> the source domain's ``(N, L, L)`` images in [-1, 1]; None: the windowed CT.
        self.source_fn = source_fn
        if config.patch_training:
            # Crops of the planes at the field of view's own grid (one grid for all sources).
            grids = {(s.fov.height_px, s.fov.width_px) for s in sources}
            if len(grids) > 1:
                raise EusaugError(f"Patch training needs one grid for all poses files, got {sorted(grids)}: "
                                  "sample them with one field of view (--fov-from / --fov-size).")
            self.sources = list(sources)
            self.corners = crop_corners(self.sources[0].fov.mask(), config.image_size_px)
        else:
            side = config.load_size_px
            self.sources = [replace(s, fov=replace(s.fov, height_px=side, width_px=side)) for s in sources]
        #: Source images of patch training, per (source, pose): a full-resolution plane (and a
        #: raysim image for the hybrid) costs far more than the crop the step uses.
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self.pose_index = np.array([(i, j) for i, s in enumerate(self.sources) for j in range(len(s.poses))],
                                   np.int32)
        self.window = HUWindow(config.hu_level, config.hu_width)

    @property
    def n_eus(self) -> int:
        return len(self.frames.images)

    def iterations_per_epoch(self) -> int:
        """Training iterations per epoch: the frames in the epoch's training split, per batch."""
        n_train = self.n_eus - len(_split(self.n_eus, self.config.validation_fraction, np.random.default_rng(0))[1])
        return max(n_train // self.global_batch, 0)

    def plan(self, epoch: int) -> EpochPlan:
        """The epoch's split, pairings, augmentations and pool draws, from (seed, epoch) alone."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, epoch])
        eus_train, eus_val = _split(self.n_eus, cfg.validation_fraction, rng)
        pose_train, pose_val = _split(len(self.pose_index), cfg.validation_fraction, rng)
        if len(pose_val) == 0:
            pose_val = pose_train
        n_train = len(eus_train) // self.global_batch * self.global_batch
        train = self._items(rng, eus_train[:n_train], pose_train, augment=True)
        validation = self._items(rng, eus_val, pose_val, augment=False)
        return EpochPlan(epoch, train, validation)

    def _items(self, rng: np.random.Generator, eus: np.ndarray, poses: np.ndarray, augment: bool) -> np.ndarray:
        cfg = self.config
        n = len(eus)
        items = np.zeros(n, PLAN_DTYPE)
        picked = self.pose_index[poses[rng.integers(0, len(poses), n)]] if n else np.zeros((0, 2), np.int32)
        items["source"], items["pose"] = picked[:, 0], picked[:, 1]
        items["eus"] = eus
        if augment:
            for prefix in ("ct", "eus"):
                y, x = self._crop_offsets(rng, n)
                items[f"{prefix}_y"], items[f"{prefix}_x"] = y, x
                items[f"{prefix}_flip"] = (rng.random(n) < 0.5) & cfg.flip
            items["pool_u"] = rng.random((n, 2))
            items["pool_slot"] = rng.integers(0, max(cfg.pool_size, 1), (n, 2))
        else:
            y, x = self.centre_crop()
            for prefix in ("ct", "eus"):
                items[f"{prefix}_y"], items[f"{prefix}_x"] = y, x
        return items

    def _crop_offsets(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Random crop corners: within the margin, or (patch training) anywhere in the fan."""
        if self.config.patch_training:
            picked = self.corners[rng.integers(0, len(self.corners), n)]
            return picked[:, 0], picked[:, 1]
        margin = self.config.crop_margin_px
        return rng.integers(0, margin + 1, n), rng.integers(0, margin + 1, n)

    def centre_crop(self) -> tuple[int, int]:
        """The unaugmented crop's corner: the margin's middle, or (patch training) the middle fan crop."""
        if self.config.patch_training:
            y, x = self.corners[len(self.corners) // 2]
            return int(y), int(x)
        return self.config.crop_margin_px // 2, self.config.crop_margin_px // 2

    # -- pure work on a plan
    def ct_plane(self, source: int, pose: int) -> np.ndarray:
        """The source-domain ``(L, L)`` float32 image of one pose in [-1, 1]: the windowed CT plane by default."""
        cached = self._cache.get((source, pose))
        if cached is not None:
            return cached.astype(np.float32)
        src = self.sources[source]
        planes = self.slice_fn(src.case, src.poses[pose : pose + 1], src.fov)
        if self.source_fn is not None:
            image = np.asarray(self.source_fn(planes), np.float32)[0]
        else:
            image = planes.windowed(self.window)[0]
        if self.config.patch_training:
            self._cache[(source, pose)] = image.astype(np.float16)
        return image

    def pair(self, item: np.void) -> tuple[np.ndarray, np.ndarray]:
        """``(ct, eus)``, each ``(S, S)`` float32 in [-1, 1], for one planned item."""
        size = self.config.image_size_px
        ct = self.ct_plane(int(item["source"]), int(item["pose"]))
        ct = ct[item["ct_y"] : item["ct_y"] + size, item["ct_x"] : item["ct_x"] + size]
        if item["ct_flip"]:
            ct = ct[:, ::-1]
        eus = self.frames.images[item["eus"], item["eus_y"] : item["eus_y"] + size,
                                 item["eus_x"] : item["eus_x"] + size]
        if item["eus_flip"]:
            eus = eus[:, ::-1]
        return np.ascontiguousarray(ct, np.float32), uint8_to_unit(np.ascontiguousarray(eus))

    def batch(self, items: np.ndarray) -> tuple[np.ndarray, ...]:
        """One batch ``(ct, eus, pool_draws, pool_slots)`` as numpy arrays: ``(B, S, S, 1)`` float32
        images, ``(B, 2)`` float32 draws and ``(B, 2)`` int32 slots."""
        pairs = [self.pair(item) for item in items]
        ct = np.stack([p[0] for p in pairs])[..., None]
        eus = np.stack([p[1] for p in pairs])[..., None]
        return ct, eus, items["pool_u"].astype(np.float32), items["pool_slot"].astype(np.int32)

    def _generate(self, items: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
        """Whole batches of ``items`` (the remainder dropped), in order."""
        for start in range(0, len(items) - self.global_batch + 1, self.global_batch):
            yield self.batch(items[start : start + self.global_batch])

    def batches(self, items: np.ndarray, prefetch: int = 4) -> Iterator[tuple[tf.Tensor, ...]]:
        """Batches of ``(ct, eus, pool_draws, pool_slots)`` (``global_batch`` each) for ``items``,
        made by one background thread up to ``prefetch`` batches ahead of the consumer.

        The same batches, in the same order, as :meth:`dataset`, at about a tenth of its
        per-item cost (``Dataset.from_generator`` spends ~10 ms of Python per element;
        slicing, windowing and cropping a pair takes ~1 ms), which matters when the
        pipeline shares two cores with the step. Errors in the thread are raised here.
        """
        out: queue.Queue = queue.Queue(maxsize=max(int(prefetch), 1))
        stop = threading.Event()
        done = object()

        def put(thing: object) -> bool:
            while not stop.is_set():
                try:
                    out.put(thing, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False  # the consumer has gone

        def produce() -> None:
            try:
                for batch in self._generate(items):
                    if not put(batch):
                        return
                put(done)
            except BaseException as exc:  # handed to the consumer
                put(exc)

        worker = threading.Thread(target=produce, name="eusaug-cyclegan-data", daemon=True)
        worker.start()
        try:
            while True:
                batch = out.get()
                if batch is done:
                    return
                if isinstance(batch, BaseException):
                    raise batch
                yield tuple(tf.constant(a) for a in batch)
        finally:
            stop.set()
            worker.join(timeout=5)

    def dataset(self, items: np.ndarray, prefetch: int = 4) -> tf.data.Dataset:
        """The batches of :meth:`batches` as a ``tf.data`` pipeline (for
        ``Strategy.experimental_distribute_dataset``), prepared ahead of the step."""
        size = self.config.image_size_px
        b = self.global_batch
        image = tf.TensorSpec((b, size, size, 1), tf.float32)
        signature = (image, image, tf.TensorSpec((b, 2), tf.float32), tf.TensorSpec((b, 2), tf.int32))
        ds = tf.data.Dataset.from_generator(lambda: self._generate(items), output_signature=signature)
        return ds.prefetch(prefetch)

    def sample_pairs(self, count: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Fixed, unaugmented ``(count, S, S)`` CT and EUS images for the per-epoch sample grid."""
        items = np.zeros(count, PLAN_DTYPE)
        step_pose = max(len(self.pose_index) // count, 1)
        step_eus = max(self.n_eus // count, 1)
        for k in range(count):
            src, pose = self.pose_index[min(k * step_pose, len(self.pose_index) - 1)]
            items[k]["source"], items[k]["pose"] = src, pose
            items[k]["eus"] = min(k * step_eus, self.n_eus - 1)
            y, x = self.centre_crop()
            for prefix in ("ct", "eus"):
                items[k][f"{prefix}_y"], items[k][f"{prefix}_x"] = y, x
        pairs = [self.pair(item) for item in items]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def domain_images(self, max_ct: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Clean images of each domain for the denoisers: ``(N, L, L)`` CT planes and EUS frames."""
        pick = np.linspace(0, len(self.pose_index) - 1, min(max_ct, len(self.pose_index))).round().astype(int)
        ct = np.stack([self.ct_plane(*self.pose_index[i]) for i in pick])
        return ct, uint8_to_unit(self.frames.images)
