"""Request, response and stored-item models of organic posts (issue 16)."""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from attract.dimensions import Label
from attract.links.models import DestinationUrl, normalise_destination
from attract.posts.channels import ORGANIC_CHANNELS, OrganicChannelName

PostId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="A post's id")]
ChannelStatus = Literal["scheduled", "publishing", "published", "failed", "deleting", "deleted"]
PostStatus = Literal["active", "deleting"]
# The longest text any channel takes (Facebook's 63,206): longer is refused by the schema before any rule runs.
MAX_TEXT = max(row.max_chars for row in ORGANIC_CHANNELS.values())


def _https_image(value: str) -> str:
    normalised = normalise_destination(value)
    if urlsplit(normalised).scheme != "https":
        raise PydanticCustomError("image_https", "image_url must be an https URL (the platforms fetch it themselves)")
    return normalised


ImageUrl = Annotated[str, Field(min_length=12, max_length=2048, description="An https URL of the image"),
                     AfterValidator(_https_image)]


class CreatePostRequest(BaseModel):
    """What a marketer posts; each channel's tracked link is appended to `text` by its adapter."""

    model_config = ConfigDict(extra="forbid")

    name: Label = Field(description="The campaign of the tracked links (reports group the post's joins under it)")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The post's text, without the link")
    destination: DestinationUrl
    channels: list[OrganicChannelName] = Field(min_length=1, max_length=len(ORGANIC_CHANNELS))
    publish_at: AwareDatetime | None = Field(None, description="When to publish (with a time zone); now if absent")
    image_url: ImageUrl | None = None

    @field_validator("channels")
    @classmethod
    def _distinct(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise PydanticCustomError("channels_duplicate", "each channel may be named once")
        return channels


class Post(BaseModel):
    """The stored post (`POST#<id>`, SK `POST`)."""

    model_config = ConfigDict(extra="ignore")

    id: PostId
    name: str
    text: str
    destination: str
    channels: list[str]
    publish_at: datetime | None = None
    image_url: str | None = None
    link_codes: dict[str, str]
    # The tracked URLs as published (the API's base URL then): the marker the publisher looks for after a lost answer.
    link_urls: dict[str, str]
    schedule_name: str | None = None
    status: PostStatus = "active"
    created_at: datetime
    created_by: str


class PostError(BaseModel):
    platform: str
    codes: list[str] = []
    message: str
    request_id: str | None = None
    at: datetime


class ChannelState(BaseModel):
    """One channel of a post (`POST#<id>`, SK `CHANNEL#<channel>`): the claim that makes publishing at most once."""

    model_config = ConfigDict(extra="ignore")

    channel: str
    status: ChannelStatus
    link_code: str
    platform_post_id: str | None = None
    url: str | None = None
    claim_id: str | None = None
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    attempts: int = 0
    published_at: datetime | None = None
    last_error: PostError | None = None
    updated_at: datetime


class TrackedLinkOut(BaseModel):
    code: str
    url: str


class ChannelResponse(BaseModel):
    status: ChannelStatus
    link: TrackedLinkOut
    platform_post_id: str | None = None
    url: str | None = Field(None, description="Where the post is seen on the platform")
    published_at: datetime | None = None
    attempts: int = 0
    last_error: PostError | None = None


class PostResponse(BaseModel):
    id: PostId
    name: str
    text: str
    destination: str
    publish_at: datetime | None = None
    image_url: str | None = None
    status: PostStatus
    created_at: datetime
    channels: dict[str, ChannelResponse]


class PostMessage(BaseModel):
    """A PostsQueue message: one (post, channel) to publish or delete; no channel: every channel of the post
    (what a publish_at schedule sends)."""

    model_config = ConfigDict(extra="ignore")

    post_id: PostId
    channel: OrganicChannelName | None = None
    action: Literal["publish", "delete"] = "publish"
