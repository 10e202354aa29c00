"""``eusaug synth``: synthetic EUS images of a landmark from a CT, or from every CT of a folder."""

from __future__ import annotations

import os
from pathlib import Path

import click

from eusaug.cli.base import ct_options
from eusaug.errors import EusaugError
from eusaug.progress import console


@click.command("synth")
@ct_options(required=False, ct_help="CT volume (NIfTI .nii/.nii.gz). Give --ct or --ct-dir.")
@click.option("--ct-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of CTs with their label maps beside them (NAME_ct + NAME_labels, ...): "
                   "one output sub-folder per CT and a resumable collection.csv. Give --ct or --ct-dir.")
@click.option("--landmark", required=True, help="Landmark to image (liver, aorta, pancreas, ...).")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Trained model (a run folder). Default: the newest in the model store for the landmark.")
@click.option("--poses", type=click.Path(path_type=Path), default=None,
              help="Use the first N poses of this file instead of sampling new ones (--ct only).")
@click.option("--translator", default="cyclegan", show_default=True, help="Translator plugin (eusaug plugins).")
@click.option("-n", "--n-images", "n", type=int, default=16, show_default=True,
              help="Number of images (per CT with --ct-dir).")
@click.option("--output", "-o", "output_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder. Default: seus-LANDMARK in the current folder.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for pose sampling and the translator (with --ct-dir, each CT's seed derives from it "
                   "and the CT's name).")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Planes translated at once.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="With --ct-dir: CTs synthesised at once, each in its own process on this machine.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --ct-dir: run the CTs on the Dask cluster at ADDRESS (e.g. tcp://HOST:8786); "
                   "needs pip install -e '.[cluster]'.")
@click.option("--retries", type=int, default=1, show_default=True,
              help="With --ct-dir: further attempts for a CT after an unexpected error (a lost worker).")
@click.option("--force", is_flag=True,
              help="Replace a non-empty output folder (with --ct-dir: redo every CT, even those already done).")
def synth_command(ct: Path | None, labels: Path | None, preset: str, ct_dir: Path | None, landmark: str,
                  model: Path | None, poses: Path | None, translator: str, n: int, output_dir: Path | None,
                  seed: int, batch_size: int, workers: int, scheduler: str | None, retries: int,
                  force: bool) -> None:
    """Write N sEUS PNGs, their label planes and manifest.csv (per CT with --ct-dir)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    if (ct is None) == (ct_dir is None):
        raise EusaugError("Give exactly one of --ct CT.nii.gz (one CT) or --ct-dir FOLDER (every CT in it)."
                          if ct else "Give --ct CT.nii.gz (one CT) or --ct-dir FOLDER (every CT in it).")
    output_dir = output_dir or Path(f"seus-{landmark}")
    if ct_dir is not None:
        for name, value in (("--labels", labels), ("--poses", poses)):
            if value is not None:
                raise EusaugError(f"{name} {value} applies to one CT (--ct): with --ct-dir each CT's label map is "
                                  "found beside it and poses are sampled per CT.")
        _synth_collection(ct_dir, landmark, n, output_dir, translator=translator, model=model, preset=preset,
                          seed=seed, batch_size=batch_size, workers=workers, scheduler=scheduler, retries=retries,
                          force=force)
        return
    if workers != 1 or scheduler is not None:
        raise EusaugError("--workers and --scheduler spread the CTs of --ct-dir FOLDER: use --ct-dir, "
                          "or leave them out for one CT.")
    from eusaug.synth import synthesize

    assert ct is not None
    rows = synthesize(ct, landmark, n, output_dir, labels=labels, model=model, poses=poses, translator=translator,
                      preset=preset, seed=seed, batch_size=batch_size, force=force)
    console(stderr=False).print(f"wrote {len(rows)} sEUS images, label planes and manifest.csv to {output_dir}")


def _synth_collection(ct_dir: Path, landmark: str, n: int, output_dir: Path, *, translator: str, model: Path | None,
                      preset: str, seed: int, batch_size: int, workers: int, scheduler: str | None, retries: int,
                      force: bool) -> None:
    from eusaug.collection import COLLECTION_CSV, DONE, synthesize_collection

    results = synthesize_collection(ct_dir, landmark, n, output_dir, translator=translator, model=model,
                                    label_preset=preset, seed=seed, batch_size=batch_size, workers=workers,
                                    scheduler=scheduler, force=force, retries=retries)
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
