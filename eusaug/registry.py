"""The plugin registry: finds plugins through entry points, lists and resolves them by kind.

Bundled plugins (``eusaug_plugins``) are found exactly like third-party ones, through
the ``eusaug`` entry-point group. Notebooks and tests can add plugins at run time with
:meth:`Registry.register` (a module or object with hook implementations) or
:meth:`Registry.add` (a single class).
"""

from __future__ import annotations

import importlib.metadata as metadata
import types
from dataclasses import dataclass
from typing import Any

import pluggy

from eusaug import hookspecs
from eusaug.errors import EusaugError
from eusaug.interfaces import KINDS, Evaluator, Plugin, PoseSampler, Slicer, Translator

BASE_OF_KIND: dict[str, type[Plugin]] = {
    "sampler": PoseSampler,
    "slicer": Slicer,
    "translator": Translator,
    "evaluator": Evaluator,
}

#: The bundled default for each kind where one applies.
DEFAULTS = {"sampler": "stomach-cone", "slicer": "plane", "translator": "cyclegan"}


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

    def __init__(self, load_entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._sources: dict[str, _Source] = {}
        self._broken: list[PluginInfo] = []
        self._counter = 0
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
        for row in rows:
            if row.name == name:
                return row.cls  # type: ignore[return-value]
        available = ", ".join(r.name for r in rows) or "none installed"
        broken = [r for r in self.broken() if r.name == name]
        why = f" It failed to load: {broken[0].error}." if broken else ""
        raise EusaugError(f"No {kind} plugin named {name!r}.{why} Available: {available}.")

    def create(self, kind: str, name: str | None = None, **options: Any) -> Plugin:
        """Instantiate the plugin called ``name`` with ``options``."""
        return self.get(kind, name)(**options)
