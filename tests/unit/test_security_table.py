"""docs/security.md: every test a guarantee cites exists (a renamed test must not leave a row proving nothing)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?(?:\[[^`]*\])?`")


def _citations() -> list[tuple[str, str | None]]:
    cited = []
    for line in (ROOT / "docs/security.md").read_text().splitlines():
        if not line.startswith("|"):
            continue
        path = None
        for match in CITATION.finditer(line):
            path = match.group(1) or path  # `::name` after a path names a test of that file
            if match.group(1) or (match.group(2) and path):
                cited.append((path, match.group(2)))
    return cited


def test_every_cited_test_file_and_test_exists():
    cited = _citations()
    assert len(cited) > 50
    for path, name in cited:
        source = (ROOT / path).read_text()
        if name:
            assert re.search(rf"^(async )?def {name}\(|^{name} = ", source, re.MULTILINE), f"{path}::{name}"
