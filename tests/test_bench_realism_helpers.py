"""The realism bench's pure helpers: splits parse as asked, leaks are caught, the mean table is right."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from eusaug import EusaugError

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_realism", ROOT / "benchmarks" / "bench_realism.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


bench = _bench()


def test_splits_parse_sorted_and_default_has_two() -> None:
    assert bench.parse_splits("d,e;c,j") == [("d", "e"), ("c", "j")]
    assert bench.parse_splits(" e , d ; ") == [("d", "e")]
    assert len(bench.parse_splits(bench.DEFAULT_SPLITS)) == 2
    assert bench.split_tag(("c", "j")) == "c-j"
    assert bench.parse_args(["--held-out", "c,f"]).splits == "c,f"


@pytest.mark.parametrize("text", ["", ";", "d,d", "d,e;e,d"])
def test_bad_splits_are_refused(text: str) -> None:
    with pytest.raises(EusaugError):
        bench.parse_splits(text)


def test_a_held_out_subject_in_any_role_is_refused() -> None:
    bench.check_unseen(("d", "e"), "validation", ["c"])
    with pytest.raises(AssertionError, match="e used for validation"):
        bench.check_unseen(("d", "e"), "validation", ["c", "e"])
    assert bench.subjects_of([Path("/x/c12.jpg"), Path("k3.png"), Path("c1.jpg")]) == {"c", "k"}


def _row(name: str, fid: float, ideal: float, kid: float, kind: str | None = None, epoch: int | None = None) -> dict:
    row = {"row": name, "images": name, "n": 24, "fid": fid, "x_ideal": fid / ideal, "kid": kid}
    if kind:
        row.update(epoch_kind=kind, epoch=epoch, budget_min=30.0, images=f"{name} ({kind} epoch {epoch})")
    return row


def test_training_options_are_typed_as_train_types_them_and_unknown_ones_stop() -> None:
    args = bench.parse_args(["--train-option", "denoiser=false", "--train-option", "learning_rate=4e-4",
                             "--train-option", "ngf=16"])
    assert args.train_options == {"denoiser": False, "learning_rate": 4e-4, "ngf": 16}
    assert bench.parse_args([]).train_options == {}
    with pytest.raises(EusaugError, match="denoizer"):
        bench.parse_args(["--train-option", "denoizer=false"])
    with pytest.raises(EusaugError, match="KEY=VALUE"):
        bench.parse_args(["--train-option", "denoiser"])


def test_mean_over_splits_pairs_best_with_best_and_drops_rows_of_one_split() -> None:
    tables = {
        "d-e": [_row("ideal", 80.0, 80.0, 0.02), _row("cut", 160.0, 80.0, 0.2, "best", 3),
                _row("cut", 200.0, 80.0, 0.3, "last", 5), _row("ct", 240.0, 80.0, 0.4)],
        "c-j": [_row("ideal", 40.0, 40.0, 0.04), _row("cut", 120.0, 40.0, 0.1, "last", 6),
                _row("cut", 100.0, 40.0, 0.1, "best", 2)],
    }
    means = {row["images"]: row for row in bench.mean_over_splits(tables)}
    assert list(means) == ["ideal", "cut (best epoch)", "cut (last epoch)"]
    best = means["cut (best epoch)"]
    assert best["fid"] == pytest.approx(130.0)
    assert best["x_ideal"] == pytest.approx((2.0 + 2.5) / 2)
    assert best["kid"] == pytest.approx(0.15)
    assert best["epochs"] == "d-e: 3, c-j: 2"
    assert means["cut (last epoch)"]["x_ideal"] == pytest.approx((2.5 + 3.0) / 2)
    table = bench.format_table("mean", list(means.values()))
    assert "| cut (best epoch) | 130.0 | 2.25 | 0.150 | 30 min, epoch d-e: 3, c-j: 2 |" in table
    assert "| ideal | 60.0 | 1.00 | 0.030 | - |" in table


class _Clock:
    """A stand-in for ``time.perf_counter`` that only moves when a fake training call runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_training_plan_fills_the_budget_despite_each_calls_start_up(monkeypatch) -> None:
    """Each call pays a 60 s start-up and an epoch costs 40 s: the plan must spend the budget on epochs."""
    import eusaug

    clock, calls = _Clock(), []

    class FakeTranslator:
        @staticmethod
        def train(run_dir, *, overrides, resume, stop_after, **_):
            done = sum(n for _, n in calls)
            epochs = min(overrides["epochs"], done + stop_after) if stop_after else overrides["epochs"]
            calls.append((overrides["epochs"], epochs - done))
            clock.now += 60.0 + 40.0 * (epochs - done)

    class FakeRegistry:
        def translator(self, name):
            return FakeTranslator

    monkeypatch.setattr(bench.time, "perf_counter", clock)
    monkeypatch.setattr(eusaug, "Registry", FakeRegistry)
    epochs, seconds = bench.train_for("cut", Path("run"), None, None, Path("frames"), 30.0, 0)
    assert sum(n for _, n in calls) == epochs
    assert 1800.0 - 40.0 <= seconds <= 1800.0  # within an epoch of the budget, never over it
    assert epochs == 39  # 4 start-ups (240 s) leave 39 epochs of 40 s; timing one epoch per call planned 27
    # The decay starts at half the final plan: every earlier call ran before it, at the constant rate.
    assert sum(n for _, n in calls[:-1]) <= epochs // 2
    assert calls[-1][0] == epochs


def test_views_options_are_typed_and_range_checked_as_poses_checks_them() -> None:
    args = bench.parse_args(["--views-option", "max_gas_shadow_fraction=0", "--views-option", "max_outside_fraction=0.05"])
    assert args.views_options == {"max_gas_shadow_fraction": 0.0, "max_outside_fraction": 0.05}
    assert bench.parse_args([]).views_options == {}
    with pytest.raises(EusaugError, match=r"max_gas_shadow_fraction=1\.5 must be in \[0, 1\]"):
        bench.parse_args(["--views-option", "max_gas_shadow_fraction=1.5"])
    with pytest.raises(EusaugError, match="max_gas_shadow"):
        bench.parse_args(["--views-option", "max_gas_shadow=0"])


def test_a_landmark_mix_splits_the_poses_by_weight_and_bad_mixes_stop() -> None:
    assert bench.parse_args([]).landmarks == [("liver", 1.0)]
    mix = bench.parse_landmarks("liver=3, kidney_right=1")
    assert mix == [("liver", 0.75), ("kidney_right", 0.25)]
    assert bench.pose_counts(mix, 300) == [225, 75]
    assert bench.pose_counts(bench.parse_landmarks("liver,kidney_right,spleen"), 200) == [68, 66, 66]
    assert bench.pose_counts([("liver", 1.0)], 200) == [200]
    for bad in ("", "liver=0", "liver=x", "liver,liver", "=2"):
        with pytest.raises(EusaugError, match="--landmark"):
            bench.parse_landmarks(bad)
