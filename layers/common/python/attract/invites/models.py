"""The invitation job: one SQS message from the planner to the sender, small and self-contained.

It carries the campaign's templates and sender so the sender needs no read per message (planning and
sending are hours apart: a campaign edited in between changes no queued job). Also the person's cooldown
as the sender takes and gives it back.
"""

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CampaignId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Text = Annotated[str, StringConstraints(max_length=200)]


class InviteSender(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Annotated[str, StringConstraints(min_length=3, max_length=320)] = Field(alias="from")
    reply_to: Annotated[str | None, StringConstraints(max_length=320)] = None
    postal_address: Annotated[str, StringConstraints(min_length=5, max_length=500)]


class InviteTemplates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    html: Annotated[str | None, StringConstraints(max_length=100_000)] = None


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    first_name: Text = ""
    last_name: Text = ""
    location: Text = ""
    skills: Annotated[str, StringConstraints(max_length=1000)] = ""


class InvitationJob(BaseModel):
    """What the planner enqueues per person; the sender renders, claims and sends it."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: CampaignId
    campaign_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]  # the touch's `campaign`
    run_id: CampaignId
    link_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")]  # the tracked link /r/{code}
    recipient: Recipient
    templates: InviteTemplates
    sender: InviteSender


@dataclass(frozen=True)
class Cooldown:
    """A person's cooldown: who invited them last, when (epoch seconds), until when it is kept."""

    invited_at: int
    campaign_id: str
    expires_at: int | None = None


@dataclass(frozen=True)
class CooldownHold:
    """The cooldown a send took; `previous` is the one it replaced (None: there was none), put back on a release."""

    previous: Cooldown | None
