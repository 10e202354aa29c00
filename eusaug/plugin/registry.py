"""The plugin registry: finds plugins through entry points, lists and resolves them by kind.

Bundled plugins (``eusaug_plugins``) are found exactly like third-party ones, through
the ``eusaug`` entry-point group. Notebooks and tests can add plugins at run time with
:meth:`Registry.register` (a module or object with hook implementations) or
:meth:`Registry.add` (a single class).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pluggy

import eusaug.plugin.hookspecs as hookspecs
from eusaug.errors import EusaugError, did_you_mean
from eusaug.plugin.interfaces import KINDS, Evaluator, Plugin, PoseSampler, Slicer, Translator

BASE_OF_KIND: dict[str, type[Plugin]] = {
    "sampler": PoseSampler,
    "slicer": Slicer,
    "translator": Translator,
    "evaluator": Evaluator,
}

#: The bundled default of each kind where one applies: every signature that defaults a
#: plugin name uses these, so a default changes in one place.
DEFAULT_SAMPLER = "stomach-cone"
DEFAULT_SLICER = "plane"
DEFAULT_TRANSLATOR = "cyclegan"
DEFAULTS = {"sampler": DEFAULT_SAMPLER, "slicer": DEFAULT_SLICER, "translator": DEFAULT_TRANSLATOR}

#: Comma-separated plugin or entry-point names to leave out (like ``pytest -p no:NAME``).
DISABLE_ENV = "EUSAUG_DISABLE_PLUGINS"

_P = TypeVar("_P", bound=Plugin)


@dataclass(frozen=True)
class PluginInfo:
    """One row of ``eusaug plugins``; ``error`` is set (and ``cls`` None) for a broken plugin."""

    kind: str
    name: str
    package: str
    version: str
    description: str
    cls: type[Plugin] | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Source:
    package: str
    version: str


class Registry:
    """Plugins by kind. Build one per task; it loads the entry-point group on creation."""

    def __init__(self, load_entry_points: bool = True, disabled: Iterable[str] | None = None) -> None:
        """``disabled``: plugin or entry-point names to leave out; default from ``$EUSAUG_DISABLE_PLUGINS``."""
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._sources: dict[str, _Source] = {}
        self._broken: list[PluginInfo] = []
        self._counter = 0
        if disabled is None:
            disabled = [n for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()]
        self.disabled = frozenset(n.strip() for n in disabled)
        for name in self.disabled:
            self._pm.set_blocked(name)
        if load_entry_points:
            self.load_entry_points()

    def load_entry_points(self, group: str = hookspecs.ENTRY_POINT_GROUP) -> None:
        """Import every plugin of ``group``; one that fails becomes a warning row."""
        for ep in metadata.entry_points(group=group):
            dist = ep.dist
            source = _Source(dist.name if dist else "?", dist.version if dist else "?")
            if self._pm.get_plugin(ep.name) is not None or self._pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
                self._pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken third-party plugin must not break eusaug
                self._broken.append(
                    PluginInfo("?", ep.name, source.package, source.version, "", None, f"{type(exc).__name__}: {exc}")
                )
                continue
            self._sources[ep.name] = source

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a module or object holding ``@hookimpl`` functions; return its name."""
        name = self._pm.register(plugin, name=name)
        if name is None:
            raise EusaugError(f"Plugin {plugin!r} is blocked or already registered.")
        self._sources.setdefault(name, _Source("(run time)", "-"))
        return name

    def add(self, kind: str, cls: type[Plugin]) -> None:
        """Register a single plugin class of ``kind`` at run time."""
        base = BASE_OF_KIND.get(kind)
        if base is None:
            raise EusaugError(f"Unknown plugin kind {kind!r}: use one of {', '.join(KINDS)}.")
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise EusaugError(f"{cls!r} is not a subclass of {base.__name__}.")
        hook_name = hookspecs.HOOK_OF_KIND[kind]
        holder = types.SimpleNamespace()
        setattr(holder, hook_name, hookspecs.hookimpl(lambda: [cls]))
        self._counter += 1
        self.register(holder, name=f"runtime-{kind}-{cls.name}-{self._counter}")

    def _rows(self, kind: str) -> list[PluginInfo]:
        hook = getattr(self._pm.hook, hookspecs.HOOK_OF_KIND[kind])
        base = BASE_OF_KIND[kind]
        rows: list[PluginInfo] = []
        for impl in hook.get_hookimpls():
            source = self._sources.get(impl.plugin_name, _Source("?", "?"))
            try:
                classes = list(impl.function())
            except Exception as exc:
                rows.append(PluginInfo(kind, impl.plugin_name, source.package, source.version, "", None,
                                       f"{type(exc).__name__}: {exc}"))
                continue
            for cls in classes:
                if not (isinstance(cls, type) and issubclass(cls, base)) or not getattr(cls, "name", None):
                    rows.append(PluginInfo(kind, repr(cls), source.package, source.version, "", None,
                                           f"not a {base.__name__} subclass with a name"))
                    continue
                if cls.name in self.disabled:
                    continue
                rows.append(PluginInfo(kind, cls.name, source.package, source.version, cls.description, cls))
        return sorted(rows, key=lambda r: r.name)

    def plugins(self, kind: str | None = None) -> list[PluginInfo]:
        """Plugins of ``kind`` (all kinds when None), broken ones included as rows with ``error``."""
        if kind is not None and kind not in KINDS:
            raise EusaugError(f"Unknown plugin kind {kind!r}: use one of {', '.join(KINDS)}.")
        rows: list[PluginInfo] = []
        for k in KINDS if kind is None else (kind,):
            rows.extend(self._rows(k))
        if kind is None:
            rows.extend(self._broken)
        return rows

    def broken(self) -> list[PluginInfo]:
        """Plugins whose import or hook failed."""
        return list(self._broken) + [r for k in KINDS for r in self._rows(k) if r.error]

    def get(self, kind: str, name: str | None = None) -> type[Plugin]:
        """The plugin class called ``name`` (the bundled default when None)."""
        if name is None:
            if kind not in DEFAULTS:
                raise EusaugError(f"There is no default {kind}: name one (eusaug plugins lists them).")
            name = DEFAULTS[kind]
        rows = [r for r in self.plugins(kind) if r.cls is not None]
        matches = [r for r in rows if r.name == name]
        if len(matches) > 1:
            packages = " and ".join(f"{r.package} {r.version} ({r.cls.__module__})" for r in matches if r.cls)
            raise EusaugError(
                f"Two {kind} plugins are named {name!r}: {packages}. Uninstall one, or leave one out with "
                f"{DISABLE_ENV}=<entry-point name>."
            )
        if matches and matches[0].cls is not None:
            return matches[0].cls
        available = ", ".join(r.name for r in rows) or "none installed"
        broken = [r for r in self.broken() if r.name == name]
        why = f" It failed to load: {broken[0].error}." if broken else ""
        off = f" It is turned off by {DISABLE_ENV}." if name in self.disabled else ""
        raise EusaugError(f"No {kind} plugin named {name!r}.{why}{off}{did_you_mean(name, [r.name for r in rows])} "
                          f"Available: {available}.")

    def create(self, kind: str, name: str | None = None, **options: Any) -> Plugin:
        """Instantiate the plugin called ``name`` with ``options``."""
        return self.get(kind, name)(**options)

    def _typed(self, kind: str, name: str | None, base: type[_P]) -> type[_P]:
        cls = self.get(kind, name)
        if not issubclass(cls, base):  # guaranteed by _rows; keeps type checkers honest
            raise EusaugError(f"Plugin {name!r} is not a {base.__name__}.")
        return cls

    # Typed accessors: callers get the kind's own class, no casts needed.
    def sampler(self, name: str | None = None) -> type[PoseSampler]:
        """The pose sampler class called ``name`` (default ``stomach-cone``)."""
        return self._typed("sampler", name, PoseSampler)

    def slicer(self, name: str | None = None) -> type[Slicer]:
        """The slicer class called ``name`` (default ``plane``)."""
        return self._typed("slicer", name, Slicer)

    def translator(self, name: str | None = None) -> type[Translator]:
        """The translator class called ``name`` (default ``cyclegan``)."""
        return self._typed("translator", name, Translator)

    def evaluator(self, name: str) -> type[Evaluator]:
        """The evaluator class called ``name``."""
        return self._typed("evaluator", name, Evaluator)

    def create_sampler(self, name: str | None = None, **options: Any) -> PoseSampler:
        """A pose sampler instance built with ``options``."""
        return self.sampler(name)(**options)

    def create_slicer(self, name: str | None = None, **options: Any) -> Slicer:
        """A slicer instance built with ``options``."""
        return self.slicer(name)(**options)

    def backbones(self) -> dict[str, Any]:
        """Feature backbone factories by name, from every plugin's ``eusaug_feature_backbones``.

        A name given by two plugins is one :class:`EusaugError` naming both.
        """
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for impl in self._pm.hook.eusaug_feature_backbones.get_hookimpls():
            for name, factory in dict(impl.function() or {}).items():
                if name in self.disabled:
                    continue
                if name in found:
                    raise EusaugError(f"Two plugins give the feature backbone {name!r}: {owners[name]} and "
                                      f"{impl.plugin_name}. Leave one out with {DISABLE_ENV}=<entry-point name>.")
                found[name], owners[name] = factory, impl.plugin_name
        return found

    def create_evaluator(self, name: str, **options: Any) -> Evaluator:
        """An evaluator instance built with ``options``."""
        return self.evaluator(name)(**options)
