"""The package reads as the flow (sources → checks → warehouse → marts → reports): no import cycles
between its modules, no Airflow inside it, and every source package of the same shape."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "include" / "tthc"


def _module_name(path: Path) -> str:
    parts = ["tthc", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at its top or inside a function (a lazy import still ties the two)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return found


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts}


def test_no_import_cycles_between_the_packages_modules():
    graph = {name: {m for m in _imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}
    # A package's __init__ re-exporting its own modules is not a cycle of meaning: drop parent → child edges.
    graph = {name: {m for m in deps if not m.startswith(name + ".")} for name, deps in graph.items()}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' → '.join(exc.args[1])}")


def test_the_package_never_imports_airflow():
    offenders = {name for name, path in MODULES.items() if any(m.split(".")[0] == "airflow" for m in _imports(path))}
    assert not offenders


def test_every_source_is_a_package_of_the_same_shape():
    sources = [p for p in (PACKAGE / "sources").iterdir() if (p / "__init__.py").exists()]
    assert {p.name for p in sources} >= {"shared_drive", "portal"}
    for source in sources:
        modules = {p.stem for p in source.glob("*.py")}
        # find or fetch what the source offers → read it → stage it in the warehouse
        assert modules & {"discover", "fetch"}, source.name
        assert "stage" in modules, source.name
