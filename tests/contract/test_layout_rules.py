"""The layout's rules, enforced: who may import whom, no import cycle, modules and functions small.

Dependencies point one way (STYLE.md): services → lgsp-common → lgsp-vn; the CLI → lgsp-common;
the simulators → the CLI's client code, lgsp-common, lgsp-vn; only the dev kit imports services.
Each rule is checked twice: from the source (every import statement, including the ones under
`if TYPE_CHECKING:` and inside functions) and from the installed packages' metadata. Each
checker is first run on a small tree made to break it, so a checker that finds nothing fails.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"lgsp_registry", "lgsp_gateway", "ioc_collector", "population_adapter"}
LIBRARIES = {"lgsp_common", "lgsp_vn", "lgsp_cli", "lgsp_devkit", "lgsp_simulators"}
FIRST_PARTY = SERVICES | LIBRARIES
# Which first-party packages each package may import (itself always).
ALLOWED: dict[str, set[str]] = {
    "lgsp_vn": set(),
    "lgsp_common": {"lgsp_vn"},
    "lgsp_cli": {"lgsp_common", "lgsp_vn"},
    "lgsp_simulators": {"lgsp_cli", "lgsp_common", "lgsp_vn"},
    "lgsp_devkit": FIRST_PARTY,
} | {service: {"lgsp_common", "lgsp_vn"} for service in SERVICES}
DISTRIBUTIONS = {
    "lgsp_registry": "lgsp-registry",
    "lgsp_gateway": "lgsp-gateway",
    "ioc_collector": "ioc-collector",
    "population_adapter": "population-adapter",
    "lgsp_common": "lgsp-common",
    "lgsp_vn": "lgsp-vn",
    "lgsp_cli": "lgsp-cli",
    "lgsp_devkit": "lgsp-devkit",
    "lgsp_simulators": "lgsp-simulators",
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def source_roots(root: Path) -> list[Path]:
    """Return every package's `src/` folder in the workspace."""
    return sorted(p for p in root.glob("*/*/src") if p.is_dir()) + sorted(
        p for p in root.glob("simulators/src") if p.is_dir()
    )


def modules(src_roots: Iterable[Path]) -> dict[str, Path]:
    """Map every module's dotted name to its file."""
    found: dict[str, Path] = {}
    for src in src_roots:
        for path in src.rglob("*.py"):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Yield every absolute module name a file imports (anywhere in it), with its line."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno
            yield base, node.lineno


def forbidden_imports(src_roots: Iterable[Path]) -> list[str]:
    """Return 'module:line imports name' for each import the dependency rules forbid."""
    found = []
    for module, path in modules(src_roots).items():
        owner = module.split(".")[0]
        for name, line in imported_names(module, path):
            target = name.split(".")[0]
            if target in FIRST_PARTY and target != owner and target not in ALLOWED[owner]:
                found.append(f"{module}:{line} imports {name}")
    return sorted(set(found))


def import_graph(src_roots: Iterable[Path]) -> dict[str, set[str]]:
    """Return each first-party module's edges to the first-party modules it imports."""
    known = modules(src_roots)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for module, path in known.items():
        for imported, _ in imported_names(module, path):
            # `from a.b import c` names module a.b.c when it exists, else something in a.b.
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def long_functions(paths: Iterable[Path], limit: int) -> list[str]:
    """Return 'file:line name (n lines)' for every function or method longer than the limit."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append(f"{path}:{node.lineno} {node.name} ({length} lines)")
    return found


def long_modules(paths: Iterable[Path], limit: int) -> list[str]:
    """Return 'file (n lines)' for every module longer than the limit."""
    found = []
    for path in paths:
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            found.append(f"{path} ({count} lines)")
    return found


def python_files(root: Path) -> list[Path]:
    """Every Python file of the repository that is ours (not caches, virtualenvs, data)."""
    skip = re.compile(r"(^|/)(\.[^/]+|var|node_modules|test-artifacts)(/|$)")
    return sorted(p for p in root.rglob("*.py") if not skip.search(p.relative_to(root).as_posix()))


# ---- the checkers catch what they are for -------------------------------------------------


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    """A workspace whose CLI imports a service and whose service has a TYPE_CHECKING cycle."""
    files = {
        "libs/lgsp-cli/src/lgsp_cli/main.py": "from lgsp_gateway.settings import X\n",
        "services/gw/src/lgsp_gateway/__init__.py": "",
        "services/gw/src/lgsp_gateway/settings.py": "X = 1\n",
        "services/gw/src/lgsp_gateway/a.py": "from lgsp_gateway import b\n",
        "services/gw/src/lgsp_gateway/b.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import thing\n"
        ),
        "simulators/src/lgsp_simulators/run.py": (
            "def f():\n    import ioc_collector.main\n" + "    x = 1\n" * 61
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_checkers_catch_a_forbidden_import_a_cycle_and_a_long_function(
    broken_tree: Path,
) -> None:
    roots = source_roots(broken_tree)
    assert forbidden_imports(roots) == [
        "lgsp_cli.main:1 imports lgsp_gateway.settings",
        "lgsp_cli.main:1 imports lgsp_gateway.settings.X",
        "lgsp_simulators.run:2 imports ioc_collector.main",
    ]
    assert cycles(import_graph(roots)) == [["lgsp_gateway.a", "lgsp_gateway.b"]]
    files = python_files(broken_tree)
    assert [f.split(" ")[-3] for f in long_functions(files, MAX_FUNCTION_LINES)] == ["f"]
    assert long_modules(files, 10) == [
        f"{broken_tree}/simulators/src/lgsp_simulators/run.py (63 lines)"
    ]


# ---- the rules hold on the repository ----------------------------------------------------


def test_every_package_of_the_workspace_is_covered() -> None:
    tops = {name.split(".")[0] for name in modules(source_roots(ROOT))}
    assert tops == FIRST_PARTY


def test_no_package_imports_what_the_dependency_rules_forbid() -> None:
    assert forbidden_imports(source_roots(ROOT)) == []


@pytest.mark.parametrize("package", sorted(FIRST_PARTY - {"lgsp_devkit"}))
def test_no_package_but_the_dev_kit_depends_on_a_service(package: str) -> None:
    required = {
        re.split(r"[\s;<>=!\[]", line, maxsplit=1)[0]
        for line in requires(DISTRIBUTIONS[package]) or []
    }
    allowed = {DISTRIBUTIONS[name] for name in ALLOWED[package]}
    first_party = set(DISTRIBUTIONS.values())
    assert required & first_party <= allowed, f"{package} requires {required & first_party}"


def test_the_dev_kit_is_what_brings_the_services() -> None:
    required = set(requires("lgsp-devkit") or [])
    assert {DISTRIBUTIONS[s] for s in SERVICES} <= {r.split(">")[0] for r in required}


def test_no_import_cycle_in_services_or_libraries() -> None:
    assert cycles(import_graph(source_roots(ROOT))) == []


def test_no_source_function_over_60_lines() -> None:
    sources = [p for root in source_roots(ROOT) for p in root.rglob("*.py")]
    assert long_functions(sources, MAX_FUNCTION_LINES) == []


def test_no_module_over_400_lines() -> None:
    assert long_modules(python_files(ROOT), MAX_MODULE_LINES) == []


# ---- every service is built one way -------------------------------------------------------

SERVICE_PACKAGES = sorted(ROOT.glob("services/*/src/*/main.py"))
ENTRYPOINT_BLOCK = (
    "app_factory = entrypoint.app_factory",
    "run = entrypoint.run",
)


def test_there_are_four_services() -> None:
    assert {p.parent.name for p in SERVICE_PACKAGES} == SERVICES


@pytest.mark.parametrize("main", SERVICE_PACKAGES, ids=lambda p: p.parent.name)
def test_every_service_has_the_same_shape(main: Path) -> None:
    package = main.parent
    for part in ("bootstrap.py", "settings.py", "metrics.py", "api/deps.py", "domain", "adapters"):
        assert (package / part).exists(), f"{package.name} has no {part}"
    assert (package.parents[1] / "tests" / "unit").is_dir()
    assert (package.parents[1] / "README.md").is_file()


@pytest.mark.parametrize("main", SERVICE_PACKAGES, ids=lambda p: p.parent.name)
def test_every_main_builds_the_app_and_declares_the_one_entrypoint(main: Path) -> None:
    text = main.read_text(encoding="utf-8")
    tree = ast.parse(text)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "create_app" in functions
    assert not functions & {"run", "app_factory"}, "the entrypoint lives in lgsp_common"
    assert "ServiceEntrypoint(" in text
    for line in ENTRYPOINT_BLOCK:
        assert line in text
    assert "configure_logging" not in text and "uvicorn" not in text


@pytest.mark.parametrize("main", SERVICE_PACKAGES, ids=lambda p: p.parent.name)
def test_every_composition_root_is_one_async_context_manager_with_an_exit_stack(
    main: Path,
) -> None:
    tree = ast.parse((main.parent / "bootstrap.py").read_text(encoding="utf-8"))
    roots = [
        node
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "bootstrap"
    ]
    assert len(roots) == 1, "bootstrap.py defines `async def bootstrap`"
    decorators = [ast.unparse(d) for d in roots[0].decorator_list]
    assert any(d.endswith("asynccontextmanager") for d in decorators)
    assert "AsyncExitStack" in ast.unparse(roots[0])
    main_text = main.read_text(encoding="utf-8")
    assert "bootstrap(" in main_text and "app.state.runtime" in main_text
