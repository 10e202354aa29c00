"""``eusaug synth``: synthetic EUS images of a landmark from a CT, or from every CT of a folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eusaug.cli.base import (
    accept_labels_option,
    ct_options,
    fov_options,
    resolve_ct_paths,
    resolve_fov,
    with_deprecated_force,
)
from eusaug.ct import ACCEPT_LABELS_FLAG
from eusaug.errors import EusaugError
from eusaug.io.progress import console
from eusaug.plugin.registry import DEFAULT_TRANSLATOR

if TYPE_CHECKING:
    from eusaug.geometry.field_of_view import FieldOfView
    from eusaug.geometry.planes import Planes


@click.command("synth")
@ct_options(required=False, ct_help="CT volume (NIfTI .nii/.nii.gz). Give --ct or --ct-dir (with --poses: "
                                    "default the CT the poses file was made from).")
@click.option("--ct-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of CTs with their label maps (NAME_ct + NAME_labels, BTCV img/ + label/, nnU-Net "
                   "imagesTr/ + labelsTr/, TotalSegmentator segmentations/): one output sub-folder per CT and a "
                   "resumable collection.csv. Give --ct or --ct-dir.")
@click.option("--landmark", required=True, help="Landmark to image (liver, aorta, pancreas, ...).")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Trained model (a run folder). Default: the newest in the model store for the landmark.")
@click.option("--poses", type=click.Path(path_type=Path), default=None,
              help="Use the first N poses of this file instead of sampling new ones (--ct only); raysim uses "
                   "the calibration it records (eusaug poses --calibrate-from) unless told otherwise.")
@click.option("--epoch", default=None, metavar="best|last|N",
              help="Which epoch of the --model run: best (default: the one validation picked), last, or a number.")
@click.option("--translator", default=DEFAULT_TRANSLATOR, show_default=True, help="Translator plugin (eusaug plugins).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the translator, e.g. --option frequency_mhz=3.5 for raysim (repeatable).")
@click.option("-n", "--n-images", "n", type=int, default=16, show_default=True,
              help="Number of images (per CT with --ct-dir).")
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), required=True,
              help="Output folder (with --ct-dir: one sub-folder per CT).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for pose sampling and the translator (with --ct-dir, each CT's seed derives from it "
                   "and the CT's name).")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Planes translated at once.")
@click.option("--match-grey-levels", "match_grey_levels", type=click.Path(path_type=Path, file_okay=False),
              default=None, metavar="FRAMES",
              help="Map each batch's in-fan grey levels onto those of these real frames (the scanner's gain and "
                   "contrast; helps raysim, --ct only).")
@click.option("--calibrate-from", "calibrate_from", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Fit raysim to these real frames first (speckle, brightness with depth, grey levels); the "
                   "calibration is used, recorded in synth.json and written to OUTPUT/calibration.json.")
@fov_options
@click.option("--workers", type=int, default=1, show_default=True,
              help="With --ct-dir: CTs synthesised at once, each in its own process on this machine.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --ct-dir: run the CTs on the Dask cluster at ADDRESS (e.g. tcp://HOST:8786); "
                   "needs pip install -e '.[cluster]'.")
@click.option("--retries", type=int, default=1, show_default=True,
              help="With --ct-dir: further attempts for a CT after an unexpected error (a lost worker).")
@click.option("--force", is_flag=True,
              help="Replace a non-empty output folder (with --ct-dir: redo every CT).")
@accept_labels_option
def synth_command(ct: Path | None, labels: Path | None, label_preset: str, ct_dir: Path | None, landmark: str,
                  model: Path | None, poses: Path | None, epoch: str | None, translator: str, options: tuple[str, ...], n: int,
                  output_dir: Path, seed: int, batch_size: int, match_grey_levels: Path | None, workers: int,
                  scheduler: str | None, retries: int, force: bool, accept_labels: bool,
                  fov_request: dict[str, Any], calibrate_from: Path | None = None) -> None:
    """Write N sEUS PNGs, their label planes and manifest.csv (per CT with --ct-dir)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    from eusaug.plugin import Registry, plugin_options

    if ct is None and ct_dir is None and poses is not None:
        ct, labels = resolve_ct_paths(ct, labels, poses)
    if (ct is None) == (ct_dir is None):
        raise EusaugError("Give exactly one of --ct CT.nii.gz (one CT) or --ct-dir FOLDER (every CT in it)."
                          if ct else "Give --ct CT.nii.gz (one CT) or --ct-dir FOLDER (every CT in it).")
    registry = Registry()
    translator_options = plugin_options(options, registry.translator(translator))
    if epoch is not None:
        if not getattr(registry.translator(translator), "needs_model", False):
            raise EusaugError(f"--epoch {epoch}: translator {translator!r} has no trained epochs; leave --epoch out.")
        translator_options = {**translator_options, "epoch": epoch}
    fov = resolve_fov(fov_request)
    if ct_dir is not None:
        for name, value in (("--labels", labels), ("--poses", poses), ("--match-grey-levels", match_grey_levels)):
            if value is not None:
                raise EusaugError(f"{name} {value} applies to one CT (--ct): with --ct-dir each CT's label map is "
                                  "found beside it and poses are sampled per CT.")
        _synth_collection(ct_dir, landmark, n, output_dir, translator=translator, model=model,
                          label_preset=label_preset, seed=seed, batch_size=batch_size, workers=workers,
                          scheduler=scheduler, retries=retries, force=force, translator_options=translator_options,
                          fov=fov, accept_implausible_labels=accept_labels)
        return
    if workers != 1 or scheduler is not None:
        raise EusaugError("--workers and --scheduler spread the CTs of --ct-dir FOLDER: use --ct-dir, "
                          "or leave them out for one CT.")
    from eusaug.translate.synth import poses_calibration, synthesize

    assert ct is not None
    calibration = _calibrate(calibrate_from, translator, translator_options, output_dir,
                             lambda: _calibration_planes(ct, labels, label_preset, landmark, poses, fov, seed, accept_labels))
    recorded = poses_calibration(translator, poses, translator_options, registry)
    if recorded is not None:
        console(stderr=False).print(f"{translator}: using the calibration recorded in {poses}: {recorded} "
                                    "(--option calibration=FILE or --calibrate-from FRAMES replaces it)")
    rows = with_deprecated_force(
        lambda accept: synthesize(
            ct, landmark, n, output_dir, labels=labels, model=model, poses=poses, translator=translator,
            label_preset=label_preset, seed=seed, batch_size=batch_size, force=force, registry=registry,
            translator_options=translator_options, fov=fov, match_grey_levels=match_grey_levels,
            accept_implausible_labels=accept),
        accept_labels, force, ACCEPT_LABELS_FLAG)
    if calibration is not None:
        _keep_calibration(calibration, output_dir)
    console(stderr=False).print(f"wrote {len(rows)} sEUS images, label planes and manifest.csv to {output_dir}")


#: Where ``--calibrate-from`` leaves the calibration it fitted.
CALIBRATION_FILE = "calibration.json"


def _calibrate(frames: Path | None, translator: str, options: dict[str, Any], output_dir: Path,
               planes_of: Callable[[], Planes]) -> Path | None:
    """Fit raysim to ``frames`` (simulating the planes ``planes_of`` gives) into a file beside
    ``output_dir`` and point ``options`` at it (None: no frames)."""
    if frames is None:
        return None
    if translator != "raysim":
        raise EusaugError(f"--calibrate-from calibrates raysim, but the translator is {translator}: "
                          "use --translator raysim, or leave --calibrate-from out.")
    from eusaug.io.images import list_images
    from eusaug.plugin import Registry

    list_images(frames)  # an empty or missing folder stops before the CT is read
    fit = Registry().translator(translator).calibrate
    # No preset named: raysim picks the one for the fan, and synth then simulates with the calibration's.
    path = fit(frames, output_dir.parent / f".{output_dir.name}.{CALIBRATION_FILE}", options.get("preset"), planes_of())
    options["calibration"] = str(path)
    return Path(path)


def _calibration_planes(ct: Path, labels: Path | None, label_preset: str, landmark: str, poses: Path | None,
                        fov: FieldOfView | None, seed: int, accept_labels: bool) -> Planes:
    """The CT planes a calibration simulates: the first poses of ``poses``, or as many sampled with ``seed``."""
    from eusaug.ct.volume import load_case
    from eusaug.geometry.field_of_view import FieldOfView
    from eusaug.poses import CALIBRATION_PLANES, calibration_planes, load_poses, sample_poses

    case = load_case(ct, labels, label_preset, organs=[landmark], force=accept_labels)
    if poses is not None:
        pose_set = load_poses(poses, case=case)
    else:
        pose_set = sample_poses(case, case.landmark(landmark), CALIBRATION_PLANES, seed=seed, fov=fov or FieldOfView())
    return calibration_planes(case, pose_set.poses, fov or pose_set.fov)


def _keep_calibration(fitted: Path, output_dir: Path) -> None:
    """Move the fitted calibration into ``output_dir`` and point ``synth.json`` at the kept file."""
    import json

    from eusaug.io import write_text
    from eusaug.translate.synth import SETTINGS

    kept = output_dir / CALIBRATION_FILE
    shutil.copyfile(fitted, kept)
    settings = output_dir / SETTINGS
    if settings.is_file():
        text = settings.read_text()
        write_text(settings, text.replace(json.dumps(str(fitted)), json.dumps(str(kept.resolve()))))
    fitted.unlink()


def _synth_collection(ct_dir: Path, landmark: str, n: int, output_dir: Path, **settings: Any) -> None:
    from eusaug.translate.collection import COLLECTION_CSV, DONE, synthesize_collection

    results = synthesize_collection(ct_dir, landmark, n, output_dir, **settings)
    failed = [r for r in results if r.status != DONE]
    if failed:
        first = failed[0]
        raise EusaugError(f"{len(failed)} of {len(results)} CTs failed (first: {first.case_id}: {first.error}); all are "
                          f"listed in {output_dir / COLLECTION_CSV}: fix them and rerun the same command to redo only those.")
    if not results:
        console(stderr=False).print(f"every CT of {ct_dir} is already done in {output_dir} (--force redoes them)")
        return
    console(stderr=False).print(f"wrote {n} sEUS images each for {len(results)} CTs to {output_dir} "
                                f"(one folder per CT, {COLLECTION_CSV})")
