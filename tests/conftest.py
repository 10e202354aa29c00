"""Shared fixtures: paths to the real data in ../shared/data and tiny in-memory phantoms."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ABDOMEN_CT = SHARED_DATA / "ct" / "totalseg_abdomen_ct.nii.gz"
ABDOMEN_LABELS = SHARED_DATA / "ct" / "totalseg_abdomen_labels.nii.gz"
US_FRAMES = SHARED_DATA / "us" / "abdominal_rus_train"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"shared test data missing: {path} (the project's tests read ../shared/data)")
    return path


@pytest.fixture(scope="session")
def abdomen_ct() -> Path:
    return _require(ABDOMEN_CT)


@pytest.fixture(scope="session")
def abdomen_labels() -> Path:
    return _require(ABDOMEN_LABELS)


@pytest.fixture(scope="session")
def us_frames() -> Path:
    return _require(US_FRAMES)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the model store and caches of every test out of the user's home."""
    monkeypatch.setenv("EUSAUG_HOME", str(tmp_path_factory.mktemp("eusaug_home")))
