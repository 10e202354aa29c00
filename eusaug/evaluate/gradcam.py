"""Grad-CAM class activation maps (Selvaraju et al. 2020) and the paper's Fig.-3 grid.

For a class ``c`` and a convolutional layer with maps ``A_k``, Grad-CAM weights each map
by the spatial mean of ``d y_c / d A_k`` and keeps the positive part of the weighted sum.
``y_c`` is the class *score* before the softmax when the model ends in one (a final
``Activation("softmax")`` or a ``Dense`` with softmax), as in the paper; the map is
upsampled to the input size and normalised to [0, 1] per image.

The layer is the model's last convolutional layer unless one is named. Models with
nested sub-models must expose the layer at the top level (eusaug's classifier does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eusaug.errors import EusaugError
from eusaug.evaluate.features import resize_image
from eusaug.io.images import unit_to_uint8
from eusaug.mix.labelled_sets import LabelledSource

if TYPE_CHECKING:
    import keras


def find_last_conv_layer(model: keras.Model) -> str:
    """Name of the last layer that is a convolution with a 4-D (N, H, W, C) output."""
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None)
        rank = len(shape.shape) if shape is not None and hasattr(shape, "shape") else 0
        if "conv" in type(layer).__name__.lower() and rank == 4:
            return layer.name
    nested = [layer.name for layer in model.layers if hasattr(layer, "layers")]
    hint = f" (it nests {', '.join(nested)}: rebuild it flat, or name a top-level layer)" if nested else ""
    raise EusaugError(f"Model {model.name!r} has no top-level convolutional layer with a 4-D output{hint}: "
                      "pass the layer to use (--layer).")


@dataclass(frozen=True)
class CamResult:
    """Maps ``(N, H, W)`` float32 in [0, 1] at the model's input size, and the predictions."""

    maps: np.ndarray
    class_indices: np.ndarray
    probabilities: np.ndarray
    layer: str


def prepare_inputs(model: keras.Model, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Greyscale ``(H, W)`` images in [-1, 1] -> the model's ``(N, S, S, C)`` float32 input."""
    shape = model.inputs[0].shape
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise EusaugError(f"Model input {tuple(shape)} is not (None, H, W, C) with a fixed size.")
    height, width, channels = int(shape[1]), int(shape[2]), int(shape[3])
    batch = []
    for image in images:
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 2:
            raise EusaugError(f"Expected (H, W) greyscale images, got shape {array.shape}.")
        if array.shape != (height, width):
            if height != width:
                from PIL import Image

                array = np.asarray(Image.fromarray(array).resize((width, height), Image.Resampling.BICUBIC))
            else:
                array = resize_image(array, height)
        batch.append(array)
    x = np.stack(batch)[..., None]
    return np.repeat(x, channels, axis=-1) if channels != 1 else x


def grad_cam(model: keras.Model, images: Sequence[np.ndarray] | np.ndarray,
             class_index: int | Sequence[int] | None = None, layer: str | None = None) -> CamResult:
    """Grad-CAM maps of ``images`` for ``class_index`` (default: each image's predicted class)."""
    import keras
    import tensorflow as tf

    layer_name = layer or find_last_conv_layer(model)
    try:
        target = model.get_layer(layer_name)
    except ValueError:
        names = ", ".join(lay.name for lay in model.layers if "conv" in type(lay).__name__.lower())
        raise EusaugError(f"Model {model.name!r} has no layer {layer_name!r}: convolutional layers are "
                          f"{names or 'none'}.") from None
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    is_softmax = getattr(activation, "__name__", "") == "softmax"
    if type(last).__name__ == "Activation" and is_softmax:
        score_tensor, head = last.input, None
    elif type(last).__name__ == "Dense" and is_softmax:
        score_tensor, head = last.input, last
    else:
        score_tensor, head = model.outputs[0], None
    probe = keras.Model(model.inputs, [target.output, score_tensor, model.outputs[0]])
    x = tf.constant(prepare_inputs(model, images))
    with tf.GradientTape() as tape:
        maps, scores, probabilities = probe(x, training=False)
        tape.watch(maps)
        if head is not None:
            scores = tf.matmul(scores, head.kernel) + head.bias
        scores = tf.cast(scores, tf.float32)
        if class_index is None:
            chosen = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        else:
            chosen = tf.constant(np.broadcast_to(np.asarray(class_index, dtype=np.int32), (x.shape[0],)))
        picked = tf.gather(scores, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(picked, maps)
    if grads is None:
        raise EusaugError(f"Layer {layer_name!r} does not feed the model's output: name a layer before the head.")
    weights = tf.reduce_mean(tf.cast(grads, tf.float32), axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * tf.cast(maps, tf.float32), axis=-1))
    cams = tf.image.resize(cams[..., None], x.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cams.reshape(len(cams), -1).max(axis=1)
    cams = np.where(peak[:, None, None] > 0, cams / np.maximum(peak, 1e-12)[:, None, None], 0.0).astype(np.float32)
    return CamResult(cams, np.asarray(chosen), np.asarray(tf.cast(probabilities, tf.float32)), layer_name)


#: Grey level (uint8) at or below which a pixel counts as the black surround of the sector.
BLACK_LEVEL_U8 = 8
#: Maps with less than this share of their mass inside the sector are flagged.
MIN_INSIDE_SECTOR_SHARE = 0.5


def sector_mask(image: np.ndarray, black_level_u8: int = BLACK_LEVEL_U8) -> np.ndarray:
    """``(H, W)`` bool: the imaging sector of a greyscale image in [-1, 1].

    The convex hull of the largest connected region of non-black pixels: dark tissue
    inside the sector (a vessel lumen) stays inside, black corners and stray specks
    outside. An image with no black surround is all sector.
    """
    from scipy import ndimage

    grey = unit_to_uint8(np.asarray(image, dtype=np.float32))
    lit = grey > black_level_u8
    if lit.all() or not lit.any():
        return np.ones(grey.shape, dtype=bool) if lit.all() else np.zeros(grey.shape, dtype=bool)
    labels, n = ndimage.label(ndimage.binary_closing(lit) | lit)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    region = labels == (int(np.argmax(sizes)) + 1)
    rows, cols = np.nonzero(region)
    corners = np.concatenate([np.stack([rows + dr, cols + dc], axis=1)
                              for dr in (-0.5, 0.5) for dc in (-0.5, 0.5)]).astype(np.float64)
    try:
        from scipy.spatial import ConvexHull, QhullError

        hull = ConvexHull(corners)
    except (QhullError, ValueError):  # a line or a point: no area to fill
        return region
    # A pixel centre is inside when it is on the inner side of every hull facet.
    grid_r, grid_c = np.mgrid[0:grey.shape[0], 0:grey.shape[1]]
    centres = np.stack([grid_r.ravel(), grid_c.ravel()], axis=1).astype(np.float64)
    inside = np.all(centres @ hull.equations[:, :2].T + hull.equations[:, 2] <= 1e-9, axis=1)
    return inside.reshape(grey.shape) | region


def inside_share(cam: np.ndarray, mask: np.ndarray) -> float:
    """Share in [0, 1] of a map's mass (sum of its values) on ``mask``; nan for an all-zero map."""
    cam = np.clip(np.asarray(cam, dtype=np.float64), 0.0, None)
    if cam.shape != mask.shape:
        raise EusaugError(f"Map {cam.shape} and sector mask {mask.shape} differ in shape.")
    total = float(cam.sum())
    return float(cam[mask].sum() / total) if total > 0 else float("nan")


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """``(H, W, 3)`` uint8: the greyscale image in [-1, 1] under the map in the ``jet`` colours."""
    from matplotlib import colormaps

    grey = np.asarray(image, dtype=np.float32)
    if cam.shape != grey.shape:
        from PIL import Image

        cam = np.asarray(Image.fromarray(cam.astype(np.float32)).resize(grey.shape[::-1], Image.Resampling.BILINEAR))
    base = unit_to_uint8(grey).astype(np.float32)[..., None].repeat(3, axis=-1)
    heat = colormaps["jet"](np.clip(cam, 0.0, 1.0))[..., :3] * 255.0
    return np.clip((1.0 - alpha) * base + alpha * heat, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class GridCell:
    """One example of the figure: the image, its map, and what the model said."""

    image: np.ndarray
    cam: np.ndarray
    title: str


def save_grid(rows: Sequence[tuple[str, Sequence[GridCell | None]]], columns: Sequence[str],
              path: str | os.PathLike[str]) -> Path:
    """A PNG with one row per class and, per column, the image and its Grad-CAM overlay."""
    from matplotlib.figure import Figure

    from eusaug.io.atomic import atomic_path

    if not rows:
        raise EusaugError("Nothing to draw: no class has an example image.")
    n_cols = 2 * len(columns)
    # A bare Figure (no pyplot) leaves matplotlib's global backend and figure list alone.
    fig = Figure(figsize=(2.4 * n_cols, 2.6 * len(rows)))
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for r, (class_name, cells) in enumerate(rows):
        for c, cell in enumerate(cells):
            left, right = axes[r, 2 * c], axes[r, 2 * c + 1]
            for ax in (left, right):
                ax.set_xticks([])
                ax.set_yticks([])
            if cell is None:
                left.set_title(f"{columns[c]}: no image", fontsize=8)
                left.axis("off")
                right.axis("off")
                continue
            left.imshow(unit_to_uint8(cell.image), cmap="gray", vmin=0, vmax=255)
            left.set_title(f"{columns[c]} {class_name}", fontsize=8)
            right.imshow(overlay(cell.image, cell.cam))
            right.set_title(cell.title, fontsize=8)
        axes[r, 0].set_ylabel(class_name)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


@dataclass
class GradCamReport:
    rows: list[dict[str, object]]
    files: list[Path]
    notes: list[str]


def outside_sector_note(n_flagged: int, n_maps: int) -> str:
    """The warning for maps whose mass lies mostly outside the imaging sector."""
    return (f"{n_flagged} of {n_maps} Grad-CAM maps have more than {1 - MIN_INSIDE_SECTOR_SHARE:.0%} of their mass "
            "outside the imaging sector (the black surround): the classifier may be using a shortcut (sector "
            "shape or position) rather than anatomy.")


def gradcam_report(model_path: str | os.PathLike[str], real: LabelledSource, output_dir: str | os.PathLike[str],
                   synthetic: LabelledSource | None = None, per_class: int = 1, layer: str | None = None,
                   classes: Sequence[str] | None = None, seed: int = 0, force: bool = False) -> GradCamReport:
    """Grad-CAM of a saved classifier on real (and synthetic) examples of every class (Fig. 3).

    Maps are for each image's true class; among ``4 * per_class`` randomly drawn
    candidates per class and set, correctly classified images are shown first, as in the
    paper. Writes ``gradcam.png`` (the grid) and ``gradcam.csv`` (one row per example,
    with ``outside_sector_share``, the share of the map's mass outside :func:`sector_mask`,
    and ``mostly_outside_sector`` when that exceeds ``1 - MIN_INSIDE_SECTOR_SHARE``).
    """
    from eusaug.evaluate.classifier import load_classifier
    from eusaug.io.images import read_image
    from eusaug.io.tables import check_new, write_csv
    from eusaug.mix.labelled_sets import as_labelled_set

    if per_class < 1:
        raise EusaugError(f"per_class={per_class} must be >= 1.")
    out = Path(output_dir)
    files = [out / "gradcam.png", out / "gradcam.csv"]
    check_new(files, force)
    model, metadata = load_classifier(model_path)
    names = list(classes) if classes else list(metadata.get("classes", []))
    n_outputs = int(model.outputs[0].shape[-1])
    if not names:
        raise EusaugError(f"{model_path} has no class list beside it ({Path(model_path).with_suffix('.json').name}): "
                          "pass --classes with the names in the model's output order.")
    if len(names) != n_outputs:
        raise EusaugError(f"{len(names)} class names ({', '.join(names)}) for a model with {n_outputs} outputs: "
                          "give one name per output, in order.")
    sets = {"real": as_labelled_set(real, check_images=False)}
    if synthetic is not None:
        sets["synthetic"] = as_labelled_set(synthetic, check_images=False)
    for what, labelled in sets.items():
        unknown = sorted(set(labelled) - set(names))
        if unknown:
            raise EusaugError(f"The {what} set has class(es) {', '.join(unknown)} that the model does not know "
                              f"({', '.join(names)}): make the class folders match the model's classes.")
    shown = sorted(set().union(*[set(s) for s in sets.values()]))
    rng = np.random.default_rng(seed)
    grid: dict[str, list[list[GridCell | None]]] = {c: [[None] * len(sets) for _ in range(per_class)] for c in shown}
    rows: list[dict[str, object]] = []
    layer_used = layer
    for column, (what, labelled) in enumerate(sets.items()):
        for class_name in shown:
            paths = labelled.get(class_name, [])
            if not paths:
                continue
            candidates = [paths[i] for i in rng.permutation(len(paths))[: max(4 * per_class, 4)]]
            images = [read_image(p) for p in candidates]
            result = grad_cam(model, images, names.index(class_name), layer)
            layer_used = result.layer
            predicted = result.probabilities.argmax(axis=1)
            order = sorted(range(len(candidates)), key=lambda i: predicted[i] != names.index(class_name))
            for k, i in enumerate(order[:per_class]):
                guess = names[int(predicted[i])]
                probability = float(result.probabilities[i, predicted[i]])
                peak = np.unravel_index(int(result.maps[i].argmax()), result.maps[i].shape)
                shown_image = prepare_inputs(model, [images[i]])[0, ..., 0]
                outside = 1.0 - inside_share(result.maps[i], sector_mask(shown_image))
                flagged = bool(outside > 1.0 - MIN_INSIDE_SECTOR_SHARE)
                grid[class_name][k][column] = GridCell(shown_image, result.maps[i],
                                                       f"pred {guess} ({probability:.2f})"
                                                       + (" OUTSIDE SECTOR" if flagged else ""))
                rows.append({"set": what, "class": class_name, "image": str(candidates[i]), "predicted": guess,
                             "probability": probability, "correct": int(guess == class_name),
                             "peak_row_px": int(peak[0]), "peak_col_px": int(peak[1]),
                             "outside_sector_share": outside, "mostly_outside_sector": int(flagged),
                             "layer": result.layer})
    out.mkdir(parents=True, exist_ok=True)
    grid_rows = [(c, cells) for c in shown for cells in grid[c] if any(cell is not None for cell in cells)]
    save_grid(grid_rows, list(sets), files[0])
    write_csv(files[1], rows)
    notes = [f"Maps from layer {layer_used!r}, for each image's true class, normalised to [0, 1] per image."]
    wrong = [r for r in rows if not r["correct"]]
    if wrong:
        notes.append(f"{len(wrong)} of {len(rows)} examples shown are misclassified (no correct one was drawn).")
    outside = [r for r in rows if r["mostly_outside_sector"]]
    if outside:
        notes.append(outside_sector_note(len(outside), len(rows)))
    return GradCamReport(rows, files, notes)
