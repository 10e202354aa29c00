"""Check once at the edge: one ``eusaug synth`` loads the CT once and validates the landmark once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import eusaug.translate.synth as synth_module
from eusaug import FieldOfView, load_case, sample_ct_path, sample_labels_path
from eusaug.cli import main
from eusaug.ct.volume import CTCase, Landmark
from eusaug.errors import EusaugError
from eusaug.geometry import Planes
from eusaug.plugin import Translator
from eusaug.poses.sampling import sample_poses
from eusaug.translate.synth import synthesize_case, translator_fov


def _count(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, calls: Counter[str]) -> None:
    """Wrap ``owner.name`` so each call is counted (and each with an unchecked str), then run the real function."""
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[name] += 1
        calls[name + " of a plain str"] += sum(type(a) is str for a in args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def test_one_synth_run_loads_the_ct_once_and_checks_the_landmark_once(monkeypatch, tmp_path: Path) -> None:
    calls: Counter[str] = Counter()
    _count(monkeypatch, synth_module, "load_case", calls)
    _count(monkeypatch, CTCase, "landmark", calls)
    result = CliRunner().invoke(main, [
        "synth", "--ct", str(sample_ct_path()), "--labels", str(sample_labels_path()), "--landmark", "Liver",
        "--translator", "raysim", "-n", "2", "--option", "beams_per_px=0.5", "-o", str(tmp_path / "out"),
    ])
    assert result.exit_code == 0, result.output
    assert calls["load_case"] == 1
    # One check of the user's name; the sampler and synthesis trust the checked Landmark.
    assert calls["landmark of a plain str"] == 1
    assert calls["landmark"] == 1
    assert len(list((tmp_path / "out").glob("seus_*.png"))) == 2


def test_a_checked_landmark_is_normalised_and_carries_its_label_id() -> None:
    case = load_case(sample_ct_path(), sample_labels_path())
    checked = case.landmark(" Liver ")
    assert isinstance(checked, Landmark) and checked == "liver"
    assert np.array_equal(case.mask(checked), case.labels.ids == checked.label_id)
    assert case.landmark(checked) is checked  # trusted, not checked again
    with pytest.raises(EusaugError, match="absent from|not in"):
        absent = next(name for name in case.label_preset.ids if not np.any(case.labels.ids == case.label_preset.ids[name]))
        case.landmark(absent)


class FixedGrid(Translator):
    """A translator trained on a 32x32 grid: the windowed HU, -1 outside the volume."""

    name = "fixed-grid"
    image_size_px = 32

    @classmethod
    def load(cls, model: Path | None = None, **options: object) -> FixedGrid:
        return cls()

    def translate(self, planes: Planes, rng: np.random.Generator) -> np.ndarray:
        return np.where(planes.visible, np.clip(planes.hu / 1000.0, -1.0, 1.0), -1.0).astype(np.float32)


def test_synthesize_case_refuses_a_field_of_view_off_the_translators_grid(tmp_path: Path) -> None:
    case = load_case(sample_ct_path(), sample_labels_path())
    translator = FixedGrid()
    requested = FieldOfView(height_px=48, width_px=48)
    fov, note = translator_fov(translator, requested)
    assert (fov.height_px, fov.width_px) == (32, 32) and fov.depth_mm == requested.depth_mm
    assert note is not None and "48x48" in note and "32x32" in note
    assert translator_fov(translator, fov) == (fov, None)
    poses = sample_poses(case, case.landmark("liver"), 1, seed=2, fov=fov)
    with pytest.raises(EusaugError, match="48x48 px is not translator 'fixed-grid'"):
        synthesize_case(case, poses, translator, requested, np.random.default_rng(0), tmp_path / "x", seed=0)
    rows = synthesize_case(case, poses, translator, fov, np.random.default_rng(0), tmp_path / "y", seed=0,
                           fov_note=note)
    assert [r["label"] for r in rows] == ["liver"]
    assert note in (tmp_path / "y" / "synth.json").read_text()
