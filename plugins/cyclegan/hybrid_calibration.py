"""The raysim calibration of a hybrid run: fitted or given, kept in the run folder, reused on resume.

A hybrid's learned stage only knows the raysim images it was trained on, so a calibration
used in training must be the one used at synthesis. The run keeps its own copy
(:data:`RAYSIM_CALIBRATION_FILE`) and records it by that relative name, so a moved or
copied run folder still finds it; older runs recorded an absolute path, still read.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eusaug_plugins.cyclegan.runfolder import read_run_config

from eusaug import EusaugError, Planes, Registry
from eusaug.io import console, list_images, write_bytes, write_text

#: The run folder's copy of the calibration its training images were simulated with.
RAYSIM_CALIBRATION_FILE = "raysim_calibration.json"
#: The training option (``HybridConfig`` field) that names it.
OPTION = "raysim_calibration"


#: Which frames a calibration fits on: ``paths -> (kept, note of what was left out)``.
FrameFilter = Callable[[list[Path]], tuple[list[Path], str]]
#: ``raysim_calibration=none``: train on raysim's preset images, not calibrated ones.
NO_CALIBRATION = "none"


def default_calibration_frames(run_dir: Path, overrides: dict[str, Any], calibrate_from: Path | None,
                               eus_dir: Any, force: bool, resume: bool = False) -> Path | None:
    """The frames a session fits raysim to: ``calibrate_from`` when given, else a new run's own
    training frames (``eus_dir``), unless a file or ``none`` is named in ``overrides`` (a
    ``none`` is taken out of them, so the run records no calibration).

    Calibrated raysim is the better source domain: on held-out subjects (bench_realism) it
    scored FID 178.3 / 173.8 against 199.1 / 216.0 uncalibrated. Only training frames are
    fitted: held-out test subjects never reach ``train``."""
    given = overrides.get(OPTION)
    # ``--option raysim_calibration=none`` arrives as None (the option parser's word for it).
    if OPTION in overrides and (given is None or (isinstance(given, str) and given.strip().lower() == NO_CALIBRATION)):
        if calibrate_from is not None:
            raise EusaugError(f"Both --calibrate-from {calibrate_from} and {OPTION}=none: give one of them.")
        del overrides[OPTION]
        if _trained(run_dir, force) and read_run_config(run_dir)["config"].get(OPTION):
            raise EusaugError(f"{OPTION}=none: {run_dir} was trained on calibrated raysim images and a resumed run "
                              "keeps them: leave it out, or pass --force to start over uncalibrated.")
        return None
    # --resume of a run that is not there stops later; a default fit before that would be wasted.
    if calibrate_from is not None or given or resume or _trained(run_dir, force) or not isinstance(eus_dir, (str, Path)):
        return None if calibrate_from is None else Path(calibrate_from)
    return Path(eus_dir)


def _trained(run_dir: Path, force: bool) -> bool:
    """Whether ``run_dir`` holds a run this session resumes (not one ``force`` replaces)."""
    return run_dir.is_dir() and any(run_dir.iterdir()) and not force


def resolve_calibration(run_dir: Path, recorded: str | None) -> Path | None:
    """The file a run's recorded calibration names: a relative name lies in ``run_dir``."""
    if not recorded:
        return None
    path = Path(recorded)
    return path if path.is_absolute() else Path(run_dir) / path


@dataclass(frozen=True)
class RunCalibration:
    """What a training session simulates with: ``source`` (None: no calibration), the
    ``overrides`` to train with, and ``content`` to copy into the run folder (None: keep its own)."""

    source: Path | None
    overrides: dict[str, Any]
    content: bytes | None = None

    @property
    def recorded(self) -> str | None:
        """The name ``hybrid.json`` and ``config.json`` record."""
        return self.overrides.get(OPTION)

    def place(self, out: Path) -> None:
        """Write the calibration into the run folder ``out`` (atomically), when there is a new one."""
        if self.content is not None:
            write_bytes(Path(out) / RAYSIM_CALIBRATION_FILE, self.content)


@contextmanager
def run_calibration(run_dir: Path, overrides: dict[str, Any], calibrate_from: Path | None, preset: str,
                    force: bool = False, registry: Registry | None = None,
                    planes_of: Callable[[], Planes] | None = None, optional: bool = False,
                    keep: FrameFilter | None = None) -> Iterator[RunCalibration]:
    """The calibration of a training session into ``run_dir``, fitted on ``calibrate_from`` with
    raysim's ``preset`` (simulating the CT planes ``planes_of`` gives) for a new run; a resumed
    run keeps its own and refuses another. ``optional``: a fit the frames cannot support (no
    fan to fit, say) is reported and the run goes on uncalibrated (the default calibration).
    ``keep``: which of the frames to fit on (the run's validation frames are left out)."""
    run_dir = Path(run_dir)
    given = overrides.get(OPTION)
    if calibrate_from is not None and given:
        raise EusaugError(f"Both --calibrate-from {calibrate_from} and {OPTION}={given}: give one of them.")
    if _trained(run_dir, force):
        yield _resumed(run_dir, overrides, calibrate_from, given)
        return
    if given:
        path = Path(given)
        if not path.is_file():
            raise EusaugError(f"{OPTION}={given}: no such file: pass a calibration file (eusaug synth "
                              "--calibrate-from writes one), or use --calibrate-from FRAMES.")
        yield RunCalibration(path, {**overrides, OPTION: RAYSIM_CALIBRATION_FILE}, path.read_bytes())
        return
    if calibrate_from is None:
        yield RunCalibration(None, dict(overrides))
        return
    fit = (registry or Registry()).translator("raysim").calibrate
    with tempfile.TemporaryDirectory(prefix="eusaug-calibration-") as tmp:
        planes = None if planes_of is None else planes_of()
        try:
            source, left_out = _fit_folder(Path(calibrate_from), Path(tmp), keep)
            path = Path(fit(source, Path(tmp) / RAYSIM_CALIBRATION_FILE, preset, planes))
            if left_out:  # the file names the folder the user gave, and what of it was not fitted
                record = json.loads(path.read_text())
                write_text(path, json.dumps({**record, "frames": str(Path(calibrate_from).resolve()),
                                             "left_out": left_out}, indent=2))
        except EusaugError as error:
            if not optional:
                raise
            # The default fit is a help, not a demand: frames it cannot read train as before.
            console().print(f"raysim not calibrated to {calibrate_from} ({error}); training on the {preset} "
                            f"preset's images. Give --calibrate-from FRAMES of fan-shaped frames, or "
                            f"--option {OPTION}=none to train uncalibrated on purpose.", markup=False)
            path = None
        if path is None:
            yield RunCalibration(None, dict(overrides))
        else:
            yield RunCalibration(path, {**overrides, OPTION: RAYSIM_CALIBRATION_FILE}, path.read_bytes())


def _fit_folder(frames: Path, tmp: Path, keep: FrameFilter | None) -> tuple[Path, str]:
    """The folder to fit on: ``frames``, or a folder of links to the frames ``keep`` keeps, and
    a note of what it left out ("" when nothing)."""
    if keep is None or not frames.is_dir():
        return frames, ""
    paths = list_images(frames)
    kept, left_out = keep(paths)
    if not left_out or not kept:
        return frames, ""
    folder = tmp / "frames"
    folder.mkdir()
    for k, path in enumerate(kept):
        target = folder / f"{k:06d}{path.suffix}"
        try:
            target.symlink_to(path.resolve())
        except OSError:  # no symlinks here (some Windows set-ups): a copy
            shutil.copyfile(path, target)
    return folder, left_out


def _resumed(run_dir: Path, overrides: dict[str, Any], calibrate_from: Path | None, given: str | None) -> RunCalibration:
    """A resumed run simulates with the calibration it was trained with: the same one may be
    named again (the command repeated), another is refused."""
    recorded = read_run_config(run_dir)["config"].get(OPTION)
    own = resolve_calibration(run_dir, recorded)
    asked = f"--calibrate-from {calibrate_from}" if calibrate_from is not None else f"{OPTION}={given}"
    if (calibrate_from is not None or given) and own is None:
        raise EusaugError(f"{asked}: {run_dir} was trained on uncalibrated raysim images and a resumed run keeps "
                          "them: leave it out, or pass --force to start over calibrated.")
    if own is not None and (calibrate_from is not None or given):
        mine = _read(own)
        same = (mine.get("frames") == str(Path(calibrate_from).resolve()) if calibrate_from is not None
                else _read(Path(str(given))).get("fitted") == mine.get("fitted"))
        if not same:
            raise EusaugError(f"{asked}: {run_dir} was trained with the calibration {own} (fitted on "
                              f"{mine.get('frames')}) and a resumed run keeps it: leave {asked.split()[0]} out, or "
                              "pass --force to start over with the new one.")
    kept = {k: v for k, v in overrides.items() if k != OPTION}
    return RunCalibration(own, {**kept, OPTION: recorded} if recorded else kept)


def _read(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        raise EusaugError(f"raysim calibration {path} is missing or not JSON: restore it, or pass --force to "
                          "start the run over.") from None
    return record if isinstance(record, dict) else {}
