"""Campaign lifecycle over the platform adapters: create a draft, launch it, pause, resume, end.

The logic sees `AdsGateway` objects only (attract.providers.ads); which adapter stands behind a channel
is decided by the caller (attract.campaigns.gateways; tests point its endpoints at the local sandboxes).

A launch is idempotent and resumable:
- the employment-ad policy is checked first, again (the rules may be stricter than at creation), and
  a violation reaches no platform;
- the campaign goes to `launching` with a conditional write and a lease: a concurrent launch gets 409,
  a launch that died (timeout, crash) is taken over once the lease has expired;
- each channel's tracked-link code is stored on the campaign *before* the link is created and before
  any ad points to it, so a retry reuses it and never makes a second link;
- each adapter gets the ids already stored (`done`) and finds a half-made platform campaign by name,
  so a retry never creates a second one; its ids are stored as soon as it returns;
- a platform error is stored (`last_error`: codes and request id) with status `failed`; launching
  again finishes what was left. An `active` campaign is answered as it is: a client's retry is harmless.
"""

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
)
from pydantic import BaseModel

from attract.campaigns import policy
from attract.campaigns.models import GOOGLE_SEARCH, META, CampaignDraft, LaunchPlan, PlatformIds
from attract.campaigns.records import Campaign, CampaignResponse, TrackedLink
from attract.dimensions import Channel
from attract.errors import AlreadyExistsError, ConflictError, NotFoundError
from attract.idempotency import once_per_command
from attract.links.logic import LinkStore, new_code, tracked_url
from attract.links.models import Link
from attract.providers.ads import AdsGateway, PlatformError, PlatformStatus

# channel -> (link channel, source, medium): how reports name the clicks of each platform's ads
LINK_DIMENSIONS = {GOOGLE_SEARCH: (Channel.PAID_SEARCH, "google", "cpc"), META: (Channel.PAID_SOCIAL, "meta", "paid_social")}
# Longer than the function's timeout: a launch still running is never taken over.
LAUNCH_LEASE = timedelta(minutes=2)
Gateways = Callable[[str], AdsGateway]


class CampaignStore(Protocol):
    def create(self, campaign: Campaign) -> None: ...
    def get(self, campaign_id: str) -> Campaign | None: ...
    def save(self, campaign: Campaign) -> Campaign: ...


class PlatformCampaignRegistry(Protocol):
    """The spend sync's map from platform campaign ids to ours (attract.campaigns.spend_repository)."""

    def register_platform_campaign(self, channel: str, platform_campaign_id: str, campaign_id: str, name: str,
                                   source: str | None = None) -> None: ...


def new_campaign_id() -> str:
    return secrets.token_urlsafe(12)  # 16 characters of [A-Za-z0-9_-]


def platform_name(campaign_id: str, draft: CampaignDraft) -> str:
    """The platform object's name; the `[attract:<id>]` tag is how an adapter finds a half-made launch."""
    return f"{draft.name} [attract:{campaign_id}]"


def create_campaign(draft: CampaignDraft, owner: str, store: CampaignStore, now: datetime,
                    id_factory: Callable[[], str] = new_campaign_id) -> Campaign:
    """Store a new draft; a draft breaking an employment-ad rule is refused here already (422)."""
    policy.enforce(draft)
    campaign = Campaign(id=id_factory(), draft=draft, created_at=now, created_by=owner, updated_at=now)
    store.create(campaign)
    return campaign


class CreateCampaignCommand(BaseModel):
    """What makes two create requests "the same" for idempotency: who asked, and for which draft."""

    owner: str
    draft: CampaignDraft


class IdempotentCreateCampaign(Protocol):
    config: IdempotencyConfig

    def __call__(self, *, command: CreateCampaignCommand, store: CampaignStore, now: datetime) -> Campaign: ...


@lru_cache(maxsize=4)
def idempotent_create_campaign(idempotency_table: str, expires_after_seconds: int) -> IdempotentCreateCampaign:
    """`create_campaign` once per (owner, draft) within the window: a client's retry gets the same campaign."""
    def create_campaign_once(*, command: CreateCampaignCommand, store: CampaignStore, now: datetime) -> Campaign:
        return create_campaign(command.draft, command.owner, store, now)

    return once_per_command(create_campaign_once, idempotency_table=idempotency_table,  # type: ignore[no-any-return]
                            expires_after_seconds=expires_after_seconds, key_prefix="create_campaign")


def get_campaign(campaign_id: str, store: CampaignStore) -> Campaign:
    campaign = store.get(campaign_id)
    if campaign is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    return campaign


def launch(campaign_id: str, *, store: CampaignStore, links: LinkStore, gateways: Gateways, now: datetime,
           base_url: str, owner: str, registry: PlatformCampaignRegistry | None = None) -> Campaign:
    """Launch on every channel of the draft, or finish a launch that failed or died half-way.

    Each platform campaign is registered (`registry`, idempotent) once its ids are stored, so the spend
    sync reports its spend under the draft's name; a resumed launch registers again.
    """
    campaign = get_campaign(campaign_id, store)
    policy.enforce(campaign.draft)
    if campaign.status == "active":
        return campaign
    if campaign.status in ("paused", "ended"):
        raise ConflictError(f"campaign {campaign_id} is {campaign.status}: it was launched already")
    started = campaign.launch_started_at
    if campaign.status == "launching" and started is not None and now - started < LAUNCH_LEASE:
        raise ConflictError(f"a launch of campaign {campaign_id} is in progress; retry shortly")
    campaign = store.save(_changed(campaign, now, status="launching", launch_started_at=now))
    for channel in campaign.draft.channels:
        campaign, code = _tracked_link(campaign, channel, store, links, now, owner)
        done = campaign.platform_ids.get(channel) or PlatformIds()
        if done.status == "ENABLED" and done.ad:
            _register(registry, channel, done, campaign, store, now)  # finished by an earlier attempt, maybe unregistered
            continue
        plan = LaunchPlan(campaign_id=campaign.id, platform_name=platform_name(campaign.id, campaign.draft),
                          draft=campaign.draft, final_url=tracked_url(base_url, code))
        try:
            ids = gateways(channel).launch(plan, done)
        except PlatformError as error:
            store.save(_changed(campaign, now, status="failed", launch_started_at=None,
                                last_error=_platform_error(channel, error, now)))
            raise
        campaign = store.save(_changed(campaign, now, platform_ids={**campaign.platform_ids, channel: ids}))
        _register(registry, channel, ids, campaign, store, now)
    return store.save(_changed(campaign, now, status="active", launch_started_at=None, last_error=None))


def _register(registry: PlatformCampaignRegistry | None, channel: str, ids: PlatformIds, campaign: Campaign,
              store: CampaignStore, now: datetime) -> None:
    if registry is None or not ids.campaign:
        return
    try:
        registry.register_platform_campaign(channel, ids.campaign, campaign.id, campaign.draft.name,
                                            LINK_DIMENSIONS[channel][1])
    except ConflictError as error:  # the platform id is another campaign's: never report its spend as ours
        store.save(_changed(campaign, now, status="failed", launch_started_at=None, last_error={
            "channel": channel, "platform": channel, "message": str(error),
            "codes": ["attract:platform_campaign_conflict"], "request_id": None, "retryable": False,
            "at": now.isoformat()}))
        raise


# Which status each action needs, the platform status it sets and the campaign status it leaves.
_TRANSITIONS: dict[str, tuple[tuple[str, ...], PlatformStatus, str]] = {
    "pause": (("active",), "PAUSED", "paused"),
    "resume": (("paused",), "ENABLED", "active"),
    "end": (("draft", "active", "paused", "failed"), "REMOVED", "ended"),
}


def change_status(campaign_id: str, action: str, *, store: CampaignStore, gateways: Gateways,
                  now: datetime) -> Campaign:
    """pause | resume | end on every channel that has a platform campaign. Repeating an action is harmless."""
    allowed, platform_status, target = _TRANSITIONS[action]
    campaign = get_campaign(campaign_id, store)
    if campaign.status == target:
        return campaign  # a client's retry: nothing to do
    if campaign.status not in allowed:
        raise ConflictError(f"campaign {campaign_id} is {campaign.status}: cannot {action}")
    for channel, ids in campaign.platform_ids.items():
        if ids.campaign is None or ids.status == platform_status:
            continue
        try:
            changed = gateways(channel).set_status(ids, platform_status)
        except PlatformError as error:
            store.save(_changed(campaign, now, last_error=_platform_error(channel, error, now)))
            raise
        campaign = store.save(_changed(campaign, now, platform_ids={**campaign.platform_ids, channel: changed}))
    return store.save(_changed(campaign, now, status=target, last_error=None))


def campaign_response(campaign: Campaign, base_url: str,
                      sync: Mapping[str, Mapping[str, Any] | None] | None = None) -> CampaignResponse:
    """The API's view; `sync` is each channel's last spend sync (attract.campaigns.spend_repository.last_sync)."""
    channel_sync = {channel: dict(found) for channel, found in (sync or {}).items()
                    if found is not None and channel in campaign.draft.channels}
    successes = [datetime.fromisoformat(str(found["last_success_at"])) for found in channel_sync.values()
                 if found.get("last_success_at")]
    return CampaignResponse(
        id=campaign.id, status=campaign.status, draft=campaign.draft, platform_ids=campaign.platform_ids,
        links={channel: TrackedLink(code=code, url=tracked_url(base_url, code))
               for channel, code in campaign.link_codes.items()},
        last_sync=max(successes, default=campaign.last_sync), sync=channel_sync, last_error=campaign.last_error,
        version=campaign.version, created_at=campaign.created_at, updated_at=campaign.updated_at)


def _changed(campaign: Campaign, now: datetime, **changes: Any) -> Campaign:
    return campaign.model_copy(update={**changes, "updated_at": now})


def _tracked_link(campaign: Campaign, channel: str, store: CampaignStore, links: LinkStore, now: datetime,
                  owner: str) -> tuple[Campaign, str]:
    """The channel's tracked link: its code stored on the campaign first, then the link itself (once)."""
    code = campaign.link_codes.get(channel)  # type: ignore[call-overload]
    if code is None:
        code = new_code()
        campaign = store.save(_changed(campaign, now, link_codes={**campaign.link_codes, channel: code}))
    if links.get(code) is None:
        link_channel, source, medium = LINK_DIMENSIONS[channel]
        link = Link(code=code, destination=campaign.draft.destination, created_at=now, created_by=owner,
                    campaign=campaign.draft.name, channel=link_channel, source=source, medium=medium)
        try:
            links.create(link)
        except AlreadyExistsError:
            pass  # created by the attempt that stored this code: the same link
    return campaign, code


def _platform_error(channel: str, error: PlatformError, now: datetime) -> dict[str, Any]:
    return {"channel": channel, **error.as_json(), "retryable": error.retryable, "at": now.isoformat()}
