"""A body over a byte bound is a 422 naming the field and the rule, and leaves nothing behind (issue 13, item 3)."""

from tests.integration.test_invite_api import _body, _call, _event, _mapping, api, plan  # noqa: F401 - fixtures


def _items(local_aws) -> int:
    return local_aws.client("dynamodb").scan(TableName=local_aws.refs["AttractTable"], Select="COUNT")["Count"]


def test_100000_emoji_in_an_invitation_html_are_a_422_and_leave_no_link_behind(api, local_aws):  # noqa: F811 - the fixture
    # Given the finding's campaign: 100,000 emoji are within the html's 100,000 characters, 400,000 bytes
    before = _items(local_aws)
    # When it is created (this was a 500, with the campaign's tracked link and registrations left behind)
    status, body = _call(api, _event("POST", "/invite-campaigns", _body(mapping=_mapping(), html="😀" * 100_000)))
    # Then html is named with its rule, and the table holds nothing more
    assert status == 422, body
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [("html", "string_too_long")]
    assert "bytes" in body["errors"][0]["message"]
    assert _items(local_aws) == before
