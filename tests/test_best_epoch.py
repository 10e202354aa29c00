"""The best epoch: validation frames of training subjects, a KID per epoch, and synth using the best."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import eusaug_plugins.cyclegan.translator as translator_module
import numpy as np
import pytest
from ball_phantom import ball_liver_case
from click.testing import CliRunner
from eusaug_plugins.cyclegan.data import PlaneSource
from eusaug_plugins.cyclegan.epoch_choice import best_epoch
from eusaug_plugins.cyclegan.run import train_run
from eusaug_plugins.cyclegan.runfolder import kept_generators, snapshot_path
from eusaug_plugins.cyclegan.translator import fan_box
from eusaug_plugins.cyclegan.validation import read_validation, resolve_epoch, split_validation_frames

from eusaug import FieldOfView, load_case, pose_from_axes, reference_slice, sample_ct_path, sample_labels_path
from eusaug.cli import main
from eusaug.errors import EusaugError
from eusaug.io.images import write_png
from eusaug.poses.sampling import sample_poses, save_poses
from eusaug.translate import load_translator

#: Every epoch scored (``fast`` scores every second), so the scripted scores line up with epochs.
TINY = dict(image_size_px=32, ngf=8, ndf=8, n_blocks=1, n_disc_layers=2, pool_size=3, crop_margin_px=4,
            denoiser=False, precision="fp32", val_every=1)


def write_subject_frames(folder: Path, subjects: str = "abc", per_subject: int = 4, size: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for s in subjects:
        for k in range(per_subject):
            write_png(folder / f"{s}{k + 1}.png", rng.uniform(-1, 1, (size, size + 4)).astype(np.float32))
    return folder


def phantom_sources(count: int = 6) -> list[PlaneSource]:
    rng = np.random.default_rng(0)
    poses = [pose_from_axes(np.array([0.0, 0.0, 30.0]) + rng.normal(0, 2, 3),
                            np.array([0.0, 0.0, -1.0]) + rng.normal(0, 0.1, 3), np.array([1.0, 0.0, 0.0]))
             for _ in range(count)]
    fov = FieldOfView(depth_mm=40, opening_deg=70, height_px=32, width_px=32)
    return [PlaneSource(ball_liver_case(), np.asarray(poses), fov)]


class Scripted:
    """A validation scorer that returns a fixed sequence, and records what it was shown."""

    backbone = "scripted"

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)
        self.shown: list[np.ndarray] = []
        self.n_real = 4

    def __call__(self, images: np.ndarray) -> tuple[float, float]:
        self.shown.append(images)
        return self.scores.pop(0), 0.0


# -- the split -----------------------------------------------------------------------------
def test_validation_frames_are_whole_training_subjects_drawn_with_the_seed_or_named() -> None:
    paths = [Path(f"{s}{k}.jpg") for s in "cdf" for k in range(1, 6)]
    drawn = split_validation_frames(paths, None, seed=3)
    assert drawn.by_subject and len(drawn.subjects) == 1
    held = {paths[i].name[0] for i in drawn.validation}
    assert held == set(drawn.subjects)
    assert not held & {paths[i].name[0] for i in drawn.train}
    assert len(drawn.train) + len(drawn.validation) == len(paths)
    assert split_validation_frames(paths, None, seed=3).subjects == drawn.subjects  # seeded
    named = split_validation_frames(paths, "c,f", seed=0)
    assert named.subjects == ("c", "f") and sorted({paths[i].name[0] for i in named.train}) == ["d"]
    with pytest.raises(EusaugError, match="no frame of this subject"):
        split_validation_frames(paths, "x", seed=0)
    with pytest.raises(EusaugError, match="every training frame"):
        split_validation_frames(paths, "c,d,f", seed=0)
    # Names without subjects: a seeded 10 % of the frames, said so.
    numbered = [Path(f"{k}.png") for k in range(40)]
    fallback = split_validation_frames(numbered, None, seed=1)
    assert not fallback.by_subject and len(fallback.validation) == 4 and "10%" in fallback.note
    assert not split_validation_frames(paths, None, seed=0, enabled=False).enabled


def test_best_epoch_is_the_last_unless_an_earlier_kid_is_lower_beyond_the_noise() -> None:
    rows = [{"epoch": 1, "kid": 0.3}, {"epoch": 2, "kid": float("nan")}, {"epoch": 3, "kid": 0.1},
            {"epoch": 4, "kid": 0.2}]
    assert best_epoch(rows) == 3  # no spread given: any lower KID counts
    assert best_epoch(rows + [{"epoch": 5, "kid": 0.1}]) == 5  # equal to the lowest: the last
    assert best_epoch([{"epoch": 1, "kid": float("nan")}]) is None
    # The c, j run of 2026-12-08: epoch 64 lower by 0.0045 at a spread of 0.004 keeps the last, 70.
    noisy = [{"epoch": 64, "kid": 0.1291, "kid_std": 0.0040}, {"epoch": 70, "kid": 0.1336, "kid_std": 0.0039}]
    assert best_epoch(noisy) == 70
    # The same spread and a later epoch worse by 0.05: the earlier one.
    assert best_epoch([noisy[0], {"epoch": 70, "kid": 0.18, "kid_std": 0.004}]) == 64
    # A NaN last row does not count as the last.
    assert best_epoch([*noisy, {"epoch": 72, "kid": float("nan"), "kid_std": 0.0}]) == 70


# -- a run whose later epoch is worse ------------------------------------------------------
def test_a_worse_later_epoch_keeps_the_better_one_across_a_resume_and_synth_uses_it(tmp_path) -> None:
    frames = write_subject_frames(tmp_path / "eus")
    run = tmp_path / "run"
    options = dict(preset="fast", overrides={**TINY, "epochs": 3, "val_planes": 4, "val_subjects": "b"})
    first = Scripted([0.5, 0.1])
    train_run(run, phantom_sources(), frames, "liver", reference_slice, stop_after=2, val_scorer=first, **options)
    assert [r["epoch"] for r in read_validation(run)] == [1, 2]
    assert kept_generators(run) == [2]  # epoch 1 was neither the best nor the latest any more
    # The scorer saw the fixed validation planes, translated: the same count each epoch.
    assert [len(s) for s in first.shown] == [4, 4] and not np.allclose(first.shown[0], first.shown[1])
    train_run(run, phantom_sources(), frames, "liver", reference_slice, val_scorer=Scripted([0.9]), **options)
    rows = read_validation(run)
    assert [(r["epoch"], r["kid"]) for r in rows] == [(1, 0.5), (2, 0.1), (3, 0.9)]
    assert json.loads((run / "validation.json").read_text())["best_epoch"] == 2
    assert (run / "validation.png").stat().st_size > 1000
    record = json.loads((run / "config.json").read_text())
    assert record["inputs"]["validation"]["subjects"] == ["b"] and record["inputs"]["n_eus"] == 8

    best, _ = load_translator("cyclegan", "liver", run)
    last, _ = load_translator("cyclegan", "liver", run, options={"epoch": "last"})
    third, _ = load_translator("cyclegan", "liver", run, options={"epoch": "3"})
    assert best.epoch == {"asked": "best", "epoch": 2} and best.source == snapshot_path(run, 2)
    assert last.epoch["epoch"] == 3 and third.epoch["epoch"] == 3
    assert all(np.array_equal(a, b) for a, b in zip(last.generator.get_weights(), third.generator.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(best.generator.get_weights(), last.generator.get_weights()))
    from eusaug_plugins.cyclegan.translator import CycleGANTranslator

    assert "best epoch 2 (KID 0.1000, scripted)" in CycleGANTranslator.summary(run)
    assert kept_generators(run) == [2, 3]  # the best and the latest: keep_generators=best, the default
    with pytest.raises(EusaugError, match="epochs kept there are 2, 3.*keep_generators=all"):
        resolve_epoch(run, 1)
    with pytest.raises(EusaugError, match="best, last or an epoch number"):
        resolve_epoch(run, "worst")


def test_val_every_scores_every_nth_epoch_and_the_last_and_keep_all_keeps_every_snapshot(tmp_path) -> None:
    frames = write_subject_frames(tmp_path / "eus")
    run = tmp_path / "run"
    options = dict(preset="fast", overrides={**TINY, "epochs": 5, "val_planes": 3, "val_subjects": "b",
                                             "val_every": 2})
    first = Scripted([0.4, 0.3])
    train_run(run, phantom_sources(), frames, "liver", reference_slice, stop_after=3, val_scorer=first,
              **dict(options, overrides={**options["overrides"], "keep_generators": "all"}))
    assert [r["epoch"] for r in read_validation(run)] == [2] and len(first.shown) == 1
    assert kept_generators(run) == [1, 2, 3]
    # A run folder from before keep_generators existed kept every epoch's; resumed, it still does.
    record = json.loads((run / "config.json").read_text())
    del record["config"]["keep_generators"]
    (run / "config.json").write_text(json.dumps(record))
    # A resumed run may score more often: validation does not touch training.
    resumed = dict(options, overrides={**options["overrides"], "val_every": 4})
    train_run(run, phantom_sources(), frames, "liver", reference_slice, val_scorer=Scripted([0.2, 0.5]), **resumed)
    assert [(r["epoch"], r["kid"]) for r in read_validation(run)] == [(2, 0.4), (4, 0.2), (5, 0.5)]
    assert json.loads((run / "validation.json").read_text())["best_epoch"] == 4
    assert all(snapshot_path(run, epoch).is_file() for epoch in range(1, 6))
    assert json.loads((run / "config.json").read_text())["config"]["keep_generators"] == "all"


def test_a_patch_trained_run_is_validated_on_whole_planes_as_synth_draws_them(tmp_path, monkeypatch) -> None:
    frames = write_subject_frames(tmp_path / "eus", size=48)
    run = tmp_path / "run"
    sources = phantom_sources()
    whole = FieldOfView(depth_mm=40, opening_deg=70, height_px=42, width_px=46)  # neither a multiple of 4
    sources = [PlaneSource(s.case, s.poses, whole) for s in sources]
    scorer = Scripted([0.3, 0.2])
    boxes, translate = [], translator_module.translate_in_batches

    def spy(images, forward, batch_size, box=None):
        boxes.append(box)
        return translate(images, forward, batch_size, box)

    monkeypatch.setattr(translator_module, "translate_in_batches", spy)
    train_run(run, sources, frames, "liver", reference_slice, preset="fast", val_scorer=scorer,
              overrides={**TINY, "epochs": 2, "val_planes": 3, "val_subjects": "b", "patch_training": True})
    # The crops trained on are 32 px; validation saw the whole 42x46 planes, black outside the fan,
    # of which the generator translated the fan's box, as synth does.
    assert [s.shape for s in scorer.shown] == [(3, 42, 46), (3, 42, 46)]
    assert [b for b in boxes if b is not None] == [fan_box(whole.mask())] * 2  # (None: the box's own pass)
    outside = ~whole.mask()
    assert np.all(scorer.shown[1][:, outside] == -1.0)
    assert np.ptp(scorer.shown[1][:, ~outside]) > 0.01  # the generator drew something inside the fan
    assert json.loads((run / "validation.json").read_text())["best_epoch"] == 2


def test_the_whole_plane_generator_follows_each_epochs_weights() -> None:
    from eusaug_plugins.cyclegan.config import resolve_config
    from eusaug_plugins.cyclegan.networks import build_generator
    from eusaug_plugins.cyclegan.translator import WholePlaneGenerator, any_size_copy

    config = resolve_config("fast", image_size_px=32, ngf=8, n_blocks=1, precision="fp32", patch_training=True)
    generator = build_generator(32, 8, 1, dtype="float32", seed=0, upsample=config.upsample)
    planes = np.random.default_rng(0).uniform(-1, 1, (2, 44, 48, 1)).astype(np.float32)
    whole = WholePlaneGenerator(config)
    first = np.asarray(whole(generator)(planes))
    assert first.shape == (2, 44, 48, 1)
    np.testing.assert_allclose(first, np.asarray(any_size_copy(generator, config)(planes)), atol=1e-5)
    # The next epoch's weights reach the compiled copy.
    generator.set_weights([w * 0.5 for w in generator.get_weights()])
    second = np.asarray(whole(generator)(planes))
    np.testing.assert_allclose(second, np.asarray(any_size_copy(generator, config)(planes)), atol=1e-5)
    assert not np.allclose(first, second, atol=1e-3)


# -- the real scorer, and synth through the CLI ---------------------------------------------
def test_real_training_writes_finite_kids_and_synth_records_the_epoch(tmp_path) -> None:
    case = load_case(sample_ct_path(), sample_labels_path())
    fov = FieldOfView(height_px=32, width_px=32)
    poses = save_poses(tmp_path / "liver.json", sample_poses(case, "liver", 6, seed=2, fov=fov))
    frames = write_subject_frames(tmp_path / "eus", "cdf", per_subject=3)
    run_dir = tmp_path / "run"
    tiny = ["--image-size-px", "32", "--ngf", "8", "--n-blocks", "1", "--precision", "fp32", "--no-denoiser",
            "--option", "ndf=8", "--option", "n_disc_layers=2", "--option", "crop_margin_px=4", "--option", "pool_size=2"]
    trained = CliRunner().invoke(main, [
        "--quiet", "train", "--ct", str(sample_ct_path()), "--labels", str(sample_labels_path()), "--poses", str(poses),
        "--eus", str(frames), "--landmark", "liver", "-o", str(run_dir), "--epochs", "3", "--val-subjects", "d",
        "--val-planes", "6", *tiny])
    assert trained.exit_code == 0, trained.output
    rows = list(csv.DictReader(open(run_dir / "validation.csv")))
    assert [r["epoch"] for r in rows] == ["2", "3"]  # fast scores every second epoch and the last
    assert all(np.isfinite(float(r["kid"])) and r["backbone"] for r in rows)
    assert {r["n_real"] for r in rows} == {"3"} and {r["n_fake"] for r in rows} == {"6"}
    best = json.loads((run_dir / "validation.json").read_text())["best_epoch"]
    assert kept_generators(run_dir) == sorted({best, 3})  # the best and the latest: epoch 1's was pruned
    out = tmp_path / "seus"
    made = CliRunner().invoke(main, ["--quiet", "synth", "--ct", str(sample_ct_path()), "--labels",
                                     str(sample_labels_path()), "--landmark", "liver", "--model", str(run_dir),
                                     "-n", "2", "-o", str(out)])
    assert made.exit_code == 0, made.output
    assert json.loads((out / "synth.json").read_text())["translator"]["epoch"] == {"asked": "best", "epoch": best}
    again = CliRunner().invoke(main, ["--quiet", "synth", "--ct", str(sample_ct_path()), "--landmark", "liver",
                                      "--translator", "raysim", "--epoch", "1", "-n", "1", "-o", str(tmp_path / "r")])
    assert again.exit_code != 0 and "no trained epochs" in again.output


# -- the standard network wherever it is installed -----------------------------------------
def test_fid_defaults_follow_the_standard_fid_extra(monkeypatch) -> None:
    import eusaug.evaluate.standard_inception as standard
    from eusaug.evaluate import FIDOptions, default_backbone, default_fid_preset, standard_network_available
    from eusaug.pipeline import RunConfig, resolve_fid_preset, resolve_network_weights
    from eusaug.pipeline.demo import DEMO_PRESETS
    from eusaug.pipeline.reproduce import REPRODUCE_PRESETS
    from eusaug.pipeline.run_report import fid_network_name

    installed = standard_network_available()
    assert RunConfig().fid_preset == "auto"
    assert {c.fid_preset for c in [*DEMO_PRESETS.values(), *REPRODUCE_PRESETS.values()]} == {"auto"}
    if installed:
        assert default_backbone() == "standard" and default_fid_preset() == "standard"
        assert resolve_fid_preset("auto") == "standard" and FIDOptions(real=Path("r")).config.backbone == "standard"
        # The demo's FID table names the network in its caption.
        assert fid_network_name("auto", "none").startswith("standard network")
        # Random classifier weights no longer claim the FIDs are random.
        _, note = resolve_network_weights("none", "standard")
        assert note == ""
    # Without the extra: Keras' Inception, named with its weights, and the report says when they are random.
    monkeypatch.setattr(standard, "standard_weights_path", lambda: (_ for _ in ()).throw(EusaugError("absent")))
    assert not standard_network_available() and default_fid_preset() == "paper" and default_backbone() == "inception"
    assert resolve_fid_preset("auto") == "paper"
    assert fid_network_name("auto", "none") == "Keras Inception-v3, RANDOM weights"
    assert "FID/KID ran on Inception-v3 with random weights" in resolve_network_weights("none", "paper")[1]


def test_evaluate_fid_uses_the_standard_network_by_default(tmp_path) -> None:
    from eusaug.evaluate import standard_network_available

    if not standard_network_available():
        pytest.skip("the standard-fid extra is not installed")
    real, fake = write_subject_frames(tmp_path / "real", "ab", 3), write_subject_frames(tmp_path / "fake", "c", 4)
    result = CliRunner().invoke(main, ["--quiet", "evaluate", "fid", "--real", str(real), "--synthetic", str(fake),
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    resolved = json.loads((tmp_path / "out" / "fid.json").read_text())
    assert resolved["backbone"] == "standard" and any("standard" in n for n in resolved["notes"])
