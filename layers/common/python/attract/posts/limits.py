"""Each platform's limits, checked before any platform call (422s naming the field and the rule).

X counts as twitter-text does (https://docs.x.com/fundamentals/counting-characters, docs/platforms.md): text
normalised to NFC, code points in a few Latin/punctuation ranges weigh 1, every other code point 2, and each
URL 23 whatever its length; the limit is 280. The tracked link is appended by the adapter after a line break, so
it counts as 1 + 23. Facebook counts characters as written, the link (after a blank line) included. LinkedIn counts
the commentary as sent, escaped (little format); the link is the post's article, not in the commentary.
"""

import re
import unicodedata
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from attract.errors import RulesBrokenError
from attract.posts.channels import ORGANIC_CHANNELS, OrganicChannel
from attract.posts.little import escape_little
from attract.posts.models import CreatePostRequest

# twitter-text v3 configuration: weight 100 for these ranges, 200 for the rest, 100 per counted character.
LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
# URLs as twitter-text finds them, approximated: with a scheme, `www.`, or a bare domain of a common TLD.
_URL = re.compile(r"(?:https?://|www\.)[^\s]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|dev|jobs|ly|app)\b"
                  r"(?:/[^\s]*)?", re.IGNORECASE)
MAX_SCHEDULE_AHEAD = timedelta(days=365)  # further ahead is a mistake, not a plan
MIN_SCHEDULE_AHEAD = timedelta(seconds=60)  # sooner: post now


def _weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in LIGHT_RANGES) else 2


def weighted_length(text: str, url_chars: int = 23) -> int:
    """twitter-text's weighted length: NFC, 1 or 2 per code point, each URL `url_chars`."""
    text = unicodedata.normalize("NFC", text)
    total, position = 0, 0
    for match in _URL.finditer(text):
        total += sum(_weight(char) for char in text[position:match.start()]) + url_chars
        position = match.end()
    return total + sum(_weight(char) for char in text[position:])


def channel_length(row: OrganicChannel, text: str, link: str) -> int:
    """What `row`'s adapter sends as the post's text (the text, escaped where the platform wants it, then the tracked
    link after the row's separator, if it goes in the text at all), counted as that platform counts."""
    body = escape_little(text) if row.little_format else text
    length = weighted_length(body, row.url_chars) if row.url_chars is not None else len(body)
    if row.link_separator is not None:
        length += len(row.link_separator) + (row.url_chars if row.url_chars is not None else len(link))
    return length


def broken_rules(request: CreatePostRequest, link_length: int, now: datetime) -> list[dict]:
    """Every rule the request breaks ({field, location, rule, message}); `link_length`: a tracked link's length."""
    errors: list[dict] = []
    sample_link = "x" * link_length
    for name in request.channels:
        row = ORGANIC_CHANNELS[name]
        length = channel_length(row, request.text, sample_link)
        if length > row.max_chars:
            errors.append(_error("text", f"{row.source}.too_long",
                                 f"{name}: text and tracked link count {length} characters, the limit is {row.max_chars}"))
        if request.image_url is not None:
            path = urlsplit(request.image_url).path.lower()
            extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
            if extension not in row.images.types:
                errors.append(_error("image_url", "image_type",
                                     f"{name} takes images of type {', '.join(row.images.types)}"))
    if request.publish_at is not None:
        if request.publish_at < now + MIN_SCHEDULE_AHEAD:
            errors.append(_error("publish_at", "publish_at_past", "publish_at must be at least a minute ahead"))
        elif request.publish_at > now + MAX_SCHEDULE_AHEAD:
            errors.append(_error("publish_at", "publish_at_too_far", "publish_at must be within 365 days"))
    return errors


def check_limits(request: CreatePostRequest, link_length: int, now: datetime) -> None:
    """RulesBrokenError (422) listing every broken rule, before anything is stored or sent."""
    errors = broken_rules(request, link_length, now)
    if errors:
        raise RulesBrokenError("the post breaks platform rules", errors)


def _error(field: str, rule: str, message: str) -> dict:
    return {"field": field, "location": "body", "rule": rule, "message": message}
