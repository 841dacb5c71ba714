"""Campaign lifecycle over the platform adapters: create a draft, dry-run or launch it, pause, resume, end.

The logic sees `AdsGateway` objects only (attract.campaigns.ports); which adapter stands behind a channel
is decided by the caller (attract.campaigns.gateways; tests point its endpoints at the local sandboxes).

A launch is idempotent and resumable:
- the employment-ad policy and the dates are checked first, again (the rules may be stricter than at
  creation, and a day has passed), and a violation reaches no platform;
- the campaign goes to `launching` with a conditional write and a lease: a concurrent launch gets 409,
  a launch that died (timeout, crash) is taken over once the lease has expired;
- each channel's tracked-link code is stored on the campaign *before* the link is created and before
  any ad points to it, so a retry reuses it and never makes a second link;
- every channel is created PAUSED first, and only when all exist is any of them activated: a platform
  refusing half-way leaves nothing spending;
- each adapter gets the ids already stored (`done`) and finds a half-made platform campaign by name,
  so a retry never creates a second one; its ids are stored as soon as it returns;
- any failure (a platform error, or an adapter's own crash) is stored (`last_error`: codes and request
  id) with status `failed`; launching again finishes what was left, and pause and end work from
  `failed` (and from a `launching` whose lease expired), so no state leaves a platform spending money
  that the API cannot stop. An `active` campaign is answered as it is: a client's retry is harmless.
"""

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
)
from pydantic import BaseModel

from attract.campaigns import policy
from attract.campaigns.channels import ad_channel
from attract.campaigns.models import CampaignDraft, LaunchPlan, PlatformIds
from attract.campaigns.ports import AdsGateway, PlatformError, PlatformStatus
from attract.campaigns.records import Campaign, CampaignResponse, DryRunChannel, DryRunResponse, TrackedLink
from attract.errors import AlreadyExistsError, ConflictError, InvalidRequestError, NotFoundError, RulesBrokenError
from attract.idempotency import once_per_command
from attract.links.logic import LinkStore, new_code, tracked_url
from attract.links.models import Link, host_allowed
from attract.tracking.landing import landing_params

# Longer than the function's timeout: a launch still running is never taken over.
LAUNCH_LEASE = timedelta(minutes=2)
Gateways = Callable[[str], AdsGateway]
T = TypeVar("T")


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
    """Store a new draft; a draft breaking an employment-ad rule, or dated where no platform would run it,
    is refused here already (422)."""
    policy.enforce(draft, now.date())
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


def check_destination(draft: CampaignDraft, allowed_hosts: tuple[str, ...]) -> None:
    """422 on `destination` unless its host is on DestinationHosts (empty: any), as for tracked links.

    The ads land on the destination itself, so the allow-list guards the ads as it guards the links.
    """
    if not host_allowed(draft.destination, allowed_hosts):
        raise InvalidRequestError("destination", "destination_host_not_allowed",
                                  "destination host is not on the allow-list (DestinationHosts)", location="body")


def get_campaign(campaign_id: str, store: CampaignStore) -> Campaign:
    campaign = store.get(campaign_id)
    if campaign is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    return campaign


def launch_plan(campaign: Campaign, channel: str, code: str, now: datetime) -> LaunchPlan:
    """What one platform is sent: the ads land on the destination with the tracked link's code and utm values.

    A start date that has passed (a draft launched late) is sent as "start now": Google refuses a past
    date for the whole atomic create (CANNOT_SET_DATE_TO_PAST).
    """
    draft, entry = campaign.draft, ad_channel(channel)
    params = tuple(landing_params(code, entry.source, entry.medium, draft.name))
    return LaunchPlan(campaign_id=campaign.id, platform_name=platform_name(campaign.id, draft), draft=draft,
                      landing_url=draft.destination, url_params=params,
                      start_date=draft.start_date if draft.start_date > now.date() else None, end_date=draft.end_date)


def launch(campaign_id: str, *, store: CampaignStore, links: LinkStore, gateways: Gateways, now: datetime,
           owner: str, registry: PlatformCampaignRegistry | None = None,
           allowed_hosts: tuple[str, ...] = ()) -> Campaign:
    """Launch on every channel of the draft, or finish a launch that failed or died half-way.

    Every channel is created paused before any is activated. Each platform campaign is registered
    (`registry`, idempotent) once its ids are stored, so the spend sync reports its spend under the
    draft's name; a resumed launch registers again.
    """
    campaign = _checked(campaign_id, store, now, allowed_hosts)
    if campaign.status == "active":
        return campaign
    if campaign.status == "ended" or (campaign.status == "paused" and _complete(campaign)):
        raise ConflictError(f"campaign {campaign_id} is {campaign.status}: it was launched already")
    started = campaign.launch_started_at
    if campaign.status == "launching" and started is not None and now - started < LAUNCH_LEASE:
        raise ConflictError(f"a launch of campaign {campaign_id} is in progress; retry shortly")
    _preflight(campaign, gateways, store, now)
    campaign = store.save(_changed(campaign, now, status="launching", launch_started_at=now))
    for channel in campaign.draft.channels:
        campaign, code = _tracked_link(campaign, channel, store, links, now, owner)
        done = campaign.platform_ids.get(channel) or PlatformIds()
        if not _created(done):
            plan = launch_plan(campaign, channel, code, now)
            done = _on_platform(campaign, channel, store, now,
                                lambda: gateways(channel).create_paused(plan, done))  # noqa: B023 - called at once
            campaign = store.save(_changed(campaign, now, platform_ids={**campaign.platform_ids, channel: done}))
        _register(registry, channel, done, campaign, store, now)
    for channel in campaign.draft.channels:  # all exist: only now does anything start spending
        ids = campaign.platform_ids[channel]
        if ids.status != "ENABLED":
            ids = _on_platform(campaign, channel, store, now,
                               lambda: gateways(channel).activate(ids))  # noqa: B023 - called at once
            campaign = store.save(_changed(campaign, now, platform_ids={**campaign.platform_ids, channel: ids}))
    return store.save(_changed(campaign, now, status="active", launch_started_at=None, last_error=None))


def dry_run(campaign_id: str, *, store: CampaignStore, gateways: Gateways, now: datetime,
            allowed_hosts: tuple[str, ...] = ()) -> DryRunResponse:
    """The whole launch sent with each platform's validate-only option: what each platform said, nothing created.

    Our own rules come first (a violation is a 422, as for a launch). A platform's refusal is part of the
    answer, not an error: a marketer checks a draft against the real platforms before spending. No tracked
    link is created; a channel without one is checked with a fresh code of the same shape.
    """
    campaign = _checked(campaign_id, store, now, allowed_hosts)
    to_create = _to_create(campaign)
    results = {}
    for channel in campaign.draft.channels:
        if channel not in to_create:
            # The platform would refuse a second campaign of the same name: there is nothing left to check.
            results[channel] = DryRunChannel(ok=True, warnings=["already created on this platform: nothing to check"])
            continue
        try:
            warnings = gateways(channel).dry_run(_unlinked_plan(campaign, channel, now))
        except PlatformError as error:
            results[channel] = DryRunChannel(ok=False, message=error.message, codes=error.codes,
                                             request_id=error.request_id, retryable=error.retryable)
        else:
            results[channel] = DryRunChannel(ok=True, warnings=warnings)
    return DryRunResponse(id=campaign.id, ok=all(result.ok for result in results.values()), channels=results)


def _preflight(campaign: Campaign, gateways: Gateways, store: CampaignStore, now: datetime) -> None:
    """Every channel still to create checks the draft against its account first (RulesBrokenError: 422,
    PlatformError: 502): a draft one platform refuses creates nothing anywhere. The campaign keeps its
    status; the refusal is stored as `last_error`, so GET says why the launch did not start."""
    for channel in _to_create(campaign):
        try:
            gateways(channel).preflight(_unlinked_plan(campaign, channel, now))
        except PlatformError as error:
            store.save(_changed(campaign, now, last_error=_platform_error(channel, error, now)))
            raise
        except RulesBrokenError as error:
            store.save(_changed(campaign, now, last_error=_rules_error(channel, error, now)))
            raise


def _created(ids: PlatformIds) -> bool:
    return bool(ids.campaign and ids.ad_group and ids.ad)


def _to_create(campaign: Campaign) -> list[str]:
    """The draft's channels that do not exist on their platform yet."""
    return [channel for channel in campaign.draft.channels
            if not _created(campaign.platform_ids.get(channel) or PlatformIds())]  # type: ignore[call-overload]


def _complete(campaign: Campaign) -> bool:
    """Every channel of the draft exists on its platform (a launch finished creating it)."""
    return not _to_create(campaign)


def _unlinked_plan(campaign: Campaign, channel: str, now: datetime) -> LaunchPlan:
    """The plan a check sends before the tracked link exists: its stored code, or a fresh one of the same shape."""
    return launch_plan(campaign, channel, campaign.link_codes.get(channel) or new_code(), now)  # type: ignore[call-overload]


def _checked(campaign_id: str, store: CampaignStore, now: datetime, allowed_hosts: tuple[str, ...]) -> Campaign:
    """The campaign, once our own rules pass today (the rules, the dates and the allow-list may have changed)."""
    campaign = get_campaign(campaign_id, store)
    policy.enforce(campaign.draft, now.date())
    check_destination(campaign.draft, allowed_hosts)
    return campaign


def _on_platform(campaign: Campaign, channel: str, store: CampaignStore, now: datetime, call: Callable[[], T]) -> T:
    """`call()`; any failure leaves the campaign `failed` with the error stored, never stuck in `launching`.

    An adapter's own crash (a bug, an SDK surprise) is stored and answered like a platform refusal (502),
    so pause, end and a later launch still work.
    """
    try:
        return call()
    except PlatformError as error:
        store.save(_changed(campaign, now, status="failed", launch_started_at=None,
                            last_error=_platform_error(channel, error, now)))
        raise
    except RulesBrokenError as error:  # a rule only the adapter can check (its secret, its account): a 422
        store.save(_changed(campaign, now, status="failed", launch_started_at=None,
                            last_error=_rules_error(channel, error, now)))
        raise
    except Exception as error:  # noqa: BLE001 - stored by type only: an SDK's message may quote the request
        failure = PlatformError(channel, f"the {channel} adapter failed ({type(error).__name__})",
                                [f"attract:adapter_error:{type(error).__name__}"])
        store.save(_changed(campaign, now, status="failed", launch_started_at=None,
                            last_error=_platform_error(channel, failure, now)))
        raise failure from None


def _register(registry: PlatformCampaignRegistry | None, channel: str, ids: PlatformIds, campaign: Campaign,
              store: CampaignStore, now: datetime) -> None:
    if registry is None or not ids.campaign:
        return
    try:
        registry.register_platform_campaign(channel, ids.campaign, campaign.id, campaign.draft.name,
                                            ad_channel(channel).source)
    except ConflictError as error:  # the platform id is another campaign's: never report its spend as ours
        store.save(_changed(campaign, now, status="failed", launch_started_at=None, last_error={
            "channel": channel, "platform": channel, "message": str(error),
            "codes": ["attract:platform_campaign_conflict"], "request_id": None, "retryable": False,
            "at": now.isoformat()}))
        raise


# Which status each action needs, the platform status it sets and the campaign status it leaves. Pause and
# end work from `failed` and `launching` too: a launch that failed half-way may have a channel spending.
_TRANSITIONS: dict[str, tuple[tuple[str, ...], PlatformStatus, str]] = {
    "pause": (("active", "failed", "launching"), "PAUSED", "paused"),
    "resume": (("paused",), "ENABLED", "active"),
    "end": (("draft", "active", "paused", "failed", "launching"), "REMOVED", "ended"),
}


def change_status(campaign_id: str, action: str, *, store: CampaignStore, gateways: Gateways,
                  now: datetime) -> Campaign:
    """pause | resume | end on every channel that has a platform campaign. Repeating an action is harmless.

    A launch still running (its lease not expired) is waited for (409): it would enable what is paused.
    Resume needs a complete launch: a channel never created cannot be enabled, so the answer is 409 and
    launching again finishes it.
    """
    allowed, platform_status, target = _TRANSITIONS[action]
    campaign = get_campaign(campaign_id, store)
    if campaign.status == target:
        return campaign  # a client's retry: nothing to do
    if campaign.status not in allowed:
        raise ConflictError(f"campaign {campaign_id} is {campaign.status}: cannot {action}")
    started = campaign.launch_started_at
    if campaign.status == "launching" and started is not None and now - started < LAUNCH_LEASE:
        raise ConflictError(f"a launch of campaign {campaign_id} is in progress; retry shortly")
    if action == "resume" and not _complete(campaign):
        raise ConflictError(f"campaign {campaign_id} was never fully launched: launch it to finish")
    for channel, ids in campaign.platform_ids.items():
        if ids.campaign is None or ids.status == platform_status:
            continue
        try:
            changed = gateways(channel).set_status(ids, platform_status)
        except PlatformError as error:
            store.save(_changed(campaign, now, last_error=_platform_error(channel, error, now)))
            raise
        campaign = store.save(_changed(campaign, now, platform_ids={**campaign.platform_ids, channel: changed}))
    return store.save(_changed(campaign, now, status=target, launch_started_at=None, last_error=None))


def campaign_response(campaign: Campaign, base_url: str,
                      sync: Mapping[str, Mapping[str, Any] | None] | None = None) -> CampaignResponse:
    """The API's view; `sync` is each channel's last spend sync (attract.campaigns.spend_repository.last_sync),
    shown for the channels the campaign exists on: a draft, never launched, has had nothing synced."""
    channel_sync = {channel: dict(found) for channel, found in (sync or {}).items()
                    if found is not None and channel in campaign.draft.channels and channel in campaign.platform_ids}
    successes = [datetime.fromisoformat(str(found["last_success_at"])) for found in channel_sync.values()
                 if found.get("last_success_at")]
    return CampaignResponse(
        id=campaign.id, status=campaign.status, draft=campaign.draft, platform_ids=campaign.platform_ids,
        links={channel: TrackedLink(code=code, url=tracked_url(base_url, code),
                                    ad_url=_with_params(campaign.draft.destination, launch_plan(
                                        campaign, channel, code, campaign.updated_at).url_suffix))
               for channel, code in campaign.link_codes.items()},
        last_sync=max(successes, default=campaign.last_sync), sync=channel_sync, last_error=campaign.last_error,
        version=campaign.version, created_at=campaign.created_at, updated_at=campaign.updated_at)


def _with_params(url: str, suffix: str) -> str:
    """The URL the platform sends people to: `url` with the suffix appended, as Google and Meta do."""
    base, _, fragment = url.partition("#")
    joined = f"{base}{'&' if '?' in base else '?'}{suffix}"
    return f"{joined}#{fragment}" if fragment else joined


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
        entry = ad_channel(channel)
        link = Link(code=code, destination=campaign.draft.destination, created_at=now, created_by=owner,
                    campaign=campaign.draft.name, channel=entry.report_channel, source=entry.source,
                    medium=entry.medium)
        try:
            links.create(link)
        except AlreadyExistsError:
            pass  # created by the attempt that stored this code: the same link
    return campaign, code


def _rules_error(channel: str, error: RulesBrokenError, now: datetime) -> dict[str, Any]:
    rules = sorted({str(entry.get("rule")) for entry in error.errors})
    return {"channel": channel, "platform": channel, "message": error.message, "codes": rules, "request_id": None,
            "retryable": False, "at": now.isoformat()}


def _platform_error(channel: str, error: PlatformError, now: datetime) -> dict[str, Any]:
    return {"channel": channel, **error.as_json(), "retryable": error.retryable, "at": now.isoformat()}
