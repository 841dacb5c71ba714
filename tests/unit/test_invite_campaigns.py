"""The invite campaign contract: the issue's POST shape, each broken rule named by field, schedules, and the preview."""

import copy
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from attract.errors import InvalidRequestError, UpstreamError
from attract.invites.campaign_logic import (
    check_campaign_source,
    check_schedule,
    preview,
    schedule_payload,
    source_failure,
)
from attract.invites.campaigns import CampaignSchedule, InviteCampaign, InviteCampaignRequest
from attract.invites.ports import SourceError, SourceNotAllowedError, SourceSecretError
from attract.invites.source_rules import SourcePolicy
from attract.invites.sources import INVALID_ROW

# The issue's example: clients rely on this shape. Its text ("Hello {{first_name}}, ...") gained the {{invite_url}}
# every invitation must now place.
ISSUE_EXAMPLE = {
    "name": "Berlin data alumni", "destination": "https://careers.example.com/community",
    "source": {"kind": "postgresql", "secret_id": "ats/readonly", "table": "public.candidates"},
    "mapping": {"email": "email", "first_name": "first_name", "last_name": "last_name",
                "skills": "skills", "location": "city", "consent": "marketing_consent",
                "updated_at": "updated_at", "external_id": "id"},
    "subject": "{{first_name}}, join our talent community", "text": "Hello {{first_name}}, ... {{invite_url}}",
    "sender": {"from": "Acme Careers <careers@acme.example>", "reply_to": "careers@acme.example",
               "postal_address": "1 Main Street, Springfield"}}


def _with(path: str, value) -> dict:
    body = copy.deepcopy(ISSUE_EXAMPLE)
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    target[last] = value
    return body


def _errors(body: dict) -> set[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        InviteCampaignRequest.model_validate(body)
    return {(".".join(str(part) for part in error["loc"]), error["type"]) for error in raised.value.errors()}


def test_the_issue_example_is_accepted_as_written():
    request = InviteCampaignRequest.model_validate(ISSUE_EXAMPLE)
    assert request.source.kind == "postgresql" and request.mapping.location == "city"
    assert request.sender.from_ == "Acme Careers <careers@acme.example>" and request.schedule is None
    # and it serialises back to the same shape (sender.from, not from_)
    assert request.model_dump(by_alias=True, exclude_none=True)["sender"]["from"] == "Acme Careers <careers@acme.example>"


def test_every_source_kind_of_the_issue_is_accepted():
    for source in ({"kind": "mysql", "secret_id": "ats/ro", "table": "candidates"},
                   {"kind": "s3", "uri": "s3://acme-ats/export.csv.gz", "format": "csv", "compression": "gzip"},
                   {"kind": "dynamodb", "table_name": "crm-people", "index": "by-status",
                    "key": {"name": "status", "value": "active"}},
                   {"kind": "sqlite", "path": "/tmp/ats.db", "table": "candidates"}):
        assert InviteCampaignRequest.model_validate(_with("source", source)).source.kind == source["kind"]


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("subject", "Hi {{first_nam}}", ("subject", "unknown_placeholder")),
    ("text", "Hello {{password}}", ("text", "unknown_placeholder")),
    ("html", "<p>{{ salary }}</p>", ("html", "unknown_placeholder")),
    ("text", "Hello {{first_name}}, ...", ("text", "invite_url_required")),
    ("text", "Join us: {{ unsubscribe_url }} invite_url", ("text", "invite_url_required")),
    ("html", "<p>Hello {{first_name}}</p>", ("html", "invite_url_required")),
    ("name", "   ", ("name", "string_too_short")),
    ("destination", "javascript:alert(1)", ("destination", "url_scheme")),
    ("source.kind", "oracle", ("source", "union_tag_invalid")),
    ("source.table", "candidates; DROP TABLE x", ("source.postgresql.table", "string_pattern_mismatch")),
    ("mapping.email", "e mail", ("mapping.email", "string_pattern_mismatch")),
    ("sender.postal_address", "", ("sender.postal_address", "string_too_short")),
    ("schedule", {"expression": "every monday"}, ("schedule.expression", "schedule_expression")),
    ("schedule", {"expression": "cron(0 9 * * MON *)"}, ("schedule.expression", "schedule_cron")),
    ("schedule", {"expression": "cron(0 9 ? * MON)"}, ("schedule.expression", "schedule_cron")),
    ("schedule", {"expression": "rate(1 days)"}, ("schedule.expression", "schedule_rate")),
    ("schedule", {"expression": "rate(0 minutes)"}, ("schedule.expression", "schedule_rate")),
    ("schedule", {"expression": "at(2026-02-30T09:00:00)"}, ("schedule.expression", "schedule_at")),
    ("schedule", {"expression": "rate(1 day)", "timezone": "Mars/Olympus"}, ("schedule.timezone", "timezone")),
    ("schedule", {"expression": "rate(1 day)", "timezone": "../../etc/passwd"}, ("schedule.timezone", "timezone")),
    ("extra", 1, ("extra", "extra_forbidden")),
])
def test_each_broken_rule_is_named_by_its_field(path, value, expected):
    assert expected in _errors(_with(path, value))


def test_an_invitation_without_its_join_link_is_refused_naming_the_field_and_the_rule():
    # Given the issue's example as it was written: a text that never places {{invite_url}}
    body = _with("text", "Hello {{first_name}}, ...")
    # When it is validated, Then the 422 names text and the rule, and says what to add
    with pytest.raises(ValidationError) as raised:
        InviteCampaignRequest.model_validate(body)
    (error,) = raised.value.errors()
    assert (error["loc"], error["type"]) == (("text",), "invite_url_required") and "{{invite_url}}" in error["msg"]
    # And with the link (spaces inside the braces too) in text and html, it is accepted
    accepted = InviteCampaignRequest.model_validate({**body, "text": "Join: {{ invite_url }}",
                                                     "html": "<a href=\"{{invite_url}}\">Join</a>"})
    assert accepted.html is not None


def test_a_campaign_stored_before_the_join_link_rule_still_reads():
    stored = InviteCampaign.model_validate({**_with("text", "Hello {{first_name}}"), "html": "<p>Hi</p>", "id": "c0",
                                            "link_code": "AbCd1234", "created_at": "2026-01-01T00:00:00Z"})
    assert stored.text == "Hello {{first_name}}" and stored.html == "<p>Hi</p>"


def test_unknown_placeholder_message_names_it_and_the_known_ones():
    with pytest.raises(ValidationError) as raised:
        InviteCampaignRequest.model_validate(_with("text", "Hi {{first_nam}}"))
    message = raised.value.errors()[0]["msg"]
    assert "{{first_nam}}" in message and "{{first_name}}" in message and "{{skills}}" in message


@pytest.mark.parametrize("expression", ["cron(0 9 ? * MON-FRI *)", "cron(15 10 1 * ? *)", "rate(1 hour)",
                                        "rate(12 hours)", "at(2027-01-15T09:30:00)"])
def test_scheduler_expressions_are_accepted(expression):
    schedule = CampaignSchedule.model_validate({"expression": expression, "timezone": "Europe/Berlin"})
    assert schedule.expression == expression
    assert CampaignSchedule.model_validate({"expression": expression}).timezone == "UTC"


POLICY = SourcePolicy(object_arn_pattern="arn:aws:s3:::attract-sources-*/*",
                      table_arn_pattern="arn:aws:dynamodb:us-east-1:123456789012:table/attract-source-*",
                      secret_arn_pattern="arn:aws:secretsmanager:us-east-1:123456789012:secret:ats/*")


def test_sqlite_is_refused_unless_local_sources_are_allowed():
    request = InviteCampaignRequest.model_validate(_with("source", {"kind": "sqlite", "path": "/x.db", "table": "t"}))
    with pytest.raises(InvalidRequestError) as raised:
        check_campaign_source(request.source, POLICY)
    assert (raised.value.field, raised.value.rule, raised.value.location) == ("source.kind", "source_kind_local_only",
                                                                              "body")
    check_campaign_source(request.source, SourcePolicy(**{**POLICY.__dict__, "allow_local": True}))
    check_campaign_source(InviteCampaignRequest.model_validate(ISSUE_EXAMPLE).source, POLICY)


def test_the_schedule_payload_is_the_plan_queue_message_with_schedulers_placeholder():
    assert schedule_payload("abc") == '{"campaign_id": "abc", "scheduled_at": "<aws.scheduler.scheduled-time>"}'


# ---- preview with an in-memory source ---------------------------------------------------------------------------


class ListSource:
    def __init__(self, rows):
        self._rows, self.count, self.closed = rows, 0, False

    def rows(self, since=None) -> Iterator:
        try:
            for row in self._rows:
                self.count += 1
                yield row
        finally:
            self.closed = True


def _campaign(**changes) -> InviteCampaign:
    return InviteCampaign.model_validate({
        **ISSUE_EXAMPLE, "id": "c1", "link_code": "AbCd1234", "created_at": datetime(2026, 11, 1, tzinfo=timezone.utc),
        "text": "Hello {{first_name}} in {{location}}: {{invite_url}}",
        "html": "<p>Hi {{first_name}}</p><a href=\"{{invite_url}}\">Join</a>", **changes})


def test_preview_renders_three_candidates_counts_the_skips_and_stops_reading():
    rows = [{"email": "not-an-email", "consent": True},
            {"email": "ada@example.com", "consent": False},
            {"email": "ada@example.com", "consent": True, "first_name": "Ada", "location": "London"},
            INVALID_ROW,
            {"email": "ADA@example.com ", "consent": "yes"},
            {"email": "grace@example.com", "consent": 1, "first_name": "<Grace>"},
            {"email": "linus@example.com", "consent": "y", "first_name": "Linus"},
            {"email": "never-read@example.com", "consent": True}]
    source = ListSource(rows)
    result = preview(_campaign(), source, "https://go.acme.example/")
    assert [m.to for m in result.messages] == ["ada@example.com", "grace@example.com", "linus@example.com"]
    assert result.skipped == {"duplicate": 1, "invalid_email": 1, "invalid_row": 1, "no_consent": 1}
    assert result.rows_read == 7 and source.count == 7 and source.closed
    first = result.messages[0]
    assert first.subject == "Ada, join our talent community"
    assert "Hello Ada in London: https://go.acme.example/r/AbCd1234?tc_inv=PREVIEW" in first.text
    assert "1 Main Street, Springfield" in first.text  # the footer the sender adds
    assert "&lt;Grace&gt;" in result.messages[1].html and "<Grace>" not in result.messages[1].html


def test_preview_bounds_the_rows_it_reads():
    source = ListSource([{"email": f"x{n}", "consent": True} for n in range(50)])
    result = preview(_campaign(), source, "https://go.acme.example", max_rows=10)
    assert result.messages == [] and result.rows_read == 10 and result.skipped == {"invalid_email": 10}


class FailingSource(ListSource):
    def __init__(self, error: Exception):
        super().__init__([])
        self.error = error

    def rows(self, since=None) -> Iterator:
        raise self.error
        yield  # a generator, like the real sources


def test_a_failing_source_is_a_named_4xx_or_502_never_a_crash():
    with pytest.raises(UpstreamError) as raised:
        preview(_campaign(), FailingSource(ConnectionRefusedError("10.0.0.5:5432 password=x")), "https://x.example")
    assert raised.value.rule == "source_unavailable" and "10.0.0.5" not in raised.value.message
    with pytest.raises(InvalidRequestError) as invalid:
        preview(_campaign(), FailingSource(SourceError("the SQLite file does not exist")), "https://x.example")
    assert (invalid.value.field, invalid.value.rule) == ("source", "source_invalid")


def test_source_failures_are_classified_by_kind():
    assert source_failure(SourceNotAllowedError("x")).rule == "source_kind_local_only"
    assert source_failure(SourceSecretError("x")).rule == "source_secret_invalid"
    error = type("GetParameterError", (Exception,), {})("ResourceNotFoundException arn:...:secret:ats")
    assert isinstance(source_failure(error), UpstreamError) and source_failure(error).field == "source.secret_id"


def test_time_zones_resolve_without_the_operating_systems_database():
    # Lambda's image is not relied on for /usr/share/zoneinfo: the layer ships tzdata (layers/common/requirements.txt)
    import zoneinfo

    from attract.invites.campaigns import check_timezone

    zoneinfo.reset_tzpath([])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        assert check_timezone("America/Sao_Paulo") == "America/Sao_Paulo"
        with pytest.raises(ValueError):
            check_timezone("Europe/Atlantis")
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()


# ---- at most one firing an hour ----------------------------------------------------------------------------------

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("expression", "zone", "minutes"), [
    ("rate(1 minute)", "UTC", 1), ("rate(59 minutes)", "UTC", 59), ("cron(* * * * ? *)", "UTC", 1),
    ("cron(0/30 9-17 ? * MON-FRI *)", "Europe/Berlin", 30), ("cron(0,45 9 ? * MON *)", "UTC", 45),
    # Every hour at :30 on Lord Howe Island: the night its clocks go forward half an hour, 30 minutes apart
    ("cron(30 * * * ? *)", "Australia/Lord_Howe", 30)])
def test_a_schedule_firing_more_than_once_an_hour_is_refused_naming_the_field(expression, zone, minutes):
    with pytest.raises(InvalidRequestError) as raised:
        check_schedule(CampaignSchedule(expression=expression, timezone=zone), "schedule.expression", NOW)
    assert (raised.value.field, raised.value.rule) == ("schedule.expression", "schedule_too_frequent")
    assert f"{minutes} minute" in raised.value.message


@pytest.mark.parametrize(("expression", "zone"), [
    ("rate(1 hour)", "UTC"), ("rate(60 minutes)", "UTC"), ("cron(0 * * * ? *)", "Europe/Berlin"),
    ("cron(30 * * * ? *)", "Europe/Berlin"), ("cron(0 9 ? * MON *)", "Europe/Berlin"), ("cron(15 10 15W * ? *)", "UTC"),
    ("at(2027-01-15T09:30:00)", "Europe/Berlin")])
def test_a_schedule_firing_at_most_once_an_hour_is_accepted(expression, zone):
    check_schedule(CampaignSchedule(expression=expression, timezone=zone), "expression", NOW)


def test_a_cron_whose_firings_cannot_be_computed_is_refused():
    with pytest.raises(InvalidRequestError) as raised:
        check_schedule(CampaignSchedule(expression="cron(0 10 L-2 * ? *)"), "expression", NOW)
    assert (raised.value.field, raised.value.rule) == ("expression", "schedule_unsupported")
