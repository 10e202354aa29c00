"""A corpus of bad run configs and option combinations: each stops cleanly, naming the key and the fix.

Every case goes through the ``eusaug`` command (click's CliRunner) and must exit non-zero,
print no traceback and give one ``Error:`` line per problem that names what is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import invoke
from click.testing import Result

#: (file name, file text, words the error line must hold)
BAD_CONFIGS = [
    ("epochs_word.yaml", 'cyclegan_epochs: "ten"\n', ["cyclegan_epochs", "'ten'", "write it like cyclegan_epochs: "]),
    ("ratios_scalar.yaml", "ratios: 0.5\n", ["ratios", "write it like ratios: ["]),
    ("typo_key.yaml", "cyclegan_epoch: 3\n", ["cyclegan_epoch", "Did you mean cyclegan_epochs?"]),
    ("ratio_range.yaml", "ratios: [0.5, 1.5]\n", ["ratios", "1.5", "0..1"]),
    ("precision.yaml", "fid_precision: fp16\n", ["fid_precision", "'fp16'", "bf16"]),
    ("landmarks_scalar.yaml", "landmarks: aorta\n", ["landmarks", "write it like landmarks: [\"aorta\""]),
    ("fov_key.yaml", "field_of_view: {depth: 120}\n", ["field_of_view", "'depth'", "Did you mean depth_mm?"]),
    ("minutes.yaml", "minutes: -1\n", ["minutes", "positive number"]),
    ("seed.yaml", "seed: -3\n", ["seed", "0 or more"]),
    ("weights_value.yaml", "class_weights: {aorta: heavy}\n", ["class_weights[aorta]", "valid number"]),
    ("weights_word.yaml", "class_weights: heavy\n", ["class_weights", "balanced"]),
    ("size_fraction.yaml", "image_size_px: 12.5\n", ["image_size_px", "12.5", "write it like image_size_px: "]),
    ("size_small.yaml", "image_size_px: 8\n", ["image_size_px", "at least 32"]),
    ("test_fraction.yaml", "test_fraction: 1.5\n", ["test_fraction", "between 0 and 1"]),
    ("bone_rule.yaml", "bone_rule: hounsfield\n", ["bone_rule", "'hounsfield'", "hu"]),
    ("significance.yaml", "mcnemar_significance: bonferroni\n", ["mcnemar_significance", "holm"]),
    ("preset_typo.yaml", "preset: papr\n", ["papr", "Did you mean paper?"]),
    ("a_list.yaml", "- cyclegan_epochs\n", ["a_list.yaml", "mapping of settings"]),
    ("broken.yaml", "ratios: [0.5\n", ["broken.yaml", "not valid YAML/JSON"]),
    ("planes.json", json.dumps({"planes_per_case": 0}), ["planes_per_case", "at least 1"]),
    ("keep.yaml", "keep_checkpoints: [1]\n", ["keep_checkpoints", "write it like keep_checkpoints: false"]),
    ("overrides.yaml", "cyclegan_overrides: 3\n", ["cyclegan_overrides", "write it like cyclegan_overrides: {}"]),
]


def error_lines(result: Result) -> list[str]:
    """The ``Error:`` line and the lines after it (one per problem), after checking the exit is clean."""
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Error:")), None)
    assert start is not None, result.output
    return lines[start:]


def assert_one_line_error(result: Result, *needles: str) -> None:
    """Exactly one error line, naming every needle."""
    lines = error_lines(result)
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def reproduce(tmp_path: Path, config: Path) -> Result:
    return invoke("reproduce", "--ct-dir", tmp_path / "cts", "--eus-dir", tmp_path / "eus", "--config", config,
                  "--preset", "fast", "-o", tmp_path / "run")


@pytest.mark.parametrize(("name", "text", "needles"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_one_line_naming_key_and_fix(tmp_path, name, text, needles):
    config = tmp_path / name
    config.write_text(text)
    result = reproduce(tmp_path, config)
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "run").exists()


def test_every_wrong_key_gets_its_own_line(tmp_path):
    config = tmp_path / "three.yaml"
    config.write_text('cyclegan_epochs: "ten"\nratioss: [0.5]\nseed: 1.5\n')
    lines = error_lines(reproduce(tmp_path, config))
    assert len(lines) == 3, lines
    for key, line in zip(("cyclegan_epochs", "ratioss", "seed"), lines):
        assert key in line, (key, line)
    assert "Did you mean ratios?" in lines[1]


def test_lax_values_are_read_with_their_types(tmp_path):
    from eusaug.pipeline.reproduce import load_run_config

    config = tmp_path / "lax.yaml"
    config.write_text('cyclegan_epochs: "6"\nratios: [0, 0.5]\nlandmarks: [liver]\n')
    loaded = load_run_config(config, "fast")
    assert loaded.cyclegan_epochs == 6 and isinstance(loaded.cyclegan_epochs, int)
    assert loaded.ratios == (0.0, 0.5) and loaded.landmarks == ("liver",)


@pytest.fixture(scope="module")
def sample_poses(tmp_path_factory) -> Path:
    """A poses file of the embedded sample (a few poses: fast)."""
    path = tmp_path_factory.mktemp("poses") / "poses.json"
    result = invoke("poses", "--landmark", "liver", "-n", 2, "--seed", 0, "-o", path)
    assert result.exit_code == 0, result.output
    return path


def _options(tmp_path: Path, sample_poses: Path) -> list[tuple[list[object], list[str]]]:
    out = tmp_path / "out"
    ct = tmp_path / "nowhere.nii.gz"
    return [
        (["mix", "--real", tmp_path, "--synthetic", tmp_path, "--ratio", "1.5", "-o", out], ["1.5"]),
        (["mix", "--real", tmp_path, "--synthetic", tmp_path, "--ratios", ",", "-o", out], ["--ratios", "0.25"]),
        (["synth", "--translator", "raysim", "--landmark", "liver"], ["'-o'"]),
        (["synth", "--translator", "raysimm", "--landmark", "liver", "--ct", ct, "-o", out],
         ["raysimm", "Did you mean raysim?"]),
        (["synth", "--translator", "raysim", "--option", "frequency_mhzz=3", "--landmark", "liver", "--ct", ct,
          "-o", out], ["frequency_mhzz", "Did you mean frequency_mhz?"]),
        (["synth", "--translator", "raysim", "--option", "frequency_mhz", "--landmark", "liver", "--ct", ct,
          "-o", out], ["frequency_mhz", "KEY=VALUE"]),
        (["synth", "--translator", "raysim", "--landmark", "liver", "--ct", ct, "--ct-dir", tmp_path, "-o", out],
         ["--ct", "--ct-dir"]),
        (["poses", "--landmark", "aortaa", "-n", 1, "-o", out / "p.json"], ["aortaa", "Did you mean aorta?"]),
        (["poses", "--landmark", "liver", "--sampler", "stomach-con", "-n", 1, "-o", out / "p.json"],
         ["stomach-con", "Did you mean stomach-cone?"]),
        (["poses", "--landmark", "liver", "--option", "cone_degs=3", "-n", 1, "-o", out / "p.json"],
         ["cone_degs"]),
        (["info", "--label-preset", "nonsense"], ["nonsense", "totalsegmentator"]),
        (["info", "--label-preset", "nonsense", "-q"], ["nonsense"]),
        (["slice", "--poses", tmp_path / "missing.json", "-o", out], ["missing.json"]),
        (["slice", "--poses", sample_poses, "--slicer", "plain", "-o", out], ["plain", "Did you mean plane?"]),
        (["reproduce", "--ct-dir", tmp_path, "--eus-dir", tmp_path, "--preset", "papr", "-o", out], ["papr"]),
        (["train", "--ct", ct, "--poses", sample_poses, "--eus", tmp_path, "--landmark", "liver", "--resume",
          "--force", "-o", out], ["--resume", "--force"]),
    ]


def test_bad_option_combinations_are_one_line(tmp_path, sample_poses):
    for args, needles in _options(tmp_path, sample_poses):
        result = invoke(*args)
        lines = error_lines(result)
        assert any(all(n in line for n in needles) for line in lines), (args, lines)
        assert not (tmp_path / "out").exists(), args
