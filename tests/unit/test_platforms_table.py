"""docs/platforms.md: every platform behaviour our sandboxes model cites the platform's document and a live test."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs/platforms.md"
ROW = re.compile(r"^\| (?P<behaviour>[^|]+?) \| (?P<document>[^|]+?) \| (?P<sandbox>[^|]+?) \| (?P<tests>[^|]+?) \|$")
NODE_ID = re.compile(r"`(tests/[^`]+?\.py)::(\w+)(?:\[[^`]*\])?`")


def _rows() -> list[dict[str, str]]:
    lines = TABLE.read_text().splitlines()
    rows = [match.groupdict() for line in lines if (match := ROW.match(line))]
    return [row for row in rows if row["behaviour"] not in ("behaviour", "---")]


def test_the_table_has_rows_for_every_platform_we_call():
    behaviours = " ".join(row["behaviour"] for row in _rows())
    for platform in ("Google Ads", "Data Manager", "Meta", "SES", "Mailbox"):
        assert platform in behaviours, f"no row for {platform}"


def test_each_row_cites_the_platforms_own_document():
    for row in _rows():
        assert re.search(r"https?://\S+|RFC \d+", row["document"]), row["behaviour"]


def test_each_cited_test_exists():
    for row in _rows():
        node_ids = NODE_ID.findall(row["tests"])
        assert node_ids, f"{row['behaviour']}: no test cited"
        for path, name in node_ids:
            source = (ROOT / path).read_text()
            assert re.search(rf"^(async )?def {re.escape(name)}\(", source, re.MULTILINE), f"{path}::{name} does not exist"
