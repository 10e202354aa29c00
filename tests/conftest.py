"""Shared fixtures: the test CT shipped in tests/data, the real frames in ../shared/data, tiny phantoms.

The abdomen CT case is Apache-2.0 and ships with the tests. The real ultrasound frames do
not (their licence is unverified): tests that need them read ``../shared/data/us`` when it
exists and skip with the reason otherwise, except under CI (``CI=true``), where a missing
frame set is a failure, so nothing silently stops being tested.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from optional import on_ci

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
ABDOMEN_CT = TEST_DATA / "ct" / "totalseg_abdomen_ct.nii.gz"
ABDOMEN_LABELS = TEST_DATA / "ct" / "totalseg_abdomen_labels.nii.gz"
SHARED_DATA = REPO.parent / "shared" / "data"
US_FRAMES = SHARED_DATA / "us" / "abdominal_rus_train"


def require_shared(path: Path, what: str = "real ultrasound frames") -> Path:
    """``path`` under ../shared/data; skip with the reason where it is absent (fail under CI)."""
    if path.exists():
        return path
    reason = (f"{what} not found at {path}: they are not shipped with eusaug (licence unverified) and are read "
              "from ../shared/data beside the clone when present")
    if on_ci():
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def abdomen_ct() -> Path:
    return ABDOMEN_CT


@pytest.fixture(scope="session")
def abdomen_labels() -> Path:
    return ABDOMEN_LABELS


@pytest.fixture(scope="session")
def us_frames() -> Path:
    return require_shared(US_FRAMES)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the model store and caches of every test out of the user's home."""
    monkeypatch.setenv("EUSAUG_HOME", str(tmp_path_factory.mktemp("eusaug_home")))
