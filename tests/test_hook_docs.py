"""The hook docs match the interfaces: every hook documented, every method the core calls declared."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import eusaug.plugin.hookspecs as hookspecs
from eusaug.plugin import interfaces
from eusaug.plugin.registry import BASE_OF_KIND

PACKAGE = Path(interfaces.__file__).resolve().parents[1]
#: Names the core uses for a plugin class or instance in ``getattr(NAME, "attribute")``.
PLUGIN_NAMES = {"cls", "plugin_cls", "instance", "translator", "sampler", "slicer", "evaluator"}


def _hooks() -> dict[str, object]:
    return {name: f for name, f in vars(hookspecs).items()
            if callable(f) and name.startswith("eusaug_") and hasattr(f, "eusaug_spec")}


def _declared(base: type) -> set[str]:
    """Public methods and attributes a plugin kind's interface (and its subclasses here) declares."""
    names: set[str] = set()
    for cls in [base, *[c for c in vars(interfaces).values() if isinstance(c, type) and issubclass(c, base)]]:
        names |= {n for n in vars(cls) if not n.startswith("_")} | set(getattr(cls, "__annotations__", {}))
    return names | {n for n in vars(interfaces.Plugin) if not n.startswith("_")} | {"name", "description"}


def test_every_hook_is_documented() -> None:
    hooks = _hooks()
    assert set(hookspecs.HOOK_OF_KIND.values()) <= set(hooks)
    for name, hook in hooks.items():
        doc = inspect.getdoc(hook) or ""
        assert len(doc.split()) >= 15, f"{name} has no real docstring"


def test_each_kinds_hook_names_the_methods_its_interface_requires() -> None:
    for kind, hook_name in hookspecs.HOOK_OF_KIND.items():
        base = BASE_OF_KIND[kind]
        doc = inspect.getdoc(getattr(hookspecs, hook_name)) or ""
        assert base.__name__ in doc, f"{hook_name} does not name {base.__name__}"
        required = {n for n in getattr(base, "__abstractmethods__", ())}
        required |= {n for n in ("run", "load", "options_class") if n in vars(base)}
        missing = sorted(n for n in required if f"{n}(" not in doc and f"``{n}``" not in doc)
        assert missing == [], f"{hook_name}'s docs miss {missing}"
    evaluator_doc = inspect.getdoc(hookspecs.eusaug_evaluators) or ""
    assert "evaluate(output_dir" not in evaluator_doc  # the old two-entry-point contract is gone


def _getattr_names(path: Path) -> list[tuple[str, str]]:
    """``(variable, attribute)`` of each ``getattr(variable, "attribute", ...)`` in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)):
            target = node.args[0]
            if isinstance(target, ast.Call):  # registry.translator(name): a translator class
                func = target.func
                label = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            else:
                label = target.id if isinstance(target, ast.Name) else ""
            found.append((label, node.args[1].value))
    return found


def test_every_plugin_attribute_the_core_reads_is_declared_on_an_interface() -> None:
    declared = set().union(*(_declared(base) for base in BASE_OF_KIND.values()))
    undeclared = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for variable, attribute in _getattr_names(path):
            if variable in PLUGIN_NAMES and attribute not in declared:
                undeclared.append(f"{path.relative_to(PACKAGE.parent)}: {variable}.{attribute}")
    assert undeclared == []
