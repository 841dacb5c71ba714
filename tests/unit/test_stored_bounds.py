"""Stored items are bounded in UTF-8 bytes (what DynamoDB and SQS count), never in characters alone (issue 13, item 3).

100,000 emoji in an invitation's html were within its 100,000-character limit and over DynamoDB's 400 KB:
a 500, with the campaign's tracked link left behind. The largest request each bound lets through is built
here, and its item (and, for invitations, its SQS message) measured against the service's own limit.
"""

import copy
import json
from datetime import date, datetime, timezone
from typing import Annotated

import pytest
from pydantic import BaseModel, StringConstraints, ValidationError

from attract.bounds import Utf8Bytes, utf8_length
from attract.invites.campaign_logic import CreateCampaignCommand, create_campaign
from attract.invites.campaign_repository import CampaignRepository
from attract.invites.campaigns import (
    MAX_HTML_BYTES,
    MAX_SUBJECT_BYTES,
    MAX_TEMPLATES_BYTES,
    MAX_TEXT_BYTES,
    InviteCampaign,
    InviteCampaignRequest,
)
from attract.invites.models import InvitationJob
from tests.support import dynamodb_item_size
from tests.unit.fakes import MemoryLinks
from tests.unit.test_invite_campaigns import ISSUE_EXAMPLE

DYNAMODB_ITEM_LIMIT = 400 * 1024
SQS_MESSAGE_LIMIT = 262_144
EMOJI = "😀"  # 1 character, 4 bytes in UTF-8, 12 bytes as a JSON \u escape pair
JOIN_LINK = "{{invite_url}}"  # every invitation body must place it
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


class _Capture:
    """A DynamoDB client that keeps the items it is asked to put."""

    def __init__(self):
        self.items: list[dict] = []

    def put_item(self, **arguments):
        self.items.append(arguments["Item"])


def _stored_size(request: InviteCampaignRequest) -> int:
    client = _Capture()
    campaign = InviteCampaign.model_validate({**request.model_dump(by_alias=True), "id": "c" * 20,
                                              "link_code": "AbCd1234", "created_at": NOW, "created_by": "u" * 36})
    CampaignRepository("table", dynamodb=client).create(campaign)
    return dynamodb_item_size(client.items[0])


def _largest_request() -> dict:
    """Every free-text field of an invite campaign at its bound, in 4-byte characters."""
    return {**copy.deepcopy(ISSUE_EXAMPLE), "name": EMOJI * 100,
            "destination": "https://careers.example.com/" + "a" * 2000,
            "subject": EMOJI * (MAX_SUBJECT_BYTES // 4),
            # each body places the join link (invite_url_required), the rest of its bytes in 4-byte characters
            "text": JOIN_LINK + EMOJI * ((MAX_TEXT_BYTES - len(JOIN_LINK)) // 4),
            "html": JOIN_LINK + EMOJI * ((MAX_HTML_BYTES - len(JOIN_LINK)) // 4),
            "sender": {"from": EMOJI * 300 + " <a@b.co>", "reply_to": "r" * 310 + "@b.co", "postal_address": EMOJI * 500}}


def test_utf8_bytes_bounds_what_a_store_counts_not_characters():
    class Model(BaseModel):
        text: Annotated[str, StringConstraints(max_length=10), Utf8Bytes(8)]
        optional: Annotated[str | None, Utf8Bytes(8)] = None

    assert Model(text="12345678", optional=None).text == "12345678"
    for values in ({"text": EMOJI * 3}, {"text": "ok", "optional": "é" * 5}):
        with pytest.raises(ValidationError) as refused:
            Model.model_validate(values)
        (error,) = refused.value.errors()
        assert error["type"] == "string_too_long" and error["ctx"] == {"max_bytes": 8}
    assert utf8_length(EMOJI) == 4


def test_100000_emoji_in_an_invitation_html_are_refused_naming_the_field_and_the_rule():
    # Given the finding's request: within 100,000 characters, 400,000 bytes
    body = {**ISSUE_EXAMPLE, "html": JOIN_LINK + EMOJI * 100_000}
    # When it is validated
    with pytest.raises(ValidationError) as refused:
        InviteCampaignRequest.model_validate(body)
    # Then html is named with the rule, before anything is written
    assert [(error["loc"], error["type"]) for error in refused.value.errors()] == [(("html",), "string_too_long")]


def test_templates_that_only_escaping_makes_too_large_are_refused_as_a_whole():
    # Given html and text within their byte bounds, made of characters JSON escapes (" is 2 bytes, \x01 is 6)
    body = {**ISSUE_EXAMPLE, "html": JOIN_LINK + '"' * 99_900, "text": JOIN_LINK + "\x01" * 19_900}
    with pytest.raises(ValidationError) as refused:
        InviteCampaignRequest.model_validate(body)
    # Then the three templates are refused together, naming the rule and the sizes
    (error,) = refused.value.errors()
    assert error["type"] == "templates_too_large" and error["ctx"]["max_bytes"] == MAX_TEMPLATES_BYTES


def test_the_largest_valid_invite_campaign_fits_its_item_and_every_invitation_fits_one_sqs_message():
    # Given the largest request the bounds let through, in 4-byte characters
    request = InviteCampaignRequest.model_validate(_largest_request())
    # Then the campaign's item is under DynamoDB's 400 KB (it was 1.2 MB of \u escapes for 100,000 emoji)
    assert _stored_size(request) < DYNAMODB_ITEM_LIMIT
    # And an invitation carrying those templates to the largest recipient is one SQS message
    job = InvitationJob.model_validate({
        "campaign_id": "c" * 64, "campaign_name": EMOJI * 100, "run_id": "r" * 64, "link_code": "A" * 64,
        "recipient": {"email": "e" * 310 + "@b.co", "first_name": EMOJI * 200, "last_name": EMOJI * 200,
                      "location": EMOJI * 200, "skills": EMOJI * 1000},
        "templates": {"subject": request.subject, "text": request.text, "html": request.html},
        "sender": request.sender.model_dump(by_alias=True)})
    assert utf8_length(job.model_dump_json(by_alias=True)) < SQS_MESSAGE_LIMIT


def test_a_campaign_that_cannot_be_stored_leaves_no_tracked_link_behind():
    # Given a campaign store that fails (an item DynamoDB refuses, throttling, ...)
    class FailingCampaigns:
        def create(self, campaign):
            raise RuntimeError("ValidationException: Item size has exceeded the maximum allowed size")

    links = MemoryLinks()
    command = CreateCampaignCommand(owner="u1", request=InviteCampaignRequest.model_validate(ISSUE_EXAMPLE))
    # When the campaign is created
    with pytest.raises(RuntimeError):
        create_campaign(command, FailingCampaigns(), links, NOW)  # type: ignore[arg-type]
    # Then the link made for it is gone again
    assert links.items == {}


def test_the_largest_ad_campaign_draft_fits_its_item():
    from attract.aws import to_item
    from attract.campaigns.models import CampaignDraft
    from attract.campaigns.records import Campaign
    from attract.campaigns.repository import _stored

    # Given a draft at every model bound, in the character JSON escapes most (\x01: 1 byte, 6 escaped) and the
    # Google assets of a Meta-only draft (the policy bounds them only for Google: 15 headlines of 30, ...)
    draft = json.loads(json.dumps({
        "name": "\x01" * 100, "channels": ["meta"], "daily_budget": {"amount": "50.00", "currency": "EUR"},
        "start_date": date(2026, 12, 1).isoformat(), "destination": "https://careers.example.com/" + "a" * 2000,
        "locations": [{"latitude": 1.5, "longitude": 2.5, "radius": 20, "country": "DE"}] * 50,
        "google": {"keywords": [{"text": "\x01" * 80}] * 200, "headlines": ["\x01" * 200] * 50,
                   "descriptions": ["\x01" * 500] * 50},
        "meta": {"primary_text": "\x01" * 2000, "headline": "\x01" * 255, "image_url": "https://x.example/i.png"}}))
    campaign = Campaign(id="c" * 64, draft=CampaignDraft.model_validate(draft), created_at=NOW, updated_at=NOW,
                        created_by="u" * 36)
    # Then its item is under DynamoDB's 400 KB (measured: 334,522 bytes): the character bounds suffice here
    item = to_item({"PK": "CAMPAIGN#" + campaign.id, "SK": "CAMPAIGN", "type": "campaign", **_stored(campaign)})
    assert dynamodb_item_size(item) < DYNAMODB_ITEM_LIMIT
