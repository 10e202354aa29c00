"""The package's shape: stages as subpackages, imports pointing one way, plugins on the public API only."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "eusaug"

#: The layers, lowest first: a module may import its own layer or lower ones, never higher.
LAYERS = ("errors", "version", "io", "ct", "geometry", "plugin", "poses", "translate", "mix", "evaluate",
          "pipeline", "cli")
#: The package facade and the old-path forwarder see everything by design.
TOP = {"eusaug", "eusaug._moved"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool = False) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every absolute import of eusaug in a file (function bodies too)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: list[tuple[str, list[str]]] = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return [(m, n) for m, n in found if m == "eusaug" or m.startswith("eusaug.")]


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_layer() -> None:
    stray = [_module_name(p) for p in _modules() if _module_name(p) not in TOP and _layer(_module_name(p)) < 0]
    assert stray == [], f"modules outside the stage subpackages: {stray}"


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for path in _modules():
        name = _module_name(path)
        if name in TOP:
            continue
        for imported, names in _imports(path):
            targets = [imported] if imported != "eusaug" else [f"eusaug.{n}" for n in names]
            for target in targets:
                if target == "eusaug" or _layer(target) > _layer(name):
                    upward.append(f"{name} -> {target}")
    assert upward == [], "imports pointing up the pipeline:\n" + "\n".join(upward)


def test_no_import_loop_between_modules() -> None:
    graph: dict[str, set[str]] = {}
    names = {_module_name(p) for p in _modules()}
    for path in _modules():
        name = _module_name(path)
        edges = set()
        for imported, imported_names in _imports(path, top_level_only=True):
            for candidate in [imported, *(f"{imported}.{n}" for n in imported_names)]:
                if candidate in names and candidate != name:
                    edges.add(candidate)
        graph[name] = edges
    # A package's __init__ imports its modules, so a module importing its own package is a loop too.
    state: dict[str, int] = {}
    loops: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                loops.append(" -> ".join([*trail[trail.index(nxt):], nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert loops == [], "import loops:\n" + "\n".join(loops)


def _public_names(module: str) -> set[str]:
    return set(getattr(importlib.import_module(module), "__all__", ()))


@pytest.mark.parametrize("folder", ["plugins", "examples"])
def test_plugins_and_examples_use_only_the_public_api(folder: str) -> None:
    """``eusaug``, ``eusaug.errors`` or a stage subpackage, and only names in its ``__all__``."""
    wrong = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for imported, names in _imports(path):
            parts = imported.split(".")
            if len(parts) > 2 or (len(parts) == 2 and parts[1] not in LAYERS):
                wrong.append(f"{path.relative_to(REPO)}: {imported} (a private module)")
                continue
            if imported == "eusaug.errors":
                continue
            missing = sorted(set(names) - _public_names(imported) - {"*"})
            if missing:
                wrong.append(f"{path.relative_to(REPO)}: {', '.join(missing)} not public in {imported}")
    assert wrong == [], "\n".join(wrong)


def test_each_subpackage_exports_what_it_lists() -> None:
    for sub in LAYERS[2:-1]:
        module = importlib.import_module(f"eusaug.{sub}")
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert missing == [], f"eusaug.{sub}.__all__ names missing: {missing}"


def test_old_module_paths_forward_with_a_warning() -> None:
    import eusaug._moved as moved

    for old, new in moved.MOVED.items():
        with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
            module = importlib.import_module(old)
            public = [n for n in dir(importlib.import_module(new)) if not n.startswith("_")]
            assert getattr(module, public[0]) is getattr(importlib.import_module(new), public[0])
        import sys

        sys.modules.pop(old, None)
