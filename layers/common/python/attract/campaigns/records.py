"""The stored campaign (one item per campaign) and what GET /campaigns/{id} answers.

Kept apart from `models.py`, the contract shared with the platform adapters: these are the API's and
the repository's own shapes.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from attract.campaigns.models import CampaignDraft, CampaignId, CampaignStatus, ChannelName, PlatformIds


class Campaign(BaseModel):
    """A campaign item: the draft as created, where its launch got to, and the version for optimistic locking."""

    model_config = ConfigDict(extra="ignore")

    id: CampaignId
    draft: CampaignDraft
    status: CampaignStatus = "draft"
    platform_ids: dict[ChannelName, PlatformIds] = Field(default_factory=dict)
    link_codes: dict[ChannelName, str] = Field(default_factory=dict)  # the tracked link of each channel's ads
    last_sync: datetime | None = None  # written by the spend sync
    last_error: dict[str, Any] | None = None  # {channel, platform, message, codes, request_id, at}
    launch_started_at: datetime | None = None  # a launch's lease: another launch waits until it expires
    version: int = 0
    created_at: datetime
    created_by: str
    updated_at: datetime


class TrackedLink(BaseModel):
    code: str
    url: str = Field(description="The tracked redirect {public base}/r/{code}, for anywhere but the ads themselves")
    ad_url: str = Field(description="Where the channel's ads land: the destination with tc_link and utm values "
                                    "(the platform adds its click id)")


class DryRunChannel(BaseModel):
    ok: bool = Field(description="The platform accepted the whole launch in validate-only mode")
    warnings: list[str] = Field(default_factory=list, description="What the platform noted without refusing")
    message: str | None = Field(default=None, description="The platform's refusal, in its words")
    codes: list[str] = Field(default_factory=list, description="The platform's error codes")
    request_id: str | None = None
    retryable: bool = False


class DryRunResponse(BaseModel):
    id: CampaignId
    dry_run: bool = True
    ok: bool = Field(description="Every platform accepted the launch; nothing was created anywhere")
    channels: dict[ChannelName, DryRunChannel]


class CampaignResponse(BaseModel):
    id: CampaignId
    status: CampaignStatus
    draft: CampaignDraft
    platform_ids: dict[ChannelName, PlatformIds]
    links: dict[ChannelName, TrackedLink]
    last_sync: datetime | None = Field(description="The latest successful spend sync of the channels the campaign was launched on (none for a draft)")
    sync: dict[ChannelName, dict[str, Any]] = Field(
        default_factory=dict, description="Each launched channel's last spend sync: attempt and success times, status, error codes")
    last_error: dict[str, Any] | None = Field(description="The last platform error: codes and request id, never credentials")
    version: int
    created_at: datetime
    updated_at: datetime
