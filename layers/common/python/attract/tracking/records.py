"""The click's own vocabulary and the touch it records, as plain Python: the redirect never imports pydantic.

The pydantic `Touch` (attract.tracking.models) stays the contract of a stored touch: the joins and the
reports read every touch, clicks included, through it. The repository writes the same item for a
`ClickTouch` as for a `Touch` with the same values (a test checks it, and that the item reads back as a `Touch`).
"""

from dataclasses import dataclass, field
from datetime import datetime

CLICK_ID_PARAMS = ("gclid", "gbraid", "wbraid", "fbclid", "msclkid", "li_fat_id")
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id")

# DynamoDB counts key sizes in UTF-8 bytes (partition key ≤ 2,048, sort key ≤ 1,024): a click id becomes
# the partition key `CLICK#<kind>#<id>`, so it is bounded in bytes, not characters (512 emoji are 2 KB).
MAX_CLICK_ID_BYTES = 512
MAX_UTM_BYTES = 200

# The visitor id (tc_vid) format, for the redirect and for the models that accept one from a caller.
VISITOR_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"

# An invitation's token (tc_inv, attract.invites.tokens): the redirect forwards only what has this shape and
# the join accepts only this shape as `invite_token`. Whether it is genuine is the join's lookup to decide.
INVITE_PARAM = "tc_inv"
INVITE_TOKEN_PATTERN = r"^[A-Za-z0-9_.-]{16,512}$"


def visitor_subject(visitor_id: str) -> str:
    """Whose touches: a visitor's partition (`VISITOR#<id>`), also the sort key naming a click lookup's visitor."""
    return f"VISITOR#{visitor_id}"


def email_subject(email_hash: str) -> str:
    """Whose touches: an address's partition (`EMAIL#<hash>`), for touches imported by email."""
    return f"EMAIL#{email_hash}"


@dataclass(frozen=True)
class ClickTouch:
    """A human click on a tracked link, as the redirect records it (always a visitor's, never an email's)."""

    touch_id: str
    occurred_at: datetime
    visitor_id: str
    link_code: str
    campaign: str
    channel: str
    source: str
    medium: str
    content: str | None = None
    term: str | None = None
    click_ids: dict[str, str] = field(default_factory=dict)
    utm: dict[str, str] = field(default_factory=dict)
    referrer: str | None = None
    origin: str = "click"
    email_hash: None = None  # whose touch it is: a click is always the visitor's

    def stored(self) -> dict:
        """The touch's attributes, None left out (the repository adds keys, the sortable time and expiry)."""
        values = {
            "campaign": self.campaign, "channel": self.channel, "source": self.source, "medium": self.medium,
            "content": self.content, "term": self.term, "touch_id": self.touch_id,
            "occurred_at": self.occurred_at.isoformat(), "origin": self.origin, "visitor_id": self.visitor_id,
            "link_code": self.link_code, "click_ids": dict(self.click_ids), "utm": dict(self.utm),
            "referrer": self.referrer,
        }
        return {key: value for key, value in values.items() if value is not None}
