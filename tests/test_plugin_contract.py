"""One contract over every registered plugin: bundled, and the example package when it loads.

Each sampler, slicer, translator and evaluator passes the same checks: its options
declare themselves once (``options_class``, or ``training_config_class`` for training),
round-trip through ``--option KEY=VALUE`` strings and the plugin's config, and a bad
value is one clear ``EusaugError`` line naming the option; samplers find poses that show
the landmark, slicers fill what lies outside the CT with air and label 0, and translators
draw it black (-1). Tiny phantoms keep it fast; trainable translators are not trained.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from stomach_phantom import phantom_case

from eusaug import load_case, sample_ct_path, sample_labels_path
from eusaug.ct import AIR_HU
from eusaug.errors import EusaugError
from eusaug.geometry import FieldOfView, Planes
from eusaug.plugin import (
    Registry,
    TrainableTranslator,
    build_options,
    format_option,
    option_strings,
    parse_assignments,
    plugin_options,
)

EXAMPLE_SRC = Path(__file__).resolve().parents[1] / "examples" / "eusaug-plugin-example" / "src"
FOV = FieldOfView(height_px=24, width_px=24)


def _registry() -> Registry:
    """The installed plugins, plus the example package's (put on the path only while loading it)."""
    registry = Registry()
    # Loaded only where no working copy is installed (an earlier test's temporary install may leave a broken row).
    if EXAMPLE_SRC.is_dir() and "eusaug_example_plugin" not in {r.package for r in registry.plugins() if r.error is None}:
        sys.path.insert(0, str(EXAMPLE_SRC))
        try:
            import eusaug_example_plugin.plugin as example
        except ImportError:  # pragma: no cover - the example needs only scipy, which eusaug needs too
            pass
        else:
            registry.register(example, name="eusaug-plugin-example")
        finally:
            sys.path.remove(str(EXAMPLE_SRC))
    return registry


REGISTRY = _registry()
PLUGINS = [(row.kind, row.name) for row in REGISTRY.plugins() if row.cls is not None]


def live_registry() -> Registry:
    """The registry as it is when a test runs: another test module may have installed and removed the example
    package since collection, leaving the collection-time registry's hooks pointing at a module that is gone."""
    return _registry()


def _ids(kind: str) -> list[str]:
    return [name for k, name in PLUGINS if k == kind]


def _options_class(cls: type) -> type | None:
    """What ``--option`` is typed by: the training config for a trainable translator, else ``options_class``."""
    if isinstance(cls, type) and issubclass(cls, TrainableTranslator):
        return cls.training_config_class
    return cls.options_class


def test_every_kind_has_plugins() -> None:
    assert {kind for kind, _ in PLUGINS} == {"sampler", "slicer", "translator", "evaluator"}
    assert "edge-echo" in _ids("translator") or not EXAMPLE_SRC.is_dir()


def _nested(tp: object) -> type | None:
    inner = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    return inner[0] if isinstance(inner[0], type) and dataclasses.is_dataclass(inner[0]) else None


def _command_line(options_class: type) -> tuple[dict[str, str], object]:
    """Every option as the command line gives it (strings), and the options object they must make.

    Required fields get placeholder paths; a nested config (the evaluators' named settings)
    contributes its own fields, as ``eusaug evaluate NAME`` flattens them.
    """
    hints = typing.get_type_hints(options_class)
    strings: dict[str, str] = {}
    required: dict[str, object] = {}
    for f in dataclasses.fields(options_class):
        if not f.metadata.get("cli", True):
            continue
        nested = _nested(hints[f.name])
        if nested is not None:
            strings.update(s.split("=", 1) for s in option_strings(f.default_factory()))  # type: ignore[misc]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            is_tuple = typing.get_origin(hints[f.name]) is tuple
            required[f.name] = (Path("a.csv"), Path("b.csv")) if is_tuple else Path("x")
            strings[f.name] = "a.csv,b.csv" if is_tuple else "x"
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            strings[f.name] = format_option(default)
    return strings, options_class(**required)


@pytest.mark.parametrize(("kind", "name"), PLUGINS)
def test_options_are_one_dataclass_that_round_trips_through_option_strings(kind: str, name: str) -> None:
    cls = live_registry().get(kind, name)
    options_class = _options_class(cls)
    assert options_class is not None and dataclasses.is_dataclass(options_class), (
        f"{kind} {name!r} declares no options dataclass")
    if kind == "evaluator":  # options reach run() through the command line's flags or --option
        strings, expected = _command_line(options_class)
        assert cls.options_from(strings) == expected
        return
    defaults = options_class()
    strings = option_strings(defaults)
    assert all("=" in s and "\n" not in s for s in strings)
    again = build_options(options_class, parse_assignments(strings, options_class))
    assert again == defaults
    if kind in ("sampler", "slicer") or (kind == "translator" and not getattr(cls, "needs_model", False)):
        instance = cls.load(None, **plugin_options(strings, cls)) if kind == "translator" else cls(
            **plugin_options(strings, cls))
        config = instance.get_config()
        json.dumps(config, default=str)  # JSON-ready
        for f in dataclasses.fields(options_class):
            value = config[f.name]
            expected = getattr(defaults, f.name)
            assert (list(value) if isinstance(value, (tuple, list)) else value) == (
                list(expected) if isinstance(expected, (tuple, list)) else expected), f.name


def _numeric_field(options_class: type) -> tuple[str, type]:
    """A numeric option (in a nested config when the class has none of its own) and the class it is in."""
    hints = typing.get_type_hints(options_class)
    for f in dataclasses.fields(options_class):
        inner = [a for a in typing.get_args(hints[f.name]) if a is not type(None)] or [hints[f.name]]
        if inner[0] in (int, float) and f.metadata.get("cli", True):
            return f.name, options_class
    for f in dataclasses.fields(options_class):
        nested = _nested(hints[f.name])
        if nested is not None:
            return _numeric_field(nested)
    pytest.fail(f"{options_class.__name__} has no numeric option")


@pytest.mark.parametrize(("kind", "name"), PLUGINS)
def test_a_bad_option_is_one_clear_line_naming_it(kind: str, name: str) -> None:
    cls = live_registry().get(kind, name)
    options_class = _options_class(cls)
    assert options_class is not None
    field, owner = _numeric_field(options_class)
    with pytest.raises(EusaugError) as caught:
        if kind == "evaluator":
            strings, _ = _command_line(options_class)
            cls.options_from({**strings, field: "lots"})
        else:
            parse_assignments([f"{field}=lots"], owner)
    assert field in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(EusaugError) as caught:
        parse_assignments(["no_such_option=1"], options_class)
    assert "no_such_option" in str(caught.value) and "\n" not in str(caught.value)


@pytest.fixture(scope="module")
def phantom():
    return phantom_case()


@pytest.fixture(scope="module")
def sample_case():
    """The shipped small CT: a body outline (for skin samplers) and a stomach (for stomach samplers)."""
    return load_case(sample_ct_path(), sample_labels_path())


@pytest.mark.parametrize("name", _ids("sampler"))
def test_a_sampler_finds_poses_that_show_the_landmark(name: str, sample_case) -> None:
    sampler = live_registry().create_sampler(name, max_draws=4000)
    liver = sample_case.landmark("liver")
    poses = sampler.sample(sample_case, liver, 2, FOV, np.random.default_rng(1))
    assert poses.shape == (2, 4, 4) and np.isfinite(poses).all()
    planes = live_registry().create_slicer().slice(sample_case, poses, FOV)
    assert ((planes.labels == liver.label_id) & planes.mask).any(axis=(1, 2)).all()


def _half_outside(case) -> np.ndarray:
    """Two poses at the volume's edge, beam along +x: the far part of each plane lies outside the CT."""
    corner = case.affine @ np.array([*np.array(case.ct.hu.shape) - 1, 1.0])
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    pose[:3, 3] = [corner[0] - 10.0, 0.0, 0.0]
    return np.stack([pose, pose])


@pytest.mark.parametrize("name", _ids("slicer"))
def test_a_slicer_fills_outside_the_ct_with_air_and_label_0(name: str, phantom) -> None:
    planes = live_registry().create_slicer(name).slice(phantom, _half_outside(phantom), FOV)
    assert planes.hu.shape == (2, FOV.height_px, FOV.width_px)
    outside = ~planes.inside & planes.mask
    assert outside.any() and (planes.inside & planes.mask).any()
    assert np.all(planes.hu[outside] == AIR_HU) and np.all(planes.labels[outside] == 0)


@pytest.mark.parametrize("name", _ids("translator"))
def test_a_translator_draws_outside_the_volume_black(name: str, phantom) -> None:
    cls = live_registry().translator(name)
    if getattr(cls, "needs_model", False):
        pytest.skip(f"{name} needs a trained model (its options round trip is checked above)")
    planes: Planes = live_registry().create_slicer().slice(phantom, _half_outside(phantom), FOV)
    images = np.asarray(cls.load(None).translate(planes, np.random.default_rng(0)))
    assert images.shape == planes.hu.shape and images.dtype == np.float32
    assert np.all(images[~planes.visible] == -1.0)
    assert np.all((images >= -1.0) & (images <= 1.0))


@pytest.mark.parametrize("name", _ids("evaluator"))
def test_an_evaluator_has_one_entry_point_and_cli_options_from_its_class(name: str) -> None:
    cls = live_registry().evaluator(name)
    assert "evaluate" not in vars(cls), f"{name} overrides the deprecated evaluate(); implement run()"
    assert "run" in vars(cls)
    flags = {opt.name for opt in cls.cli_params()}
    top = {f.name for f in dataclasses.fields(cls.options_class) if f.metadata.get("cli", True)}
    assert top - {"config"} <= flags
