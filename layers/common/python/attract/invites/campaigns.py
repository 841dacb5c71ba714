"""Invite campaigns, the models: the marketer's request (the API contract), the stored campaign, its schedule
and the API's answers. Stored by `attract.invites.campaign_repository`.
"""

import json
import re
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from attract import schedules
from attract.bounds import Utf8Bytes, utf8_length
from attract.invites.messages import PLACEHOLDER, PLACEHOLDERS, unknown_placeholders
from attract.invites.models import CampaignId, InviteSender
from attract.invites.sources import ColumnMapping, SourceSpec
from attract.links.models import DestinationUrl

# ---- schedules (EventBridge Scheduler's expression grammar) --------------------------------------------------

_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_RATE = re.compile(r"^rate\((?P<value>[1-9]\d{0,5}) (?P<unit>minutes?|hours?|days?)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#-]{1,64}$")


def check_expression(expression: str) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)`, `rate(n unit)` or a six-field `cron(...)`, as EventBridge Scheduler takes them."""
    if expression.startswith("at("):
        if not _AT.fullmatch(expression):
            raise PydanticCustomError("schedule_at", "at(...) takes a local date-time: at(yyyy-mm-ddThh:mm:ss)")
        try:
            datetime.fromisoformat(expression[3:-1])
        except ValueError:
            raise PydanticCustomError("schedule_at", "at(...) names a date-time that does not exist") from None
        return expression
    if expression.startswith("rate("):
        match = _RATE.fullmatch(expression)
        # AWS wants the singular unit for 1 and the plural otherwise ("rate(1 day)", "rate(2 days)").
        if not match or (match["value"] == "1") != (not match["unit"].endswith("s")):
            raise PydanticCustomError("schedule_rate", "rate(...) is rate(1 minute|hour|day) or rate(n minutes|hours|days)")
        return expression
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split(" ")
        if len(fields) != 6 or not all(_CRON_FIELD.fullmatch(field) for field in fields):
            raise PydanticCustomError(
                "schedule_cron", "cron(...) has six space-separated fields: minutes hours day-of-month month "
                "day-of-week year")
        if "?" not in (fields[2], fields[4]):
            raise PydanticCustomError("schedule_cron", "cron(...) needs ? in day-of-month or day-of-week")
        return expression
    raise PydanticCustomError("schedule_expression", "expression must be cron(...), rate(...) or at(...)")


def check_timezone(name: str) -> str:
    """An IANA time zone name (Europe/Berlin, UTC)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError("timezone", "timezone must be an IANA time zone name, e.g. Europe/Berlin") from None
    return name


class CampaignSchedule(BaseModel):
    """When to run: an EventBridge Scheduler expression in a time zone."""

    model_config = ConfigDict(extra="forbid")

    expression: Annotated[str, StringConstraints(min_length=6, max_length=256), AfterValidator(check_expression)] = (
        Field(description="cron(m h dom mon dow year), rate(n unit) or at(yyyy-mm-ddThh:mm:ss)",
              examples=["cron(0 9 ? * MON *)"]))
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_timezone)] = Field(
        "UTC", description="IANA time zone of the expression")


class StoredSchedule(CampaignSchedule):
    name: str = Field(description="EventBridge Scheduler schedule name (group default)")


def schedule_name(campaign_id: str) -> str:
    return f"invite-{campaign_id}"


# At most one firing an hour: each firing is a full read of the employer's source (rate(1 minute) was 1,440 a day).
MIN_SCHEDULE_INTERVAL = timedelta(hours=1)


def too_frequent(schedule: CampaignSchedule, now: datetime) -> timedelta | None:
    """The interval between two firings when it is under MIN_SCHEDULE_INTERVAL, measured in real time over 28
    years, DST changes included (attract.schedules.shortest_interval); None for a schedule that may run.
    UnsupportedScheduleError for an expression whose firings cannot be computed. The API refuses such schedules
    and the planner does not run one stored before the rule."""
    interval = schedules.shortest_interval(schedules.parse(schedule.expression, schedule.timezone), now,
                                           below=MIN_SCHEDULE_INTERVAL)
    return interval if interval is not None and interval < MIN_SCHEDULE_INTERVAL else None


# ---- the request ----------------------------------------------------------------------------------------------


def _known_placeholders_only(template: str | None) -> str | None:
    if template is not None and (unknown := unknown_placeholders(template)):
        raise PydanticCustomError(
            "unknown_placeholder", "unknown placeholder {names}: use {known}",
            {"names": ", ".join(f"{{{{{name}}}}}" for name in unknown),
             "known": ", ".join(f"{{{{{name}}}}}" for name in sorted(PLACEHOLDERS))})
    return template


def _places_the_join_link(template: str | None) -> str | None:
    """An invitation is a way to join: each body must place the personal link (the footer adds only unsubscribe)."""
    if template is not None and "invite_url" not in PLACEHOLDER.findall(template):
        raise PydanticCustomError("invite_url_required",
                                  "the invitation must place the personal join link: add {{invite_url}}")
    return template


# Bounded in UTF-8 bytes as well as characters: the templates travel in every invitation's SQS message
# (256 KiB) and in the campaign's item (400 KB); 100,000 emoji are 400,000 bytes. The three together,
# JSON-encoded as a message carries them, stay under MAX_TEMPLATES_BYTES (`templates_too_large`).
MAX_SUBJECT_BYTES, MAX_TEXT_BYTES, MAX_HTML_BYTES = 1_000, 60_000, 150_000
MAX_TEMPLATES_BYTES = 240_000  # + recipient and sender (~10 KB): a job stays under SQS's 262,144 bytes
Subject = Annotated[str, StringConstraints(min_length=1, max_length=300), Utf8Bytes(MAX_SUBJECT_BYTES),
                    AfterValidator(_known_placeholders_only)]
StoredTextTemplate = Annotated[str, StringConstraints(min_length=1, max_length=20_000), Utf8Bytes(MAX_TEXT_BYTES),
                               AfterValidator(_known_placeholders_only)]
StoredHtmlTemplate = Annotated[str | None, StringConstraints(max_length=100_000), Utf8Bytes(MAX_HTML_BYTES),
                               AfterValidator(_known_placeholders_only)]
TextTemplate = Annotated[StoredTextTemplate, AfterValidator(_places_the_join_link)]
HtmlTemplate = Annotated[StoredHtmlTemplate, AfterValidator(_places_the_join_link)]
CampaignName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class InviteCampaignRequest(BaseModel):
    """POST /invite-campaigns. Placeholders: {{first_name}} {{last_name}} {{location}} {{skills}}, and the
    {{invite_url}} {{unsubscribe_url}} {{postal_address}} the sender fills per message (HTML-escaped in html).
    `text`, and `html` when given, must place {{invite_url}}."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: CampaignName = Field(description="Also the campaign of the tracked link and of every credited join")
    destination: DestinationUrl
    source: SourceSpec
    mapping: ColumnMapping
    subject: Subject
    text: TextTemplate
    html: HtmlTemplate = None
    sender: InviteSender
    schedule: CampaignSchedule | None = None

    @model_validator(mode="after")
    def _templates_fit_one_message(self) -> "InviteCampaignRequest":
        encoded = utf8_length(json.dumps([self.subject, self.text, self.html], ensure_ascii=False))
        if encoded > MAX_TEMPLATES_BYTES:  # only escapes (quotes, control characters) get here past the field bounds
            raise PydanticCustomError(
                "templates_too_large", "subject, text and html take {size} bytes JSON-encoded, over {max_bytes}",
                {"size": encoded, "max_bytes": MAX_TEMPLATES_BYTES})
        return self


class InviteCampaignChanges(BaseModel):
    """PATCH /invite-campaigns/{id}: the message, changed between runs. Only what is given changes; `html: null`
    removes the HTML part. The same rules as at creation apply (placeholders, {{invite_url}}, sizes, a verified
    sender); the name, destination, source and mapping stay (the tracked link and the watermark depend on them)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    subject: Subject | None = None
    text: TextTemplate | None = None
    html: HtmlTemplate = None
    sender: InviteSender | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> "InviteCampaignChanges":
        if not self.model_fields_set:
            raise PydanticCustomError("no_change", "give at least one of subject, text, html, sender")
        for name in ("subject", "text", "sender"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise PydanticCustomError("not_removable", "{field} cannot be removed, only changed", {"field": name})
        return self


class InviteCampaign(InviteCampaignRequest):
    """A stored campaign: the request plus what the system added. `schedule` is the one in force."""

    id: CampaignId
    link_code: str
    created_at: datetime
    created_by: str = ""
    watermark: datetime | None = None
    latest_run_id: str | None = None
    schedule: StoredSchedule | None = None  # type: ignore[assignment]  # the request's, plus its name
    # A campaign stored before {{invite_url}} was required still reads (its GET, its runs): the rule is the request's.
    text: StoredTextTemplate
    html: StoredHtmlTemplate = None


# ---- responses ------------------------------------------------------------------------------------------------


class PreviewMessage(BaseModel):
    to: str
    subject: str
    text: str
    html: str | None = None


class CampaignPreview(BaseModel):
    """The first candidates of the source, rendered; nothing is sent or stored."""

    rows_read: int = Field(description="Rows read from the source to find these candidates")
    skipped: dict[str, int] = Field(description="Rows read but not candidates, by reason (member, suppressed and "
                                                "cooldown are checked when a run plans)")
    messages: list[PreviewMessage]


class RunStarted(BaseModel):
    run_id: str


class RunBusy(BaseModel):
    """409 of POST …/runs: the run of the campaign that is still planning or sending."""

    message: str
    run_id: str | None = Field(None, description="The active run: GET …/runs/{run_id} to follow it. Absent when the "
                                                 "same Idempotency-Key request is still being processed: retry it")
