"""The shape of the code base: no import loop between files, layers import downward only,
no production module over 500 lines.

The import graph is read with ``ast`` from the source files (nothing is imported),
function-local imports included: a loop closed inside a function is still a loop a
reader has to follow.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "config", "models", "router", "sla", "notifications", "security", "migrations")
# Layering (ARCHITECTURE.md): app -> router/sla/notifications -> models -> config.
NEVER_FROM_APP = ("router", "sla", "notifications", "models", "config")
MAX_LINES = 500


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    return {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }


def imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Return the dotted names an import statement may refer to, most specific first."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    return [f"{source}.{alias.name}" for alias in node.names] + [source]


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """Return the project module ``name`` is (or lives in), None outside the project."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    modules = project_files(root, packages)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            candidates = imported(node, name, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                # ``from package import submodule`` imports the submodule; ``from module
                # import name`` imports the module.
                *members, source = candidates
                submodules = [m for m in members if m in modules]
                targets = submodules + ([source] if len(submodules) < len(members) else [])
            else:
                targets = candidates
            for target in targets:
                found = resolve(target, modules)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_check_finds_loops_through_local_relative_and_submodule_imports(
    tmp_path: Path,
) -> None:
    files = {
        "shop/__init__.py": "",
        "shop/cart.py": "import json\nfrom shop.price import total\n",
        # Closed inside a function, and through a relative import.
        "shop/price.py": "def total():\n    from .cart import items\n",
        "shop/stock/__init__.py": "from . import level\n",
        "shop/stock/level.py": "import shop.stock\n",
        "shop/alone.py": "from shop import cart\n",
        "shop/both.py": "from shop.stock import level, LOW\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, ("shop",))
    assert graph["shop.alone"] == {"shop.cart"}
    assert graph["shop.both"] == {"shop.stock", "shop.stock.level"}
    assert cycles(graph) == [["shop.cart", "shop.price"], ["shop.stock", "shop.stock.level"]]


def test_no_import_cycle_between_files() -> None:
    loops = cycles(import_graph())
    assert not loops, "import loops between files:\n" + "\n".join(
        " <-> ".join(loop) for loop in loops
    )


def test_lower_layers_never_import_the_application() -> None:
    wrong = [
        f"{source} imports {target}"
        for source, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if package(source) in NEVER_FROM_APP and package(target) == "app"
    ]
    assert not wrong, "\n".join(wrong)


def test_config_imports_no_project_package() -> None:
    wrong = [
        f"{source} imports {target}"
        for source, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if package(source) == "config" and package(target) != "config"
    ]
    assert not wrong, "\n".join(wrong)


def test_no_production_module_over_500_lines() -> None:
    versions = ROOT / "migrations" / "versions"
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in project_files().values()
        if versions not in path.parents
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
