"""The feature extractor's contract and the image sources it reads, below every backbone.

:mod:`eusaug.evaluate.features` (the backbones by name, the cache) and
:mod:`eusaug.evaluate.standard_inception` (the standard FID network) both build on
this module, so neither has to import the other's contents back.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from eusaug.errors import EusaugError
from eusaug.io.images import read_image
from eusaug.io.progress import make_progress

Precision = Literal["bf16", "fp32"]


@dataclass(frozen=True)
class NoisyImage:
    """An image file plus Gaussian noise (sd ``sd`` on [-1, 1] intensities, then clipped).

    The noise comes from ``seed`` alone, so the noisy set is the same in every run and
    on every thread. The paper's bad-FID control uses ``sd=0.1``.
    """

    path: Path
    sd: float
    seed: int

    def load(self) -> np.ndarray:
        image = read_image(self.path)
        noise = np.random.default_rng(self.seed).normal(0.0, self.sd, size=image.shape)
        return np.clip(image + noise, -1.0, 1.0).astype(np.float32)


#: A file, a noisy file, or an in-memory ``(H, W)`` float32 image in [-1, 1].
ImageSource = Path | NoisyImage | np.ndarray

def resize_image(image: np.ndarray, size_px: int) -> np.ndarray:
    """``(H, W)`` float image in [-1, 1] -> ``(size_px, size_px)`` float32, antialiased bicubic."""
    array = np.asarray(image, dtype=np.float32)
    if array.shape == (size_px, size_px):
        return array.copy()
    resized = Image.fromarray(array).resize((size_px, size_px), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(resized, dtype=np.float32), -1.0, 1.0)


def load_resized(source: ImageSource, size_px: int) -> np.ndarray:
    """Read (when a path) and resize one image to ``(size_px, size_px)`` float32 in [-1, 1]."""
    if isinstance(source, NoisyImage):
        image = source.load()
    elif isinstance(source, (str, os.PathLike)):
        image = read_image(source)
    else:
        image = np.asarray(source, dtype=np.float32)
    if image.ndim != 2:
        raise EusaugError(f"Expected a (H, W) greyscale image, got shape {image.shape}.")
    return resize_image(image, size_px)


class FeatureExtractor(ABC):
    """Maps greyscale images to feature vectors: ``(N, S, S)`` float32 in [-1, 1] -> ``(N, D)``."""

    name: str
    input_size_px: int
    dims: int
    #: Printed and written beside results, e.g. the random-weights warning.
    notes: tuple[str, ...] = ()

    @abstractmethod
    def identity(self) -> str:
        """A string that changes whenever the features would (cache key)."""

    @abstractmethod
    def features(self, batch: np.ndarray) -> np.ndarray:
        """Features of a batch of resized images, float32."""

    def features_of(self, sources: Sequence[ImageSource], batch_size: int, description: str) -> np.ndarray:
        """``(N, D)`` features of image files or in-memory images, with a progress bar.

        Resizes each image to ``input_size_px`` (antialiased) first; an extractor whose
        reference preprocessing differs (the standard FID network) overrides this.
        """
        out = np.empty((len(sources), self.dims), dtype=np.float32)
        done = 0
        with make_progress() as progress:
            task = progress.add_task(description, total=len(sources))
            for batch in _batches(sources, self.input_size_px, batch_size):
                out[done:done + len(batch)] = self.features(batch)
                done += len(batch)
                progress.advance(task, len(batch))
        return out


def _batches(sources: Sequence[ImageSource], size_px: int, batch_size: int) -> Iterator[np.ndarray]:
    """Resized batches; the next batch is read on a worker thread while the current one runs."""

    def load(start: int) -> np.ndarray:
        return np.stack([load_resized(s, size_px) for s in sources[start:start + batch_size]])

    starts = list(range(0, len(sources), batch_size))
    if not starts:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load, starts[0])
        for following in [*starts[1:], None]:
            batch = pending.result()
            if following is not None:
                pending = pool.submit(load, following)
            yield batch
