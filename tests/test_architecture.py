"""The package's shape (docs/architecture.md): product code only in src/, no import cycles.

Every module under src/vllm_models is used by product code: another module, a script under scripts/, the
Makefile (`python -m vllm_models.<module>`) or the console script in pyproject.toml; a module only the
tests import belongs under tests/.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from vllm_models import toolchain

PACKAGE = toolchain.ROOT / "src" / "vllm_models"
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def imported_modules(path: Path) -> set[str]:
    """The vllm_models modules a Python file imports (relative or absolute)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module is None or node.module == "vllm_models":
                found |= {alias.name for alias in node.names}
            elif node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.module and node.module.startswith("vllm_models."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("vllm_models.")}
    return found & set(MODULES)


def graph() -> dict[str, set[str]]:
    return {name: imported_modules(PACKAGE / f"{name}.py") - {name} for name in MODULES}


def entry_points() -> set[str]:
    text = (toolchain.ROOT / "Makefile").read_text() + (toolchain.ROOT / "pyproject.toml").read_text()
    return set(re.findall(r"-m vllm_models\.(\w+)", text)) | set(re.findall(r'"vllm_models\.(\w+):main"', text))


def test_every_module_under_src_is_used_by_product_code_not_only_by_tests():
    users = {name: set() for name in MODULES}
    for module, imports in graph().items():
        for imported in imports:
            users[imported].add(f"src/vllm_models/{module}.py")
    for script in (toolchain.ROOT / "scripts").rglob("*.py"):
        for imported in imported_modules(script):
            users[imported].add(str(script.relative_to(toolchain.ROOT)))
    unused = [name for name in MODULES if not users[name] and name not in entry_points()]
    assert unused == [], (f"src/vllm_models modules no product code imports (move test-only code under tests/, "
                          f"or delete it): {unused}")


def test_the_package_has_no_import_cycles():
    edges = graph()
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for imported in sorted(edges[module]):
            if imported in path:
                cycles.append(" -> ".join(path[path.index(imported):] + [imported]))
            elif len(path) < len(MODULES):
                visit(imported, path + [imported])
    for module in MODULES:
        visit(module, [module])
    assert cycles == [], "import cycles: " + "; ".join(sorted(set(cycles)))


def test_product_code_never_imports_the_tests():
    offenders = [path.name for path in PACKAGE.glob("*.py")
                 if re.search(r"^\s*(from|import)\s+(tests|conftest|charts|strategies|cli_repo)\b", path.read_text(), re.M)]
    assert offenders == []
