"""Typed plugin options: one dataclass gives the click options, ``KEY=VALUE`` parsing and the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import click
import pytest
from click.testing import CliRunner

from eusaug.errors import EusaugError
from eusaug.plugin import (
    EvaluationResult,
    Evaluator,
    Registry,
    click_options,
    config_from_options,
    opt,
    parse_assignments,
    plugin_options,
)


@dataclass(frozen=True)
class Inner:
    epochs: int = 10
    rate: float = 0.5
    names: tuple[str, ...] = ("a", "b")
    weights: dict[str, float] | None = None
    mode: Literal["fast", "slow"] = "fast"


PRESETS = {"small": Inner(epochs=2), "big": Inner(epochs=200, rate=0.1)}


@dataclass(frozen=True)
class Outer:
    source: Path = field(metadata=opt("Where the images are."))
    files: tuple[Path, ...] = field(default=(), metadata=opt("Input files."))
    ratios: tuple[float, ...] = field(default=(0.0, 0.5), metadata=opt("Ratios."))
    label: str | None = field(default=None, metadata=opt("A label."))
    force: bool = field(default=False, metadata=opt("Replace."))
    cache: bool = field(default=True, metadata=opt("Cache."))
    inner: Inner = field(default_factory=lambda: PRESETS["small"],
                         metadata=opt("Settings.", presets=PRESETS, preset="small"))


def _command() -> tuple[click.Command, list[Outer]]:
    seen: list[Outer] = []

    def callback(**options: object) -> None:
        seen.append(config_from_options(Outer, options))

    return click.Command("x", params=click_options(Outer), callback=callback), seen


def test_click_options_round_trip_to_a_typed_config(tmp_path: Path) -> None:
    command, seen = _command()
    result = CliRunner().invoke(command, [
        "--source", str(tmp_path), "--files", "a.csv", "--files", "b.csv", "--ratios", "0,0.25,0.75",
        "--force", "--no-cache", "--preset", "big", "--epochs", "7", "--names", "x,y,z",
        "--weights", "liver=4.48,aorta=4.23", "--mode", "slow",
    ])
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.source == tmp_path and config.files == (Path("a.csv"), Path("b.csv"))
    assert config.ratios == (0.0, 0.25, 0.75) and config.force is True and config.cache is False
    # The preset's values, with the overrides that were given.
    assert config.inner == Inner(epochs=7, rate=0.1, names=("x", "y", "z"), weights={"liver": 4.48, "aorta": 4.23},
                                 mode="slow")


def test_defaults_and_required_options(tmp_path: Path) -> None:
    command, seen = _command()
    assert CliRunner().invoke(command, ["--source", str(tmp_path)]).exit_code == 0
    assert seen[0] == Outer(source=tmp_path)
    missing = CliRunner().invoke(command, [])
    assert missing.exit_code != 0 and "--source" in missing.output
    bad_choice = CliRunner().invoke(command, ["--source", "s", "--mode", "medium"])
    assert bad_choice.exit_code != 0 and "medium" in bad_choice.output


def test_help_comes_from_metadata_and_field_help() -> None:
    command, _ = _command()
    text = CliRunner().invoke(command, ["--help"]).output
    assert "Where the images are." in text and "--preset [small|big]" in text and "(default: the preset's)" in text


def test_parse_assignments_types_and_refuses_unknown_keys() -> None:
    assert parse_assignments(["epochs=3", "rate=1e-3", "names=p,q", "weights=none", "mode=slow"], Inner) == {
        "epochs": 3, "rate": 1e-3, "names": ("p", "q"), "weights": None, "mode": "slow"}
    with pytest.raises(EusaugError, match="Unknown Inner option.*colour.*known options are epochs"):
        parse_assignments(["colour=red"], Inner)
    with pytest.raises(EusaugError, match="epochs='many' is not valid"):
        parse_assignments(["epochs=many"], Inner)
    with pytest.raises(EusaugError, match="not KEY=VALUE"):
        parse_assignments(["epochs"], Inner)


class Takes:
    name = "takes"

    def __init__(self, depth_mm: float = 50.0, flag: bool = False) -> None:
        self.depth_mm, self.flag = depth_mm, flag


def test_plugin_options_are_typed_by_the_constructor_when_no_class_is_declared() -> None:
    assert plugin_options(["depth_mm=150", "flag=yes"], Takes) == {"depth_mm": 150.0, "flag": True}
    with pytest.raises(EusaugError, match="Plugin 'takes' has no option 'gain'.*depth_mm, flag"):
        plugin_options(["gain=2"], Takes)


def test_plugin_options_of_raysim_are_typed_by_its_params_class() -> None:
    raysim = Registry().translator("raysim")
    options = plugin_options(["frequency_mhz=3.5", "preset=abdominal"], raysim)
    assert options == {"frequency_mhz": 3.5, "preset": "abdominal"}
    assert raysim.load(None, **options).params.frequency_mhz == 3.5


def test_an_evaluator_gets_its_subcommand_from_its_options_class(tmp_path: Path) -> None:
    from eusaug.cli.evaluate_cmd import make_command

    ran: list[tuple[Outer, Path]] = []

    class Counting(Evaluator):
        name = "counting"
        description = "Counts."
        options_class = Outer

        def run(self, options: Outer, output_dir: Path) -> EvaluationResult:
            ran.append((options, output_dir))
            return EvaluationResult("counted", [{"n": len(options.files)}])

    result = CliRunner().invoke(make_command(Counting), ["--source", "s", "--files", "f1", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert ran == [(Outer(source=Path("s"), files=(Path("f1"),)), tmp_path)]


def test_synth_option_reaches_raysim_and_changes_the_images(tmp_path: Path) -> None:
    import json

    import numpy as np
    from PIL import Image

    from eusaug import sample_ct_path, sample_labels_path
    from eusaug.cli import main

    def synth(name: str, *extra: str) -> np.ndarray:
        result = CliRunner().invoke(main, ["--quiet", "synth", "--ct", str(sample_ct_path()), "--labels",
                                           str(sample_labels_path()), "--landmark", "liver", "--translator", "raysim",
                                           "-n", "2", "--seed", "4", "-o", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
        return np.stack([np.asarray(Image.open(tmp_path / name / f"seus_{k:04d}.png"), float) for k in range(2)])

    default, low = synth("default"), synth("low", "--option", "frequency_mhz=3.5")
    assert json.loads((tmp_path / "low" / "synth.json").read_text())["translator"]["frequency_mhz"] == 3.5
    assert np.abs(default - low).mean() > 0.5  # a lower frequency: less attenuation, coarser speckle
    again = CliRunner().invoke(main, ["synth", "--ct", str(sample_ct_path()), "--landmark", "liver", "--translator",
                                      "raysim", "-o", str(tmp_path / "bad"), "--option", "colour=red"])
    assert again.exit_code == 2 and "Unknown RaySim option(s) colour" in again.output
