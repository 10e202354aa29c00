from __future__ import annotations

import pytest

from eusaug.pipeline.stage_runner import Stage, read_summary, run_stages, stage_done


def test_finished_stages_are_skipped(tmp_path):
    calls: list[str] = []

    def make(name):
        def run(folder):
            calls.append(name)
            (folder / "out.txt").write_text(name)
            return {"n": len(calls)}

        return Stage(name, run)

    first = run_stages(tmp_path, [make("a"), make("b")])
    assert [r.skipped for r in first] == [False, False] and calls == ["a", "b"]
    again = run_stages(tmp_path, [make("a"), make("b"), make("c")])
    assert [r.skipped for r in again] == [True, True, False]
    assert calls == ["a", "b", "c"]
    assert read_summary(tmp_path, "b") == {"n": 2}
    assert (tmp_path / "c" / "out.txt").read_text() == "c"


def test_killed_stage_restarts_cleanly(tmp_path):
    def crash(folder):
        (folder / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stages(tmp_path, [Stage("a", crash)])
    assert not (tmp_path / "a").exists() and not stage_done(tmp_path, "a")
    assert list(tmp_path.iterdir()) == []

    result = run_stages(tmp_path, [Stage("a", lambda f: (f / "whole.txt").write_text("ok") and None)])
    assert not result[0].skipped
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".stage.json", "whole.txt"]


def test_non_atomic_stage_keeps_partial_work_for_its_own_resume(tmp_path):
    seen: list[bool] = []

    def train(folder):
        seen.append((folder / "checkpoint").exists())
        (folder / "checkpoint").write_text("epoch 1")
        if len(seen) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stages(tmp_path, [Stage("train", train, atomic=False)])
    run_stages(tmp_path, [Stage("train", train, atomic=False)])
    assert seen == [False, True] and stage_done(tmp_path, "train")
