"""The message a confirmed join sends to the conversions queue (issue 8), built at confirmation time.

Only with the person's consent to tell the ad platform that brought them (JoinRequest.ads_consent), and
only when the credited path came from an ad: a Google click id (gclid, gbraid, wbraid) or a Google
paid-search link (enhanced conversions for leads), a Meta click id (fbclid) or a Meta paid-social link.
The message never holds the raw email: the platforms' format, SHA-256 of the trimmed lower-case address,
is computed here because the confirmation is the last place that holds the address. Plain dicts and
hashlib only: the public joins function stays light.

Meta's Conversions API requires `client_user_agent` and `event_source_url` with website events: the join
form's browser user agent and page (the submission's User-Agent and Referer/Origin headers), kept on the
pending join with the ads consent only (`browser_context`).
"""

import hashlib
from datetime import datetime
from urllib.parse import urlsplit

from attract.tracking.logic import clean_referrer
from attract.tracking.models import Touch

MAX_USER_AGENT = 512  # real browsers' are far shorter; a longer header is cut, not refused
MESSAGE_VERSION = 1


def email_sha256(normalised_email: str) -> str:
    """Google's and Meta's matching format: SHA-256 hex of the trimmed, lower-case address."""
    return hashlib.sha256(normalised_email.strip().lower().encode()).hexdigest()


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
    channels = [entry.name for entry in AD_CHANNELS.values()
                if any(kind in latest for kind in entry.click_ids)
                or any(t.channel == entry.report_channel and t.source in entry.sources for t in path)]
    if not channels:
        return None
    message: dict = {"v": MESSAGE_VERSION, "join_id": join_id, "joined_at": joined_at.isoformat(), "channels": channels,
                     "email_sha256": email_sha256(email)}
    message |= {kind: value for kind, (value, _) in latest.items()}
    if "fbclid" in latest:
        message["fbclid_at"] = latest["fbclid"][1].isoformat()
    message |= {key: value for key, value in (browser or {}).items() if key in ("client_user_agent", "event_source_url")}
    return message
