"""One owner per key format: each DynamoDB key prefix (`AGG#`, `MEMBER#`, `INVITE#`, …) is built by one module of
the layer, and everyone else calls its functions. The table lives in docs/data-model.md; this test reads it and
every string the layer's code writes (docstrings and comments aside)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/common/python"
PREFIX = re.compile(r"(?<![A-Za-z0-9_])([A-Z][A-Z_]*)#")
ROW = re.compile(r"^\| `([A-Z_]+)#` \| `(attract(?:\.\w+)+)` \|", re.MULTILINE)


def _owners() -> dict[str, str]:
    text = (ROOT / "docs/data-model.md").read_text()
    section = text[text.index("## One owner per key format"):]
    return dict(ROW.findall(section))


def _prefixes_written() -> dict[str, set[str]]:
    """prefix -> the modules whose code (not docstrings) holds a string with it."""
    written: dict[str, set[str]] = {}
    for path in sorted(LAYER.rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        module = ".".join(path.relative_to(LAYER).with_suffix("").parts)
        for node in ast.walk(tree):  # f-strings included: their literal parts are Constants too
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for match in PREFIX.finditer(node.value):
                    written.setdefault(match.group(1), set()).add(module)
    return written


def test_each_key_prefix_is_written_by_its_owner_only():
    owners = _owners()
    assert len(owners) >= 20, "the owners table of docs/data-model.md was not found"
    strays = {prefix: sorted(modules - {owners.get(prefix)}) for prefix, modules in _prefixes_written().items()
              if modules - {owners.get(prefix)}}
    assert strays == {}, f"key prefixes built outside their owner (or missing from the table): {strays}"


def test_every_owner_in_the_table_builds_its_prefix():
    written = _prefixes_written()
    stale = {prefix: owner for prefix, owner in _owners().items() if owner not in written.get(prefix, set())}
    assert stale == {}, f"the table names owners that do not build these prefixes: {stale}"
