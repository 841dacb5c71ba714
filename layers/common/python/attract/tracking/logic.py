"""Clicks on tracked links: resolve the link, record the touch, send the person on (or answer the landing).

The public redirect imports this on its cold start, so it stays free of pydantic: it reads a plain
`LinkTarget` and writes a plain `ClickTouch`. Touch ingest, which validates with pydantic models, is
attract.tracking.ingest.
"""

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from attract.errors import AlreadyExistsError, AttractError
from attract.links.records import LINK_CODE_PATTERN, LinkTarget
from attract.signing import Signer
from attract.tracking.bots import is_automated
from attract.tracking.records import (
    CLICK_ID_PARAMS,
    INVITE_PARAM,
    INVITE_TOKEN_PATTERN,
    MAX_CLICK_ID_BYTES,
    MAX_UTM_BYTES,
    UTM_PARAMS,
    VISITOR_ID_PATTERN,
    ClickTouch,
)

VISITOR_PARAM = "tc_vid"
CLICK_PARAM = "tc_click"
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)
_LINK_CODE = re.compile(LINK_CODE_PATTERN)
_INVITE_TOKEN = re.compile(INVITE_TOKEN_PATTERN)


class LinkUnavailableError(AttractError):
    """The link could not be read (DynamoDB failed): there is no destination to send the person to."""


class LinkReader(Protocol):
    def target(self, code: str) -> LinkTarget | None: ...


class ClickWriter(Protocol):
    def record_click(self, touch: ClickTouch, expires_at: int, ad_click: tuple[str, str] | None = None) -> None:
        """Write the touch; with `ad_click` (kind, id), only once per link and ad click (AlreadyExistsError)."""
        ...

    def count_click(self, code: str) -> None: ...

    def count_day_click(self, link: LinkTarget, at: datetime) -> None:
        """The click under the day's report keys (a report's `clicks` and `join_rate`)."""
        ...


@dataclass(frozen=True)
class ClickRequest:
    """The parts of a redirect (or landing) request that matter, taken from the API Gateway event by the handler."""

    code: str
    method: str = "GET"
    query: dict[str, str] = field(default_factory=dict)
    visitor_cookie: str | None = None
    user_agent: str | None = None
    referrer: str | None = None


@dataclass(frozen=True)
class ClickOutcome:
    location: str
    visitor_id: str | None  # None for bots: they get no cookie
    click_id: str | None
    recorded: bool
    # A human click whose touch ("touch") or count ("count") was lost, and the error's type; logged and counted.
    lost: tuple[str, str] | None = None


@dataclass(frozen=True)
class Visit:
    """One request to a tracked link, resolved and recorded: what the redirect and the landing answer from."""

    link: LinkTarget
    passthrough: dict[str, str]  # the incoming utm_*, click ids and tc_inv the redirect passes on
    visitor_id: str | None  # None for bots
    click_id: str | None  # None for bots and for a repeated landing
    recorded: bool
    lost: tuple[str, str] | None = None  # as ClickOutcome.lost
    repeated: bool = False  # a landing whose ad click this link had already recorded: nothing written


class CachedLinks:
    """Links are immutable, so a warm function keeps recent ones and skips the GetItem."""

    def __init__(self, reader: LinkReader, ttl_seconds: float = 300, max_items: int = 2048):
        self._reader = reader
        self._ttl = ttl_seconds
        self._max = max_items
        self._items: dict[str, tuple[float, LinkTarget]] = {}

    def target(self, code: str) -> LinkTarget | None:
        hit = self._items.get(code)
        now = time.monotonic()
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        found = self._reader.target(code)
        if found is not None:  # unknown codes are not cached: a link created a second later must work
            if len(self._items) >= self._max:
                self._items.pop(next(iter(self._items)))
            self._items[code] = (now, found)
        return found


def new_id() -> str:
    return secrets.token_urlsafe(16)


def valid_visitor_id(value: str | None) -> bool:
    return bool(value) and _VISITOR_ID.fullmatch(value) is not None  # type: ignore[arg-type]


def clean_referrer(referrer: str | None) -> str | None:
    """Scheme, host and path only: referrer queries can carry search terms or personal data."""
    if not referrer:
        return None
    referrer = referrer.encode("utf-8", "ignore").decode("utf-8")  # lone surrogates cannot be stored
    try:
        parts = urlsplit(referrer.strip())
        host = parts.hostname
    except ValueError:  # "http://[::1": urlsplit refuses it; an unreadable referrer is no referrer
        return None
    # A host longer than a stored label (100) is no real referrer: dropping it keeps the join storable.
    if parts.scheme not in ("http", "https") or not host or len(host) > 100:
        return None
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))[:1024]


def _picked(query: dict[str, str], names: tuple[str, ...], max_bytes: int) -> dict[str, str]:
    """Named parameters, trimmed and cut to `max_bytes` of UTF-8 on a character boundary."""
    picked = {}
    for name in names:
        value = query.get(name, "").strip().encode("utf-8", "ignore")[:max_bytes].decode("utf-8", "ignore").strip()
        if value:
            picked[name] = value
    return picked


def invite_passthrough(query: dict[str, str]) -> dict[str, str]:
    """The invitation token to pass on, if the click carries one of the right shape (never stored or logged here).

    The redirect does not check its signature: the join credits only a token whose hash the sender stored.
    """
    token = query.get(INVITE_PARAM, "").strip()
    return {INVITE_PARAM: token} if _INVITE_TOKEN.fullmatch(token) else {}


def redirect_location(destination: str, visitor_id: str | None, click_id: str | None, passthrough: dict[str, str]) -> str:
    """Destination with its own query kept, incoming campaign parameters passed on, and our ids added.

    A destination's own tc_vid, tc_click and tc_inv are dropped: they are the person's, never the link's.
    """
    parts = urlsplit(destination)
    pairs = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key not in (VISITOR_PARAM, CLICK_PARAM, INVITE_PARAM)]
    present = {key for key, _ in pairs}
    pairs += [(key, value) for key, value in passthrough.items() if key not in present]
    if visitor_id:
        pairs.append((VISITOR_PARAM, visitor_id))
    if click_id:
        pairs.append((CLICK_PARAM, click_id))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, doseq=False), parts.fragment))


def expiry(moment: datetime, retention_days: int) -> int:
    return int((moment + timedelta(days=retention_days)).timestamp())


def landing_click_id(click_ids: dict[str, str]) -> tuple[str, str] | None:
    """The ad platform's own id of this click (the first of CLICK_ID_PARAMS present), or None.

    Google and Meta issue one per ad click, so (link, click id) names one landing: a reload, a second tab
    or a shared URL repeats it and must not count it again.
    """
    return next(((kind, click_ids[kind]) for kind in CLICK_ID_PARAMS if kind in click_ids), None)


def record_visit(
    click: ClickRequest, links: LinkReader, touches: ClickWriter, now: datetime, retention_days: int,
    signer: Signer | None = None, once_per_ad_click: bool = False,
) -> Visit | None:
    """Resolve a tracked link; record a touch and count the click unless automated. None: unknown code.

    The one path of a click, whether the person comes through /r/ (the redirect) or lands on the
    careers page with tc_link (the landing). Recording never stands in the person's way: when the touch
    or the count cannot be written, the visit still has its ids and says what was lost. With
    `once_per_ad_click`, a click whose ad click id this link already recorded writes and counts nothing.
    """
    if not _LINK_CODE.fullmatch(click.code):  # no DynamoDB call for what cannot be a code
        return None
    try:
        link = links.target(click.code)
    except Exception as error:  # any store failure means "no destination right now"
        raise LinkUnavailableError(type(error).__name__) from error
    if link is None:
        return None
    click_ids = _picked(click.query, CLICK_ID_PARAMS, MAX_CLICK_ID_BYTES)
    utm = _picked(click.query, UTM_PARAMS, MAX_UTM_BYTES)
    passthrough = {**utm, **click_ids, **invite_passthrough(click.query)}

    if is_automated(click.user_agent, click.method):
        return Visit(link, passthrough, None, None, False)

    # Ids are signed (attract.signing) so a join can tell ours from forged ones; an unsigned id is replaced.
    # Only the browser's own cookie is kept: a tc_vid in the query is anyone's (a link can carry another
    # person's id), so adopting it would fix that id on this browser and credit its path to this person's join.
    cookie = click.visitor_cookie
    visitor_id = (cookie if valid_visitor_id(cookie) and (signer is None or signer.is_visitor_id(cookie)) else None) or (
        signer.new_visitor_id() if signer else new_id())
    click_id = signer.new_click_id() if signer else new_id()
    touch = ClickTouch(
        touch_id=click_id, occurred_at=now, visitor_id=visitor_id, link_code=link.code, campaign=link.campaign,
        channel=link.channel, source=link.source, medium=link.medium, content=link.content, term=link.term,
        click_ids=click_ids, utm=utm, referrer=clean_referrer(click.referrer),
    )
    ad_click = landing_click_id(click_ids) if once_per_ad_click else None
    # Broad on purpose: whatever the store raises (throttling, an outage, a conflict), only this click is lost.
    try:
        touches.record_click(touch, expiry(now, retention_days), ad_click=ad_click)
    except AlreadyExistsError:
        # Recorded before: no second touch, no second count, and no click id with nothing behind it.
        return Visit(link, passthrough, visitor_id, None, False, repeated=True)
    except Exception as error:  # noqa: BLE001
        return Visit(link, passthrough, visitor_id, click_id, False, ("touch", type(error).__name__))
    try:
        touches.count_click(link.code)
    except Exception as error:  # noqa: BLE001
        return Visit(link, passthrough, visitor_id, click_id, True, ("count", type(error).__name__))
    try:
        touches.count_day_click(link, now)
    except Exception as error:  # noqa: BLE001
        return Visit(link, passthrough, visitor_id, click_id, True, ("day_count", type(error).__name__))
    return Visit(link, passthrough, visitor_id, click_id, True)


def handle_click(
    click: ClickRequest, links: LinkReader, touches: ClickWriter, now: datetime, retention_days: int,
    signer: Signer | None = None,
) -> ClickOutcome | None:
    """GET /r/{code}: the visit, and where to send the person (the destination with the ids). None: unknown code."""
    visit = record_visit(click, links, touches, now, retention_days, signer)
    if visit is None:
        return None
    location = redirect_location(visit.link.destination, visit.visitor_id, visit.click_id, visit.passthrough)
    return ClickOutcome(location, visit.visitor_id, visit.click_id, visit.recorded, visit.lost)


def handle_landing(
    click: ClickRequest, links: LinkReader, touches: ClickWriter, now: datetime, retention_days: int,
    signer: Signer | None = None,
) -> Visit | None:
    """GET /l/{code}: an ad landed on the careers page itself (tc_link); recorded as /r/ would, once per ad click.

    The answer's ids are what the redirect would have put in the destination URL for a browser without
    our cookie: a new signed visitor id every time, never one from the query (the careers page's URL is
    anyone's to write). The snippet keeps its earlier tc_click values, which still find their visitors
    for the join. None: unknown code.
    """
    return record_visit(click, links, touches, now, retention_days, signer, once_per_ad_click=True)
