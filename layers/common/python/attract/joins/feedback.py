"""The message a confirmed join sends to the conversions queue (issue 8), built at confirmation time.

Only with the person's consent to tell the ad platform that brought them (JoinRequest.ads_consent), and
only when the credited path came from an ad: a Google click id (gclid, gbraid, wbraid) or a Google
paid-search link (enhanced conversions for leads), a Meta click id (fbclid) or a Meta paid-social link.
The message never holds the raw email: each platform's hash of it is computed here, because the
confirmation is the last place that holds the address. Meta's is SHA-256 of the trimmed lower-case
address; Google's Data Manager API normalises Gmail addresses further (`google_email_sha256`). Plain dicts
and hashlib only: the public joins function stays light.

Version 2 adds `google_email_sha256` and `google_click_at` (the latest Google ad touch: Google refuses a
conversion within 6 hours of its click, so the uploader holds it until then); the consumer still reads
version 1 (attract.campaigns.conversions.ConversionMessage).

Meta's Conversions API requires `client_user_agent` and `event_source_url` with website events: the join
form's browser user agent and page (the submission's User-Agent and Referer/Origin headers), kept on the
pending join with the ads consent only (`browser_context`).
"""

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from attract.tracking.logic import clean_referrer
from attract.tracking.models import Touch

if TYPE_CHECKING:  # the ads registry is imported by confirmations only (conversion_message), never at submit
    from attract.campaigns.channels import AdChannel

MAX_USER_AGENT = 512  # real browsers' are far shorter; a longer header is cut, not refused
MESSAGE_VERSION = 2
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def email_sha256(normalised_email: str) -> str:
    """Meta's matching format: SHA-256 hex of the trimmed, lower-case address."""
    return hashlib.sha256(normalised_email.strip().lower().encode()).hexdigest()


def google_email_sha256(email: str) -> str:
    """Google's matching format (Data Manager API, "Format user data"): SHA-256 hex of the address with all
    whitespace removed, lower-cased, and for gmail.com / googlemail.com the local part's `+tag` and every dot
    dropped (cloudy.sanfrancisco+shopping@gmail.com -> cloudysanfrancisco@gmail.com); other domains keep
    theirs. https://developers.google.com/data-manager/api/devguides/concepts/formatting
    """
    address = "".join(email.split()).lower()
    local, at, domain = address.rpartition("@")
    if at and domain in GMAIL_DOMAINS:
        address = f"{local.split('+', 1)[0].replace('.', '')}@{domain}"
    return hashlib.sha256(address.encode()).hexdigest()


# The platforms' email hashes, by the queue message field that carries each (ConversionsRoute.email_hash_field)
EMAIL_HASHES = {"email_sha256": email_sha256, "google_email_sha256": google_email_sha256}


def browser_context(headers: dict[str, str]) -> dict[str, str]:
    """The join form's user agent and page (scheme, host and path: a query string can hold personal data)."""
    context: dict[str, str] = {}
    # Headers are the caller's bytes: only printable ASCII is passed on, and a URL urlsplit refuses is none.
    user_agent = (headers.get("user-agent") or "").strip()
    if user_agent and _printable(user_agent):
        context["client_user_agent"] = user_agent[:MAX_USER_AGENT]
    for header in ("referer", "origin"):  # a cross-origin form's Referer is often its origin only
        page = clean_referrer(headers.get(header))  # scheme, host and path, as touches store referrers
        if page and _printable(page):
            context["event_source_url"] = page if urlsplit(page).path else page + "/"
            break
    return context


def _from(entry: "AdChannel", touch: Touch) -> bool:
    """The touch came from this channel's ads: one of its click ids, or one of its tracked links."""
    return any(touch.click_ids.get(kind) for kind in entry.click_ids) or (
        touch.channel == entry.report_channel and touch.source in entry.sources)


def _printable(text: str) -> bool:
    return text.isascii() and text.isprintable()


def conversion_message(join_id: str, joined_at: datetime, email: str, path: list[Touch], consented: bool,
                       browser: dict[str, str] | None = None) -> dict | None:
    """The queue message of a confirmed join, or None when nothing may or need be reported.

    `browser` is the form's `browser_context` (Meta's website events need it).
    """
    if not consented:
        return None
    from attract.campaigns.channels import AD_CHANNELS, all_click_ids  # the ads registry: confirmations only

    latest: dict[str, tuple[str, datetime]] = {}
    for touch in sorted(path, key=lambda t: (t.occurred_at, t.touch_id)):  # the latest click of each kind wins
        for kind in all_click_ids():
            if touch.click_ids.get(kind):
                latest[kind] = (touch.click_ids[kind], touch.occurred_at)
    # A channel is told when its click id is on the path, or one of its tracked links (its report channel and source)
    told = [entry for entry in AD_CHANNELS.values() if any(_from(entry, t) for t in path)]
    if not told:
        return None
    message: dict = {"v": MESSAGE_VERSION, "join_id": join_id, "joined_at": joined_at.isoformat(),
                     "channels": [entry.name for entry in told]}
    message |= {kind: value for kind, (value, _) in latest.items()}
    for entry in told:
        # Only the hash each told platform matches on: no platform's format travels without a reason
        field = entry.conversions.email_hash_field
        message[field] = EMAIL_HASHES[field](email)
        if entry.conversions.click_time_field:  # it refuses conversions soon after the click: its latest ad touch
            message[entry.conversions.click_time_field] = max(t.occurred_at for t in path if _from(entry, t)).isoformat()
    if "fbclid" in latest:
        message["fbclid_at"] = latest["fbclid"][1].isoformat()
    message |= {key: value for key, value in (browser or {}).items() if key in ("client_user_agent", "event_source_url")}
    return message
