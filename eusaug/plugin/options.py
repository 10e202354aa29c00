"""Typed plugin options: one dataclass declares them, the CLI and ``KEY=VALUE`` strings are derived from it.

A plugin that takes options declares a dataclass; each field is one option, its type
says how a command-line string is read, and ``field(metadata=opt("help"))`` gives its
help text. From that one declaration eusaug builds:

- the click options of a command (``eusaug evaluate NAME``, ``eusaug train``), with
  :func:`click_options`;
- the typed value of ``--set KEY=VALUE`` / ``--option KEY=VALUE`` strings, with
  :func:`parse_assignments`;
- a config from the options a command received, with :func:`config_from_options`.

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``Path``, ``Literal[...]``
(a choice), ``tuple[X, ...]`` (comma-separated), ``Mapping[str, X]`` (``a=1,b=2``), and
any of these ``| None``. A field whose type is itself a dataclass (a nested config, e.g.
the classifier's training settings) with ``metadata=opt(..., presets=NAMED_CONFIGS)``
becomes ``--preset NAME`` plus one optional override per nested field.

Help texts come from field metadata, or from a ``FIELD_HELP`` mapping on the class
(for configs whose fields are shared with non-CLI code).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import click

from eusaug.errors import EusaugError, did_you_mean

_Config = TypeVar("_Config")

_NONE_WORDS = ("none", "null", "")
_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")


def opt(help: str, *, cli: bool = True, flag: str | None = None, presets: Mapping[str, Any] | None = None,
        preset: str | None = None) -> dict[str, Any]:
    """Field metadata: help text; ``cli=False`` keeps it off the command line; ``flag`` renames it.

    For a nested config field, ``presets`` names the ready configs and ``preset`` the default one.
    """
    return {"help": help, "cli": cli, "flag": flag, "presets": presets, "preset": preset}


def _help(config_cls: type, f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("help") or getattr(config_cls, "FIELD_HELP", {}).get(f.name, "")


def _nested(tp: Any) -> type | None:
    inner, _ = _unwrap_optional(tp)
    return inner if isinstance(inner, type) and dataclasses.is_dataclass(inner) else None


def _hints(config_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(config_cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(tp, False)``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def parse_value(text: str, tp: Any, name: str) -> Any:
    """Read one command-line string as a value of type ``tp`` (the field's annotation)."""
    inner, optional = _unwrap_optional(tp)
    stripped = text.strip()
    if optional and stripped.lower() in _NONE_WORDS:
        return None
    origin = typing.get_origin(inner)
    if origin in (Union, types.UnionType):  # several types: the first that reads the text
        members = [a for a in typing.get_args(inner) if a is not type(None)]
        for member in members:
            try:
                return parse_value(text, member, name)
            except EusaugError:
                continue
        raise EusaugError(f"Option {name}={text!r} is not valid: expected one of {', '.join(map(str, members))}.")
    try:
        if inner is bool:
            if stripped.lower() in _TRUE_WORDS:
                return True
            if stripped.lower() in _FALSE_WORDS:
                return False
            raise ValueError("expected true or false")
        if inner in (int, float, str):
            return inner(stripped)
        if isinstance(inner, type) and issubclass(inner, (int, float)):  # a checked number type, e.g. Ratio
            return inner(float(stripped) if issubclass(inner, float) else int(stripped))
        if inner is Path:
            return Path(stripped)
        if origin is Literal:
            choices = typing.get_args(inner)
            for choice in choices:
                if str(choice) == stripped:
                    return choice
            raise ValueError(f"expected one of {', '.join(map(str, choices))}")
        if origin is tuple:
            item_type = typing.get_args(inner)[0]
            return tuple(parse_value(part, item_type, name) for part in stripped.split(",") if part.strip())
        if origin in (dict, Mapping, typing.get_origin(Mapping[str, int])):
            value_type = typing.get_args(inner)[1]
            pairs = [part.split("=", 1) for part in stripped.split(",") if part.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("expected key=value pairs separated by commas")
            return {k.strip(): parse_value(v, value_type, f"{name}[{k.strip()}]") for k, v in pairs}
    except ValueError as exc:
        raise EusaugError(f"Option {name}={text!r} is not valid: {exc}.") from None
    raise EusaugError(f"Option {name} has a type ({inner!r}) that cannot be given on the command line.")


def _click_type(tp: Any) -> Any:
    inner, _ = _unwrap_optional(tp)
    if inner is int:
        return int
    if inner is float:
        return float
    if inner is Path:
        return click.Path(path_type=Path)
    if typing.get_origin(inner) is Literal:
        return click.Choice([str(c) for c in typing.get_args(inner)])
    return str


def _flag_name(f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _option(config_cls: type, f: dataclasses.Field[Any], tp: Any, default: Any, override: bool) -> click.Option:
    """One click option; ``override``: not given means "keep the preset's value" (default None)."""
    inner, optional = _unwrap_optional(tp)
    help_text = _help(config_cls, f)
    flag = _flag_name(f)
    if override:
        help_text = f"{help_text} (default: the preset's)".strip()
        if inner is bool:
            return click.Option([f"{flag}/--no-{flag[2:]}"], default=None, help=help_text)
        return click.Option([flag], type=_click_type(tp), default=None, help=help_text)
    if inner is bool and not optional:
        if default is False:  # an opt-in switch reads best as a plain flag: --force
            return click.Option([flag], is_flag=True, default=False, help=help_text)
        return click.Option([f"{flag}/--no-{flag[2:]}"], default=bool(default), show_default=True, help=help_text)
    required = default is dataclasses.MISSING
    if typing.get_origin(inner) is tuple and typing.get_args(inner)[0] is Path:
        # Several files: repeat the option (--predictions a.csv --predictions b.csv).
        return click.Option([flag], type=click.Path(path_type=Path), multiple=True, required=required,
                            help=f"{help_text} Repeat for several.".strip())
    shown = None if required else default
    if isinstance(shown, tuple):
        shown = ",".join(str(v) for v in shown)
    elif isinstance(shown, Mapping):
        shown = ",".join(f"{k}={v}" for k, v in shown.items())
    if required:  # no default at all: click then reports the missing option
        return click.Option([flag], type=_click_type(tp), required=True, help=help_text)
    return click.Option([flag], type=_click_type(tp), default=shown, show_default=shown is not None, help=help_text)


def _default_of(f: dataclasses.Field[Any], defaults: Any | None) -> Any:
    if defaults is not None:
        return getattr(defaults, f.name)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def click_options(config_cls: type, defaults: Any | None = None) -> list[click.Option]:
    """One click option per field of the dataclass ``config_cls`` (see the module docstring).

    Defaults come from ``defaults`` (an instance, e.g. a preset) or the field defaults; a
    field without either is a required option.
    """
    hints = _hints(config_cls)
    params: list[click.Option] = []
    for f in dataclasses.fields(config_cls):
        if not f.metadata.get("cli", True):
            continue
        nested = _nested(hints[f.name])
        if nested is not None:
            presets = f.metadata.get("presets") or {}
            if presets:
                default_preset = f.metadata.get("preset") or next(iter(presets))
                params.append(click.Option(["--preset"], type=click.Choice(list(presets)), default=default_preset,
                                           show_default=True, help=_help(config_cls, f) or "Named settings."))
            params.extend(override_options(nested))
            continue
        params.append(_option(config_cls, f, hints[f.name], _default_of(f, defaults), override=False))
    return params


def _typed(value: Any, tp: Any, name: str) -> Any:
    """Command-line strings read as ``tp``; values that already have a type pass through."""
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, str):
        return None if value == () and _unwrap_optional(tp)[1] else value
    inner, optional = _unwrap_optional(tp)
    if inner is str and not optional:
        return value
    return parse_value(value, tp, name)


def config_from_options(config_cls: type[_Config], options: Mapping[str, Any], base: _Config | None = None) -> _Config:
    """A ``config_cls`` from the options a command received (strings read as the field types).

    Options that are absent, or None where ``base`` has a value, keep ``base``'s value
    (or the field default). A nested config is its preset (``options["preset"]``) with
    the nested options that were given.
    """
    hints = _hints(config_cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(config_cls):
        nested = _nested(hints[f.name])
        if nested is not None and f.metadata.get("cli", True):
            presets = f.metadata.get("presets") or {}
            preset_name = options.get("preset") or f.metadata.get("preset") or next(iter(presets), None)
            start = (lookup_preset(presets, preset_name, "preset") if presets
                     else (getattr(base, f.name) if base is not None else nested()))
            values[f.name] = config_from_options(nested, options, base=start)
            continue
        if f.name not in options:
            continue
        value = options[f.name]
        if value is None and base is not None:
            continue
        values[f.name] = _typed(value, hints[f.name], f.name)
    if base is not None:
        return dataclasses.replace(base, **values)  # type: ignore[type-var]
    return config_cls(**values)


def _label(config_cls: type) -> str:
    """``CycleGANConfig`` -> ``CycleGAN``: how error messages name a config."""
    name = config_cls.__name__
    for suffix in ("Config", "Options", "Params"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def parse_assignments(assignments: Iterable[str], config_cls: type | None = None) -> dict[str, Any]:
    """``["key=value", ...]`` as a dict, each value typed by ``config_cls``'s field (strings when None).

    Unknown keys are one error that lists the known ones.
    """
    hints = _hints(config_cls) if config_cls is not None else {}
    known = [f.name for f in dataclasses.fields(config_cls)] if config_cls is not None else []
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise EusaugError(f"Option {item!r} is not KEY=VALUE: write it like frequency_mhz=3.5.")
        if config_cls is None:
            out[key] = text
        elif key not in known:
            unknown.append(key)
        else:
            out[key] = parse_value(text, hints[key], key)
    if unknown and config_cls is not None:
        hints = "".join(did_you_mean(key, known) for key in unknown)
        raise EusaugError(f"Unknown {_label(config_cls)} option(s) {', '.join(unknown)}: known options are "
                          f"{', '.join(known)}.{hints}")
    return out


def override_options(config_cls: type) -> list[click.Option]:
    """One optional click option per field of ``config_cls``, for overriding a preset (None: keep it)."""
    hints = _hints(config_cls)
    return [_option(config_cls, f, hints[f.name], None, override=True)
            for f in dataclasses.fields(config_cls) if f.metadata.get("cli", True)]


def plugin_options(assignments: Iterable[str], plugin_cls: type) -> dict[str, Any]:
    """``--option KEY=VALUE`` strings for a plugin class, typed by what it declares.

    A plugin with an ``options_class`` is typed by that dataclass (a ``preset`` key passes
    through when its constructor takes one); any other plugin by the annotations of its
    constructor. Unknown keys are one error listing the known ones.
    """
    items = list(assignments)
    if not items:
        return {}
    signature = inspect.signature(plugin_cls)
    options_class = getattr(plugin_cls, "options_class", None)
    if options_class is not None:
        passthrough = {}
        rest = []
        for item in items:
            key, _, text = item.partition("=")
            if key.strip() == "preset" and "preset" in signature.parameters:
                passthrough["preset"] = text.strip()
            else:
                rest.append(item)
        return {**passthrough, **parse_assignments(rest, options_class)}
    try:
        hints = typing.get_type_hints(plugin_cls.__init__)
    except (NameError, TypeError):
        hints = {}
    named = {n: p for n, p in signature.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise EusaugError(f"Option {item!r} is not KEY=VALUE: write it like cone_deg=20.")
        if key not in named and not takes_any:
            name = getattr(plugin_cls, "name", plugin_cls.__name__)
            raise EusaugError(f"Plugin {name!r} has no option {key!r}: its options are "
                              f"{', '.join(named) or 'none'}.{did_you_mean(key, named)}")
        out[key] = parse_value(text, hints.get(key, str), key)
    return out


def build_options(options_class: type[_Config], values: Mapping[str, Any], owner: str | None = None) -> _Config:
    """An ``options_class`` instance from keyword ``values`` (strings read as the field types).

    The one way every plugin kind builds its options object: unknown keys are one
    :class:`EusaugError` naming them and the known ones; each value is then checked by
    the dataclass's own ``__post_init__`` (its one check).
    """
    hints = _hints(options_class)
    known = [f.name for f in dataclasses.fields(options_class)]  # type: ignore[arg-type]
    unknown = [key for key in values if key not in known]
    if unknown:
        label = owner or _label(options_class)
        raise EusaugError(f"Unknown {label} option(s) {', '.join(unknown)}: known options are {', '.join(known)}.")
    return options_class(**{key: _typed(value, hints[key], key) for key, value in values.items()})


def format_option(value: Any) -> str:
    """One option value as ``--option KEY=VALUE`` writes it (the inverse of :func:`parse_value`)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(format_option(v) for v in value)
    if isinstance(value, Mapping):
        return ",".join(f"{k}={format_option(v)}" for k, v in value.items())
    return str(value)


def option_strings(options: Any) -> list[str]:
    """``["key=value", ...]`` for every command-line field of an options dataclass instance."""
    return [f"{f.name}={format_option(getattr(options, f.name))}" for f in dataclasses.fields(options)
            if f.metadata.get("cli", True)]


def lookup_preset(presets: Mapping[str, _Config], name: str, what: str) -> _Config:
    """``presets[name]``, or one :class:`EusaugError` naming ``what`` (e.g. ``"raysim preset"``) and the choices."""
    try:
        return presets[name]
    except (KeyError, TypeError):
        raise EusaugError(f"Unknown {what} {name!r}: use one of {', '.join(presets)}."
                          f"{did_you_mean(str(name), presets)}") from None
