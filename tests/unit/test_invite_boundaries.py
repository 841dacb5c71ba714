"""Ports in the domain, adapters in providers: `attract.invites` never imports `attract.providers` (not even lazily,
inside a function), the source adapters depend on the domain, and no import cycle joins the two."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/common/python"


def _module(path: Path) -> str:
    parts = path.relative_to(LAYER).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every attract module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("attract.")}


def _graph(*packages: str) -> dict[str, set[str]]:
    modules = {_module(path): path for package in packages
               for path in (LAYER / package.replace(".", "/")).rglob("*.py")}
    return {name: {imported for imported in _imports(path) if imported in modules} for name, path in modules.items()}


def test_the_invites_domain_never_imports_a_provider():
    offenders = {name: sorted(imported for imported in _imports(path) if imported.startswith("attract.providers"))
                 for path in (LAYER / "attract/invites").rglob("*.py") if (name := _module(path))}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_source_adapters_depend_on_the_domain_and_nothing_imports_in_a_circle():
    graph = _graph("attract.invites", "attract.providers")
    assert "attract.invites.ports" in graph["attract.providers.sources"]  # the registry names the port
    assert all("attract.invites.sources" in graph[f"attract.providers.sources.{kind}"]
               for kind in ("postgresql", "mysql", "s3", "dynamodb", "sqlite"))
    # Depth-first search for a cycle through any module of the two packages
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                return [*path, name, imported]
            if imported not in state and (cycle := visit(imported, [*path, name])):
                return cycle
        state[name] = "done"
        return None

    cycles = [cycle for name in sorted(graph) if name not in state and (cycle := visit(name, []))]
    assert cycles == []


def test_importing_every_invites_module_loads_no_provider():
    # The runtime view of the same rule: a function's logic can be loaded (and tested) without any adapter
    modules = sorted(_module(path) for path in (LAYER / "attract/invites").rglob("*.py"))
    probe = (f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
             "print(sorted(m for m in sys.modules if m.startswith('attract.providers')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False,
                            env={"PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
