"""The local model store that train registers into and synth reads."""

from __future__ import annotations

import json
import os

import pytest

from eusaug.errors import EusaugError
from eusaug.translate.model_store import find_model, forget_model, list_models, register_model, store_path


def test_store_lives_under_eusaug_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EUSAUG_HOME", str(tmp_path / "home"))
    assert store_path() == tmp_path / "home" / "models.json"
    assert list_models() == []


def test_register_find_and_forget(tmp_path) -> None:
    run_a, run_b, run_c = (tmp_path / name for name in ("a", "b", "c"))
    for run in (run_a, run_b, run_c):
        run.mkdir()
    register_model("Liver", run_a, summary="fast")
    register_model("liver", run_b)
    register_model("aorta", run_c, translator="other")
    assert find_model("liver") == run_b.resolve()          # newest wins
    assert find_model("aorta", translator="other") == run_c.resolve()
    register_model("liver", run_a)                          # re-registering makes it newest again
    assert find_model("liver") == run_a.resolve()
    assert len(list_models()) == 3
    assert json.loads(store_path().read_text())["models"][0]["landmark"] == "liver"

    os.rename(run_a, tmp_path / "moved")                    # a vanished folder is skipped
    assert find_model("liver") == run_b.resolve()
    assert forget_model(run_b) == 1
    with pytest.raises(EusaugError) as info:
        find_model("liver")
    message = str(info.value)
    assert "eusaug train" in message and "--landmark liver" in message and "--model RUN" in message
    assert "folders are gone" in message


def test_missing_model_error_names_what_to_run() -> None:
    with pytest.raises(EusaugError, match=r"--landmark pancreas -o RUN`, or pass --model RUN"):
        find_model("pancreas")


def test_damaged_store_is_a_clear_error() -> None:
    store_path().parent.mkdir(parents=True, exist_ok=True)
    store_path().write_text("{not json")
    with pytest.raises(EusaugError, match="damaged"):
        list_models()
