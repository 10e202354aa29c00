"""FID and KID between a real and a synthetic image set, with the paper's controls (Table 3).

A set is a folder of images, a folder with one sub-folder per class, or a CSV of
``path,class`` rows (see :mod:`eusaug.mix.labelled_sets`). With classes on both sides every
synthetic class needs real images; real-only classes (like the paper's background class)
are left out of every row, as Table 3's "all images" are the three landmarks. With ``controls`` the report adds
the reference values the paper used to read its FIDs:

* the *ideal* FID: two random halves of the real set (per class too);
* the *bad* FID: the first half against the second half plus Gaussian noise (mean 0, sd
  0.1 on [-1, 1] intensities; the paper measured > 300 with ImageNet weights).

Rows look like Table 3: what, n images, compared to, n images, FID, KID.

Small sets: with no more images than feature dimensions (2048 for Inception) each
covariance is rank deficient, and FID then mostly measures the sample size: it is biased
upwards by roughly ``Tr(S) / n`` per set, so it is only comparable between sets of the
same size and never with published values. ``small_sets`` says what to do: ``warn``
(compute it and say so in the row's note), ``kid`` (leave FID empty, keep the unbiased
KID) or ``refuse`` (an error).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.features import (
    FeatureExtractor,
    NoisyImage,
    Precision,
    cached_features,
    extract_features,
    make_extractor,
)
from eusaug.evaluate.fid import SqrtMethod, fid_from_features, kernel_inception_distance
from eusaug.io.images import IMAGE_SUFFIXES, list_images
from eusaug.io.tables import check_new, write_csv, write_json
from eusaug.mix.labelled_sets import read_labelled_set

SmallSets = Literal["warn", "kid", "refuse"]

CSV_NAME = "fid.csv"
CONFIG_NAME = "fid.json"
COLUMNS = ("what", "n_images", "compared_to", "n_images_compared", "fid", "kid", "kid_std", "note")


@dataclass(frozen=True)
class FIDConfig:
    """How features are computed and which rows are reported."""

    backbone: str = "inception"
    weights: str | None = "imagenet"
    precision: Precision = "bf16"
    batch_size: int = 32
    controls: bool = False
    noise_sd: float = 0.1
    seed: int = 0
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    small_sets: SmallSets = "warn"
    sqrt_method: SqrtMethod = "eigen"
    cache: bool = True
    cache_dir: Path | None = None

    #: Command-line help of each field (``eusaug evaluate fid``).
    FIELD_HELP: ClassVar[dict[str, str]] = {
        "backbone": "Feature network: inception, none (16x16 pixels), or a .keras feature model.",
        "weights": "imagenet (from Keras' cache, never downloaded), a weights file, or none (random).",
        "precision": "bf16 mixed precision (faster) or fp32.",
        "batch_size": "Images per feature batch.",
        "controls": "Add the paper's controls: real split halves (ideal) and real + noise (bad).",
        "noise_sd": "Noise of the bad-FID control, on [-1, 1] intensities.",
        "seed": "Seed of the split halves, the noise, KID subsets and random weights.",
        "kid_subsets": "Number of KID subsets.",
        "kid_subset_size": "Images per KID subset (at most the set size).",
        "small_sets": "Sets with no more images than feature dimensions: FID with a warning, KID only, or an error.",
        "sqrt_method": "Trace of the matrix square root: exact eigenvalues, or scipy sqrtm.",
        "cache": "Re-use features of folders seen before (keyed by contents and backbone).",
        "cache_dir": "Feature cache folder (default $EUSAUG_CACHE_DIR or ~/.cache/eusaug/features).",
    }

#: ``paper``: Keras' ImageNet InceptionV3 in float32, as the paper ("We used the pre-trained
#: Inception-v3 model available in Keras [16] to obtain the activation distributions";
#: "All models were implemented in TensorFlow 2.2", whose default is float32);
#: ``fast``: the same network in bfloat16 mixed precision (features within about 1 %);
#: ``standard``: the literature's FID network (pytorch-fid / clean-fid / TTUR; offline through the
#: ``standard-fid`` extra); ``random``: random weights, for demos.
FID_PRESETS = {
    "paper": FIDConfig(precision="fp32"),
    "fast": FIDConfig(precision="bf16"),
    "standard": FIDConfig(backbone="standard", precision="fp32"),
    "random": FIDConfig(weights=None, precision="bf16"),
}


def default_fid_preset() -> str:
    """``standard`` when the ``standard-fid`` extra is installed, else ``paper`` (Keras' InceptionV3).

    Numbers on the standard network compare with published FIDs; Keras' network is the
    fallback (with random weights only when its ImageNet file is not cached either).
    """
    from eusaug.evaluate.standard_inception import standard_network_available

    return "standard" if standard_network_available() else "paper"


@dataclass(frozen=True)
class FIDRow:
    """One comparison; ``fid`` is None when it was left out (see the note)."""

    what: str
    n_images: int
    compared_to: str
    n_images_compared: int
    fid: float | None
    kid: float
    kid_std: float
    note: str = ""


@dataclass
class FIDReport:
    rows: list[FIDRow]
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class ImageSet:
    """A set's images, by class when it has class sub-folders (``classes`` is None otherwise)."""

    source: Path
    paths: tuple[Path, ...]
    classes: dict[str, tuple[Path, ...]] | None


def read_image_set(path: str | os.PathLike[str], what: str) -> ImageSet:
    """A folder of images, a folder of class folders, or a ``path,class`` CSV."""
    path = Path(path)
    if not path.exists():
        raise EusaugError(f"The {what} set {path} does not exist: check the path.")
    has_class_dirs = path.is_dir() and any(
        p.is_dir() and not p.name.startswith(".") and any(
            q.suffix.lower() in IMAGE_SUFFIXES for q in p.rglob("*")) for p in path.iterdir())
    if path.suffix.lower() == ".csv" or has_class_dirs:
        classes = {name: tuple(paths) for name, paths in read_labelled_set(path, check_images=False).items()}
        return ImageSet(path, tuple(p for paths in classes.values() for p in paths), classes)
    try:
        paths = list_images(path)
    except EusaugError:
        raise EusaugError(f"The {what} folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)}) and no class "
                          "sub-folders with images: point to the folder that holds them.") from None
    return ImageSet(path, tuple(paths), None)


def _split_halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


class _Comparer:
    """Turns pairs of feature arrays into rows, applying the small-set policy."""

    def __init__(self, config: FIDConfig, dims: int) -> None:
        self.config = config
        self.dims = dims
        self.rows: list[FIDRow] = []

    def add(self, what: str, a: np.ndarray, compared_to: str, b: np.ndarray) -> None:
        c = self.config
        n_min = min(len(a), len(b))
        if n_min < 2:
            raise EusaugError(f"'{what}' vs '{compared_to}' has {len(a)} and {len(b)} images: FID and KID need "
                              "at least 2 per set.")
        kid = kernel_inception_distance(a, b, c.kid_subsets, c.kid_subset_size, c.seed)
        note = ""
        fid: float | None = None
        if n_min <= self.dims:
            why = (f"{n_min} images <= {self.dims} feature dimensions: the covariances are rank deficient and FID is "
                   "biased upwards by the small sample (comparable only between sets of equal size); trust KID")
            if c.small_sets == "refuse":
                raise EusaugError(f"Refusing FID for '{what}' vs '{compared_to}': {why}. Use more images, "
                                  "--small-sets kid (report KID only) or --small-sets warn.")
            # The row says how many images; the note is the same for every small row, so a report says it once.
            note = why.split(": ", 1)[1].replace("the covariances", f"with no more images than the {self.dims} feature "
                                                 "dimensions, the covariances")
            note = note if c.small_sets == "warn" else note.replace("trust KID", "FID left out, KID reported")
            if c.small_sets == "warn":
                fid = fid_from_features(a, b, c.sqrt_method)
        else:
            fid = fid_from_features(a, b, c.sqrt_method)
        self.rows.append(FIDRow(what, len(a), compared_to, len(b), fid, kid.mean, kid.std, note))


def compare_sets(real: str | os.PathLike[str], synthetic: str | os.PathLike[str] | None, output_dir: Path,
                 config: FIDConfig = FIDConfig(), force: bool = False,
                 extractor: FeatureExtractor | None = None) -> FIDReport:
    """FID/KID of ``synthetic`` against ``real`` (and the controls), written to ``output_dir``.

    ``synthetic`` may be None with ``controls`` (only the control rows). ``extractor``
    overrides the one ``config`` describes. Writes ``fid.csv`` (the rows) and
    ``fid.json`` (the resolved config and notes); refuses to replace them without
    ``force``.
    """
    if config.small_sets not in ("warn", "kid", "refuse"):
        raise EusaugError(f"small_sets={config.small_sets!r} is unknown: use warn, kid or refuse.")
    if synthetic is None and not config.controls:
        raise EusaugError("Nothing to compare: give a synthetic set (--synthetic), or --controls for the real set's "
                          "reference values.")
    if not 0.0 < config.noise_sd <= 2.0:
        raise EusaugError(f"noise_sd={config.noise_sd} must be in (0, 2] (intensities span [-1, 1]).")
    output_dir = Path(output_dir)
    files = [output_dir / CSV_NAME, output_dir / CONFIG_NAME]
    check_new(files, force)

    real_set = read_image_set(real, "real")
    syn_set = read_image_set(synthetic, "synthetic") if synthetic is not None else None
    notes: list[str] = []
    per_class = False
    if syn_set is not None and real_set.classes is not None and syn_set.classes is not None:
        only_real = sorted(set(real_set.classes) - set(syn_set.classes))
        only_syn = sorted(set(syn_set.classes) - set(real_set.classes))
        if only_syn or not set(real_set.classes) & set(syn_set.classes):
            raise EusaugError(
                f"The class sets differ: {real_set.source} has {', '.join(sorted(real_set.classes))}; "
                f"{syn_set.source} has {', '.join(sorted(syn_set.classes))} (only real: {', '.join(only_real) or '-'}; "
                f"only synthetic: {', '.join(only_syn) or '-'}). Every synthetic class needs real images to be "
                "compared with: make the class folders match, or compare the class folders one by one.")
        if only_real:
            # Like the paper's background class: real only, so left out of every row (Table 3's
            # "all images" are the three landmark classes).
            kept = {c: p for c, p in real_set.classes.items() if c not in only_real}
            real_set = ImageSet(real_set.source, tuple(p for paths in kept.values() for p in paths), kept)
            notes.append(f"Real-only class(es) {', '.join(only_real)} have no synthetic counterpart and are left out "
                         "of every row, 'all' included.")
        per_class = True
    elif syn_set is not None and (real_set.classes is None) != (syn_set.classes is None):
        with_classes = real_set if real_set.classes is not None else syn_set
        notes.append(f"Only {with_classes.source} has class sub-folders: compared as whole sets, no per-class rows.")

    extractor = extractor or make_extractor(config.backbone, config.weights, config.precision, config.seed)
    notes.extend(extractor.notes)

    def features_of(paths: tuple[Path, ...], label: str) -> np.ndarray:
        return cached_features(paths, extractor, config.batch_size, config.cache_dir, config.cache,
                               f"Features: {label}").features

    def set_features(image_set: ImageSet, label: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if image_set.classes is None:
            return features_of(image_set.paths, label), {}
        by_class = {name: features_of(paths, f"{label} {name}") for name, paths in image_set.classes.items()}
        return np.concatenate(list(by_class.values())), by_class

    real_all, real_by_class = set_features(real_set, "real")
    comparer = _Comparer(config, extractor.dims)
    if config.controls:
        rng = np.random.default_rng(config.seed)
        for name, feats in real_by_class.items():
            if len(feats) < 4:
                notes.append(f"Class {name!r} has {len(feats)} real images: too few for a split-halves control.")
                continue
            h1, h2 = _split_halves(len(feats), rng)
            comparer.add(f"real {name} (half 1)", feats[h1], f"real {name} (half 2)", feats[h2])
        if len(real_all) < 4:
            raise EusaugError(f"The real set {real_set.source} has {len(real_all)} images: the controls need at least 4.")
        h1, h2 = _split_halves(len(real_all), rng)
        comparer.add("real all (half 1)", real_all[h1], "real all (half 2)", real_all[h2])
        noisy = [NoisyImage(real_set.paths[i], config.noise_sd, config.seed * 1_000_003 + int(i)) for i in h2]
        noisy_feats = extract_features(noisy, extractor, config.batch_size, "Features: real + noise")
        comparer.add("real all (half 1)", real_all[h1], f"real all (half 2) + noise sd {config.noise_sd:g}",
                     noisy_feats)
    if syn_set is not None:
        syn_all, syn_by_class = set_features(syn_set, "synthetic")
        if per_class:
            for name in sorted(real_by_class):
                comparer.add(f"real {name}", real_by_class[name], f"synthetic {name}", syn_by_class[name])
        comparer.add("real all", real_all, "synthetic all", syn_all)

    output_dir.mkdir(parents=True, exist_ok=True)
    write_csv(files[0], [asdict(r) for r in comparer.rows], COLUMNS)
    resolved = {**asdict(replace(config)), "real": str(real_set.source),
                "synthetic": str(syn_set.source) if syn_set else None, "feature_extractor": extractor.identity(),
                "notes": notes}
    write_json(files[1], resolved)
    return FIDReport(comparer.rows, notes, files)
