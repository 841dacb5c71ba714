"""What the public redirect reads of a link, as a plain record: no pydantic on the click's cold start.

The pydantic `Link` (attract.links.models) stays the contract of the marketer API and validates every
link when it is created; the stored item is therefore already valid when the redirect reads it.
"""

from dataclasses import dataclass

LINK_CODE_PATTERN = r"^[A-Za-z0-9]{6,16}$"


@dataclass(frozen=True)
class LinkTarget:
    """A link as the redirect uses it: where to send the person, and the dimensions the touch carries."""

    code: str
    destination: str
    campaign: str
    channel: str
    source: str
    medium: str
    content: str | None = None
    term: str | None = None

    @classmethod
    def from_values(cls, values: dict) -> "LinkTarget":
        """From the stored link item (attribute values already deserialised); other attributes are ignored."""
        return cls(code=str(values["code"]), destination=str(values["destination"]), campaign=str(values["campaign"]),
                   channel=str(values["channel"]), source=str(values["source"]), medium=str(values["medium"]),
                   content=_text(values.get("content")), term=_text(values.get("term")))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
