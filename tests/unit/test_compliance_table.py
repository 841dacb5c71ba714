"""docs/compliance.md lists every employment-ad rule of attract.campaigns.policy, with its source and live tests."""

import re
from pathlib import Path

from attract.campaigns import policy

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs/compliance.md"
ROW = re.compile(r"^\| `(?P<rule>[a-z_.0-9]+)` \| (?P<platform>\w+) \| (?P<what>.+?) \| (?P<source>\S+) \| (?P<tests>.+) \|$")


def _rows() -> dict[str, dict[str, str]]:
    rows = {}
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line)
        if match:
            assert match["rule"] not in rows, f"{match['rule']} listed twice"
            rows[match["rule"]] = match.groupdict()
    return rows


def test_every_rule_of_the_module_is_in_the_table_and_nothing_else():
    assert set(_rows()) == set(policy.RULES_BY_ID)


def test_each_row_names_the_rule_platform_and_source():
    for rule_id, row in _rows().items():
        rule = policy.RULES_BY_ID[rule_id]
        assert row["platform"] == rule.platform, rule_id
        assert row["source"] == rule.source, rule_id


def test_each_named_test_exists_and_mentions_its_rule():
    for rule_id, row in _rows().items():
        node_ids = re.findall(r"`([^`]+::[^`]+)`", row["tests"])
        assert node_ids, f"{rule_id} has no test"
        for node_id in node_ids:
            path, name = node_id.split("::")
            source = (ROOT / path).read_text()
            assert re.search(rf"^def {re.escape(name)}\(", source, re.MULTILINE), f"{node_id} does not exist"
            assert rule_id in source, f"{path} never mentions {rule_id}"
