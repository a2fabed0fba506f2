"""The import graph keeps the seams: core, components and bundled modules meet only in public.

Read from the source (every import, also lazy ones inside functions), so a rule holds
whether or not a code path runs in the suite.

- The core (everything outside ``pymodular.modules`` and ``pymodular.cli``) never imports
  a bundled module or the command line.
- Only the package itself, the testing kit and the command line import
  ``pymodular.application`` at run time; everyone else names ``Application`` for the type
  checker only.
- Nobody imports a private name (``_x``) from another area, nor a private module of
  another package; the kernel behind the host protocol is the core's alone.
- Components and modules never read a private attribute of the application or the host.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

KERNEL = {
    "pymodular._kernel",
    "pymodular._lifecycle",
    "pymodular._shutdown",
    "pymodular._components",
}
"""The host's implementation: only the core may import it."""


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    names: tuple[str, ...]
    type_checking: bool
    line: int


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted((SRC / "pymodular").rglob("*.py")):
        source = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        checking: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                checking.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = tuple(a.name for a in node.names)
                found.append(Import(source, node.module, names, id(node) in checking, node.lineno))
            elif isinstance(node, ast.Import):
                found.extend(
                    Import(source, alias.name, (), id(node) in checking, node.lineno)
                    for alias in node.names
                )
    return [i for i in found if i.target.split(".")[0] == "pymodular"]


IMPORTS = _imports()


def area(module: str) -> str:
    """``core``, ``config``, ``tenancy``, ..., ``modules.router``, ``modules`` (shared kit)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1].startswith("_") or not (SRC / "pymodular" / parts[1]).is_dir():
        return "core"
    if parts[1] == "modules" and len(parts) > 2 and not parts[2].startswith("_"):
        return f"modules.{parts[2]}"
    return parts[1]


def _is_core(module: str) -> bool:
    # ``python -m pymodular`` is the command line's entry point.
    return not module.startswith(("pymodular.modules", "pymodular.cli", "pymodular.__main__"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _where(i: Import) -> str:
    return f"{i.source}:{i.line} imports {i.target} {list(i.names) or ''}"


def test_the_core_never_imports_a_bundled_module_or_the_command_line() -> None:
    bad = [
        _where(i)
        for i in IMPORTS
        if _is_core(i.source) and i.target.startswith(("pymodular.modules", "pymodular.cli"))
    ]
    assert not bad, "\n".join(bad)


def test_only_the_package_the_testing_kit_and_the_cli_import_the_application() -> None:
    allowed = ("pymodular.testing", "pymodular.cli")
    bad = [
        _where(i)
        for i in IMPORTS
        if i.target == "pymodular.application"
        and not i.type_checking
        and i.source != "pymodular"
        and not i.source.startswith(allowed)
    ]
    assert not bad, "\n".join(bad)


def test_nobody_imports_a_private_name_from_another_area() -> None:
    bad = [
        _where(i)
        for i in IMPORTS
        if area(i.source) != area(i.target) and any(_private(n) for n in i.names)
    ]
    assert not bad, "\n".join(bad)


def test_nobody_imports_a_private_module_of_another_package() -> None:
    def private_module_of_a_package(target: str) -> bool:
        parts = target.split(".")
        return len(parts) > 2 and any(_private(p) for p in parts[2:])

    bad = [
        _where(i)
        for i in IMPORTS
        if private_module_of_a_package(i.target)
        and area(i.source) != area(i.target)
        and not (area(i.source).startswith("modules") and area(i.target) == "modules")
    ]
    assert not bad, "\n".join(bad)


def test_only_the_core_imports_the_kernel_behind_the_host_protocol() -> None:
    bad = [_where(i) for i in IMPORTS if i.target in KERNEL and area(i.source) != "core"]
    assert not bad, "\n".join(bad)


def test_components_and_modules_never_read_a_private_attribute_of_the_app_or_host() -> None:
    holders = {"app", "host", "application", "self.app", "self._app", "self.host", "self._host"}
    bad: list[str] = []
    for path in sorted((SRC / "pymodular").rglob("*.py")):
        module = _module_name(path)
        if area(module) == "core":
            continue
        bad.extend(
            f"{module}:{node.lineno} reads {ast.unparse(node)}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Attribute)
            and _private(node.attr)
            and ast.unparse(node.value) in holders
        )
    assert not bad, "\n".join(bad)


def test_the_rules_see_lazy_imports_and_type_checking_blocks() -> None:
    lazy = [i for i in IMPORTS if i.source == "pymodular._components"]
    assert {"pymodular.tenancy", "pymodular.health", "pymodular.reload"} <= {i.target for i in lazy}
    assert any(i.type_checking for i in lazy)
    assert area("pymodular.modules._backends") == "modules"
    assert area("pymodular.modules.router._router") == "modules.router"
    assert area("pymodular._kernel") == area("pymodular.host") == "core"


PROBE = """
import asyncio, json, sys
from pymodular import Application, Module, Service

class Store:
    pass

class Stores(Module[None]):
    name = "stores"
    def provides(self):
        return [Service("store", factory=lambda instance: Store(), scope="instance")]

async def main():
    async with Application([Stores()]) as app:
        assert isinstance(app.services.get("store", instance="a"), Store)
        app.inspect()

asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.startswith("pymodular"))))
"""


@pytest.mark.parametrize("component", ["tenancy", "health", "reload"])
def test_an_app_without_a_component_never_imports_its_package(component: str) -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    assert not [m for m in loaded if m.split(".")[:2] == ["pymodular", component]]
