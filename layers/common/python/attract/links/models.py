"""Request, response and stored-item models of tracked links."""

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from attract.dimensions import Dimensions

LINK_CODE_PATTERN = r"^[A-Za-z0-9]{6,16}$"
LinkCode = Annotated[str, Field(pattern=LINK_CODE_PATTERN, description="Short code of a tracked link")]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("destination must be an http or https URL")
    if not parts.hostname:
        raise ValueError("destination must have a host")
    return value


DestinationUrl = Annotated[
    str,
    Field(min_length=8, max_length=2048, description="Where the click lands: an http(s) URL"),
    AfterValidator(_http_url),
]


class CreateLinkRequest(Dimensions):
    destination: DestinationUrl


class Link(Dimensions):
    """A stored tracked link. Links never change once created, so readers may cache them."""

    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    code: LinkCode
    destination: str
    created_at: datetime
    created_by: str


class LinkResponse(Dimensions):
    model_config = ConfigDict(extra="ignore", use_enum_values=True)

    code: LinkCode
    url: str = Field(description="The tracked URL to publish: {base}/r/{code}")
    destination: str
    created_at: datetime
    clicks: int = Field(0, description="Human clicks recorded (bots excluded)")
