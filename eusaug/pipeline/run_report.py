"""``report.html`` of a whole-protocol run: every figure and table on one self-contained page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eusaug.errors import EusaugError
from eusaug.evaluate.gradcam import MIN_INSIDE_SECTOR_SHARE, outside_sector_note
from eusaug.io.html_report import Report
from eusaug.io.images import list_images
from eusaug.io.tables import read_csv_rows

if TYPE_CHECKING:
    from eusaug.pipeline.run_config import RunContext


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a stage's CSV, or none when that stage wrote no such file."""
    return read_csv_rows(path) if path.is_file() else []


def _first(folder: Path, pattern: str) -> Path | None:
    """The first file matching ``pattern`` in ``folder``, if any."""
    found = sorted(folder.glob(pattern)) if folder.is_dir() else []
    return found[0] if found else None


def cyclegan_epochs(run_dir: Path, budgeted: bool) -> dict[str, Any] | None:
    """Epochs a CycleGAN run folder trained (rows of ``losses.csv``) against those configured.

    ``budgeted``: the run had a time budget, so a short run stopped for it. None when the
    folder holds no run.
    """
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        return None
    try:
        configured = json.loads(config_file.read_text()).get("config", {}).get("epochs")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        configured = None
    trained = len({row.get("epoch") for row in _csv_rows(run_dir / "losses.csv")})
    stopped_by = ""
    if configured is None:
        status = f"trained {trained} epoch{'s' if trained != 1 else ''}"
    else:
        configured = int(configured)
        if trained < configured:
            stopped_by = "time budget" if budgeted else "stopped early"
        status = f"trained {trained} of {configured} epoch{'s' if configured != 1 else ''}"
        status += f" ({stopped_by})" if stopped_by else ""
    return {"epochs_trained": trained, "epochs_configured": configured, "stopped_by": stopped_by, "status": status}


#: The file a pipeline run leaves in its folder: settings, versions, timings (read by ``eusaug report``).
RUN_JSON = "run.json"


@dataclass(frozen=True)
class RunView:
    """What the run report reads of a run: from the live run's context, or from its ``run.json`` later."""

    root: Path
    title: str
    landmarks: tuple[str, ...]
    cyclegan_preset: str
    #: The run had a time budget (``--minutes``), so a short CycleGAN run stopped for it.
    budgeted: bool
    case_names: tuple[str, ...]
    eus_dir: Path | None
    weights_note: str
    #: The FID preset the run asked for (``auto``: the standard network when installed) and its network weights.
    fid_preset: str = "auto"
    weights: str = "auto"

    @classmethod
    def of(cls, ctx: RunContext) -> RunView:
        cfg = ctx.config
        return cls(ctx.root, ctx.title, tuple(cfg.landmarks), cfg.cyclegan_preset, cfg.minutes is not None,
                   tuple(c.name for c, _ in ctx.cases), ctx.eus_dir, ctx.weights_note, cfg.fid_preset, ctx.weights)

    @classmethod
    def from_folder(cls, root: Path) -> tuple[RunView, dict[str, Any]]:
        """The view and the ``run.json`` record of a finished run folder."""
        path = root / RUN_JSON
        try:
            info = json.loads(path.read_text())
            cfg = info["config"]
            view = cls(root, str(info.get("title") or "eusaug run"), tuple(cfg["landmarks"]),
                       str(cfg.get("cyclegan_preset", "")), cfg.get("minutes") is not None,
                       tuple(c["name"] for c in info.get("cases", [])),
                       Path(info["eus_dir"]) if info.get("eus_dir") else None, str(info.get("weights_note") or ""),
                       str(info.get("fid_preset") or cfg.get("fid_preset") or "auto"),
                       str(info.get("weights") or cfg.get("weights") or "auto"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EusaugError(f"{path} is not a readable run record ({type(exc).__name__}: {exc}): "
                              "rerun the pipeline into that folder to rewrite it.") from None
        for key, default in (("total_s", 0.0), ("versions", {}), ("config", {}), ("timings_s", {}),
                             ("reused_stages", [])):
            info.setdefault(key, default)
        return view, info


def _images_or_none(folder: Path, recursive: bool = False) -> list[Path]:
    """The images of ``folder``; none when a stage did not get that far (or the frames were moved since)."""
    try:
        return list_images(folder, recursive=recursive)
    except EusaugError:
        return []


def _fig1_rows(ctx: RunView) -> tuple[list[list[Path | None]], list[str]]:
    """One row per landmark: CT plane | raysim | CycleGAN sEUS | a real frame."""
    synth = ctx.root / "synth"
    first_case = ctx.case_names[0] if ctx.case_names else ""
    real_label = "real frame" if ctx.eus_dir else "simulated 'real' frame (raysim, other pose)"
    rows, columns = [], ["CT plane", "raysim", "CycleGAN sEUS", real_label]
    for landmark in ctx.landmarks:
        if ctx.eus_dir is not None:
            reals = _images_or_none(ctx.eus_dir / landmark, recursive=True)
        else:
            reals = _images_or_none(ctx.root / "real" / "real_train" / landmark)
        for k in range(2):
            ct = synth / "ct" / landmark / f"ct_{k:04d}.png"
            raysim = synth / "raysim" / landmark / first_case / f"seus_{k:04d}.png"
            cyclegan = synth / "cyclegan" / landmark / first_case / f"seus_{k:04d}.png"
            real = reals[k] if len(reals) > k else None
            rows.append([p if p is not None and p.is_file() else None for p in (ct, raysim, cyclegan, real)])
    return rows, columns


def fid_network_name(preset: str, weights: str) -> str:
    """How the FID table names its network, e.g. ``standard network (TTUR / pytorch-fid)``."""
    from eusaug.evaluate.fid_compare import FID_PRESETS, default_fid_preset

    config = FID_PRESETS[default_fid_preset() if preset == "auto" else preset]
    if config.backbone == "standard":
        return "standard network (2015 TF Inception of TTUR / pytorch-fid)"
    if config.backbone == "inception":
        random = weights == "none" or config.weights is None
        return f"Keras Inception-v3, {'RANDOM weights' if random else 'ImageNet weights'}"
    return f"backbone {config.backbone}"


def write_run_report(ctx: RunContext, run_info: dict[str, Any]) -> Path:
    """Build ``report.html`` in the run folder from what the stages wrote."""
    return build_run_report(RunView.of(ctx), run_info).write(ctx.root / "report.html", force=True)


def build_run_report(ctx: RunView, run_info: dict[str, Any]) -> Report:
    """The run's report page from what its stages wrote and its ``run.json`` record (``run_info``)."""
    root = ctx.root
    names = ", ".join(ctx.case_names)
    report = Report(
        ctx.title,
        subtitle=(f"CT: {names}; landmarks {', '.join(ctx.landmarks)}; "
                  f"{run_info['total_s']:.0f} s on {run_info['versions'].get('cpu', 'an unknown CPU')}"),
    )
    if ctx.weights_note:  # first on the page: every number below depends on it
        report.note(ctx.weights_note, kind="warning", title="Random network weights")
    report.section(
        "What this run did",
        f"Probe poses were sampled on the stomach wall of {len(ctx.case_names)} CT volume(s) (within a 30 degree "
        "cone of the outward normal, keeping views with more than the paper's share of landmark pixels and "
        "little bone). CT planes were cut along them, translated to ultrasound by the physics simulator "
        f"raysim and by one CycleGAN per landmark ({ctx.cyclegan_preset} preset), mixed into a classifier "
        "training set at the paper's synthetic ratios, and evaluated as in the paper.",
    )
    if ctx.eus_dir is None:
        report.note(
            "No real EUS frames were given (--eus). The 'real' domain here is raysim frames simulated from "
            "other poses of the same CT: the CycleGAN learned to imitate the simulator, and the classifier "
            "was trained and tested on simulated frames. Give a folder with class sub-folders "
            "(aorta/, liver/, pancreas/) of real frames with --eus for the real thing.",
            kind="warning", title="The real domain is simulated",
        )
    split = run_info.get("split") or {}
    if split.get("by_subject"):
        how = "drawn at random (seed recorded)" if split.get("drawn") else "given"
        report.note(
            f"Real frames were split by subject ({how}): training subjects {', '.join(split['train_subjects'])}; "
            f"held-out subjects {', '.join(split['test_subjects'])}. Held-out subjects' frames were kept out of "
            "CycleGAN training, the classifier's training sets and the training-subject FID reference "
            "(checked by the pipeline before each of those stages); they appear only in the test set and the "
            "held-out FID rows.",
            title="Subject split",
        )
    elif split:
        report.note("; ".join(split.get("notes") or ["The held-out set is split by image, not by subject."]),
                    kind="warning", title="Subject split")

    report.section("Probe poses (Fig. 2)", "Stomach surface and the kept probe positions with their beam directions.")
    pose_plot = root / "poses" / "poses.png"
    if pose_plot.is_file():
        report.image(pose_plot, caption="Sampled probe poses, coloured by landmark", width_px=760)

    report.section("CT planes and synthetic EUS (Fig. 1)")
    grid, columns = _fig1_rows(ctx)
    labels = [f"{lm} ({k + 1})" for lm in ctx.landmarks for k in range(2)]
    report.image_grid(grid, row_labels=labels, col_labels=columns, cell_px=170,
                      caption="Each row: one pose; the CT plane, its raysim and CycleGAN translations, and a "
                              "frame of the real domain.")

    report.section("CycleGAN training", "Losses per epoch (train and validation) of each landmark's CycleGAN.")
    epochs = {lm: cyclegan_epochs(root / f"cyclegan-{lm}", ctx.budgeted) for lm in ctx.landmarks}
    epoch_rows = [{"landmark": lm, **e} for lm, e in epochs.items() if e is not None]
    if epoch_rows:
        report.table(epoch_rows, columns=["landmark", "epochs_trained", "epochs_configured", "stopped_by"],
                     caption="Epochs each CycleGAN trained; a time budget (--minutes) stops training early, so "
                             "its translations are weaker than the configured run's.")
    for landmark in ctx.landmarks:
        run = root / f"cyclegan-{landmark}"
        losses = run / "losses.png"
        if losses.is_file():
            done = epochs[landmark]
            report.subheading(f"{landmark}: {done['status']}" if done else landmark)
            report.image(losses, caption=f"{landmark}: losses per epoch", width_px=700)
        grids = sorted((run / "samples").glob("epoch-*.png")) if (run / "samples").is_dir() else []
        if grids:
            report.image(grids[-1], caption=f"{landmark}: {grids[-1].stem} samples (CT | sEUS | reconstructed CT; "
                                            "EUS | sCT | reconstructed EUS)", width_px=600)

    report.section("Fréchet Inception Distance (Table 3)",
                   "FID and KID of the synthetic sets against the real frames of the training subjects, with the "
                   "paper's controls (two random halves of the real set: the ideal; real vs real plus Gaussian "
                   "noise: the bad), and against the frames of the held-out subjects, whom no model saw.")
    network = fid_network_name(run_info.get("fid_preset") or ctx.fid_preset, ctx.weights)
    for translator in ("cyclegan", "raysim"):
        for suffix, against in (("", "the training subjects' frames"), ("-heldout", "the held-out subjects' frames")):
            rows = _csv_rows(root / "fid" / f"{translator}{suffix}" / "fid.csv")
            if rows:
                report.table(rows, caption=f"{translator}: FID/KID against {against} ({network})")

    report.section("Classifier ratio sweep (Table 2) and McNemar tests",
                   "One classifier per synthetic ratio, tested on held-out real frames.")
    table2 = _csv_rows(root / "classifier" / "sweep" / "table2.csv")
    if table2:
        report.table(table2, caption="Precision, recall, per-class F1 and accuracy by synthetic ratio")
    mixed = _csv_rows(root / "mix" / "counts.csv")
    if mixed:
        report.table(mixed, caption="Training set composition per ratio (eusaug mix)")
    mcnemar = _csv_rows(root / "classifier" / "mcnemar" / "mcnemar.csv")
    if mcnemar:
        report.table(mcnemar, caption="One-sided McNemar tests between classifiers")

    report.section("Grad-CAM (Fig. 3)", "Where the classifier looked, on real and synthetic examples.")
    cam = _first(root / "classifier" / "gradcam", "*.png")
    if cam is not None:
        report.image(cam, caption="Grad-CAM maps of real and synthetic images per class", width_px=760)
    cams = _csv_rows(root / "classifier" / "gradcam" / "gradcam.csv")
    if cams:
        flagged = [r for r in cams if r.get("mostly_outside_sector") == "1"]
        if flagged:
            report.note(outside_sector_note(len(flagged), len(cams)), kind="warning", title="Possible shortcut")
        columns = ["set", "class", "image", "predicted", "probability", "correct", "outside_sector_share",
                   "mostly_outside_sector"]
        caption = "Grad-CAM examples"
        if "outside_sector_share" in cams[0]:
            caption += (f"; outside_sector_share: the share of the map's mass outside the imaging sector "
                        f"(rows above {1 - MIN_INSIDE_SECTOR_SHARE:.0%} highlighted; empty: an all-zero map)")
        report.table(cams, columns=[c for c in columns if c in cams[0]],
                     flag=lambda r: r.get("mostly_outside_sector") == "1", caption=caption + ".")

    report.section("Configuration, versions and timings")
    report.key_values(run_info["config"], caption="Configuration")
    report.key_values(run_info["versions"], caption="Versions")
    report.key_values({**run_info["timings_s"], "total": run_info["total_s"]}, caption="Seconds per stage")
    if run_info["reused_stages"]:
        report.note("Stages reused from an earlier run in this folder: " + ", ".join(run_info["reused_stages"]))
    return report
