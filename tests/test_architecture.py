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


def _module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, runtime_only: bool = False) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every absolute import of eusaug in a file, function bodies too.

    ``runtime_only`` leaves out ``if TYPE_CHECKING:`` blocks: they never run, so they cannot close a circle.
    """
    tree = ast.parse(path.read_text())
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node):
                node.body = []
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return [(m, n) for m, n in found if m == "eusaug" or m.startswith("eusaug.")]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


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


#: Import circles other helpers are breaking right now; the lead empties this after merging.
#: Each entry is the circle's modules, sorted. Nothing else may be added here.
KNOWN_CIRCLES_BEING_FIXED: set[tuple[str, ...]] = set()
#: Modules other helpers are splitting right now (paths from the repository root); the lead
#: empties this after merging. Nothing else may be added here.
LONG_MODULES_BEING_SPLIT: set[str] = set()
#: A module longer than this has more than one job: split it by concern.
MAX_MODULE_LINES = 450


def _import_graph(files: list[Path], root: Path = REPO) -> dict[str, set[str]]:
    """Module -> the package modules it imports, at the top or inside a function."""
    names = {_module_name(p, root) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        name = _module_name(path, root)
        edges = set()
        for imported, imported_names in _imports(path, runtime_only=True):
            for candidate in [imported, *(f"{imported}.{n}" for n in imported_names)]:
                if candidate in names and candidate != name:
                    edges.add(candidate)
        graph[name] = edges
    return graph


def _circles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Every group of modules that reach each other through imports (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.add(tuple(sorted(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_sees_function_level_imports(tmp_path: Path) -> None:
    """A lazy import inside a function closes a circle as surely as one at the top."""
    package = tmp_path / "eusaug"
    (package / "evaluate").mkdir(parents=True)
    (package / "evaluate" / "__init__.py").write_text("")
    (package / "evaluate" / "a.py").write_text("from eusaug.evaluate.b import B\n")
    (package / "evaluate" / "b.py").write_text("def f():\n    from eusaug.evaluate.a import A\n")
    (package / "evaluate" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from eusaug.evaluate.a import A\n")
    graph = _import_graph(sorted(package.rglob("*.py")), root=tmp_path)
    assert _circles(graph) == {("eusaug.evaluate.a", "eusaug.evaluate.b")}


def test_no_import_circle_between_modules() -> None:
    """Function-level imports included; a package's ``__init__`` imports its modules, so a
    module importing its own package is a circle too."""
    circles = _circles(_import_graph(_modules()))
    unexpected = sorted(circles - KNOWN_CIRCLES_BEING_FIXED)
    assert unexpected == [], "import circles:\n" + "\n".join(" <-> ".join(c) for c in unexpected)
    fixed = sorted(KNOWN_CIRCLES_BEING_FIXED - circles)
    assert fixed == [], f"circles now broken: remove them from KNOWN_CIRCLES_BEING_FIXED: {fixed}"


def test_no_module_is_too_long() -> None:
    files = [*_modules(), *sorted((REPO / "plugins").rglob("*.py"))]
    long = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in files}
    over = sorted(f"{name}: {n} lines" for name, n in long.items()
                  if n > MAX_MODULE_LINES and name not in LONG_MODULES_BEING_SPLIT)
    assert over == [], f"modules over {MAX_MODULE_LINES} lines (split them by concern):\n" + "\n".join(over)
    split = sorted(name for name in LONG_MODULES_BEING_SPLIT if long.get(name, 0) <= MAX_MODULE_LINES)
    assert split == [], f"modules now short enough (or gone): remove them from LONG_MODULES_BEING_SPLIT: {split}"


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
