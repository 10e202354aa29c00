"""``precision=auto``: bfloat16 only where the hardware computes it, float32 elsewhere."""

from __future__ import annotations

import pytest

from eusaug import EusaugError
from eusaug.io import cpu_kind, precision, resolve_precision

ZEN3 = frozenset({"fma", "avx2"})  # AMD EPYC Zen 3: bfloat16 only emulated
ZEN4 = ZEN3 | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = ZEN4 | {"amx_bf16", "amx_tile"}


@pytest.fixture
def machine(monkeypatch):
    """Pretend to be a machine with these CPU flags and these GPUs' compute capabilities."""

    def pretend(flags: frozenset[str], gpus: tuple[tuple[int, int], ...] = ()) -> None:
        monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
        monkeypatch.setattr(precision, "_gpu_capabilities", lambda: gpus)

    return pretend


def test_auto_picks_bf16_only_on_hardware_that_computes_it(machine) -> None:
    for flags, expected in ((ZEN3, "fp32"), (ZEN4, "bf16"), (SAPPHIRE_RAPIDS, "bf16"), (frozenset(), "fp32")):
        machine(flags)
        assert resolve_precision("auto") == expected, sorted(flags)
        assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"  # explicit stays
    machine(ZEN3, gpus=((8, 0),))
    assert resolve_precision("auto") == "bf16"  # an Ampere GPU computes bfloat16 whatever the CPU
    machine(ZEN4, gpus=((8, 6), (7, 5)))
    assert resolve_precision("auto") == "fp32"  # a Turing GPU beside it would emulate it


def test_cpu_kind_names_what_decides_the_timings() -> None:
    assert cpu_kind(SAPPHIRE_RAPIDS) == "AMX"
    assert cpu_kind(ZEN4) == "AVX-512 BF16, no AMX"
    assert cpu_kind(ZEN3) == "AVX2, no AVX-512"
    assert cpu_kind(frozenset({"avx512f", "avx2"})) == "AVX-512, no BF16"
    assert cpu_kind(frozenset()) == "unknown"


def test_the_translators_layers_follow_the_machine_unless_told(machine) -> None:
    pytest.importorskip("tensorflow")
    from eusaug_plugins.cyclegan.config import PRESETS, resolve_config
    from eusaug_plugins.cyclegan.networks import build_generator

    def compute_dtypes(config) -> set[str]:
        model = build_generator(None, 4, 1, dtype=config.dtype_policy)
        return {layer.dtype_policy.compute_dtype for layer in model.layers if layer.weights}

    machine(ZEN3)
    fast = PRESETS["fast"]
    assert fast.precision == "auto" and compute_dtypes(fast) == {"float32"}
    assert "auto: fp32" in fast.summary()
    assert compute_dtypes(resolve_config("fast", precision="bf16")) == {"bfloat16"}
    machine(ZEN4)
    assert compute_dtypes(fast) == {"bfloat16"} and "auto: bf16" in fast.summary()
    assert compute_dtypes(resolve_config("fast", precision="fp32")) == {"float32"}
    with pytest.raises(EusaugError, match="auto or fp32 or bf16"):
        resolve_config("fast", precision="fp16")


def test_a_run_folder_records_the_precision_it_trained_in(machine, tmp_path) -> None:
    import json

    pytest.importorskip("tensorflow")
    from eusaug_plugins.cyclegan.config import PRESETS
    from eusaug_plugins.cyclegan.run import _write_config

    machine(ZEN3)
    record = _write_config(tmp_path, PRESETS["fast"], "liver", "fast", {}, None)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"]["precision"] == "auto" and saved["precision"] == record["precision"] == "fp32"
    machine(ZEN4)
    _write_config(tmp_path, PRESETS["fast"], "liver", "fast", {}, record)  # a resumed session on another machine
    assert json.loads((tmp_path / "config.json").read_text())["precision"] == "bf16"


def test_a_run_resumes_in_another_precision(tmp_path) -> None:
    pytest.importorskip("tensorflow")
    from eusaug_plugins.cyclegan.config import resolve_config
    from eusaug_plugins.cyclegan.run import _resolve, _write_config

    old = resolve_config("fast", precision="bf16")  # a run made before "auto", or where bf16 is native
    _write_config(tmp_path, old, "liver", "fast", {}, None)
    (tmp_path / "checkpoints").mkdir()
    config, _ = _resolve(tmp_path, "liver", "fast", {}, resume=True, force=False)  # today's preset: auto
    assert config.precision == "auto" and config.epochs == old.epochs
    with pytest.raises(EusaugError, match="ngf"):  # what shapes the weights still may not change
        _resolve(tmp_path, "liver", "fast", {"ngf": 16}, resume=True, force=False)
