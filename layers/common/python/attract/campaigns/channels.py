"""The channel registry: one row per ads platform channel, and everything else asks it.

A row holds what used to be spread over several vocabularies (`google_search`/`meta` in drafts,
`google`/`meta` in policy rules, `paid_search`/`paid_social` in reports) and if/else chains (which secret
and endpoint belong to which channel): the draft's channel name, the policy rules' platform prefix, how
reports name its clicks (the tracked link's channel, source and medium), which click ids it appends, its
adapter, the settings that hold its secret and endpoint, and its local sandbox.

Adding a channel (LinkedIn, say) is one adapter implementing `attract.campaigns.ports.AdsGateway` (and
`ConversionUploader`, unless conversions go through another API, as Google's do), one row here, and one
sandbox in `attract_local.sandboxes`. Nothing here imports an SDK or a provider: the
adapters are named by module path and imported lazily (attract.campaigns.gateways).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import get_args

from attract.campaigns.models import ChannelName
from attract.dimensions import Channel


@dataclass(frozen=True)
class ConversionsRoute:
    """Where a channel's confirmed joins go: the adapter, its credentials and endpoint, and how long to wait."""

    adapter: str  # "module:Class" implementing ConversionUploader, constructed like `AdChannel.adapter`
    secret_setting: str
    endpoint_setting: str
    sandbox: str  # the local wire sandbox of that API
    # No upload sooner than this after the click: Google refuses (TOO_RECENT) a conversion within 6 hours of
    # its click; those wait in the delayed path (attract.campaigns.conversions) instead of being retried.
    min_delay: timedelta = timedelta(0)
    click_time_field: str | None = None  # the queue message's field holding that click's time
    email_hash_field: str = "email_sha256"  # the queue message's field holding the email hashed the platform's way


@dataclass(frozen=True)
class AdChannel:
    name: str  # the draft's channel: "google_search" | "meta"
    platform: str  # the policy rules' prefix ("google.no_age", "meta.age_fixed_18_65")
    report_channel: Channel  # the tracked link's channel: what reports group its clicks, joins and spend under
    source: str  # the tracked link's source (and utm_source)
    medium: str  # the tracked link's medium (and utm_medium)
    click_ids: tuple[str, ...]  # the click ids the platform appends to the landing page's URL
    # Touch sources that mean this platform, besides `source` (a Meta ad may be tagged facebook or instagram)
    also_sources: frozenset[str]
    adapter: str  # "module:Class" implementing AdsGateway, constructed as (config, endpoint, attempts=, backoff_base_s=)
    secret_setting: str  # the Settings field naming its credentials secret
    endpoint_setting: str  # the Settings field holding its API endpoint
    sandbox: str  # the local wire sandbox (attract_local.sandboxes.*), for make local, demo and tests
    conversions: ConversionsRoute  # confirmed joins fed back (ads consent only)

    @property
    def sources(self) -> frozenset[str]:
        return self.also_sources | {self.source}


AD_CHANNELS: dict[str, AdChannel] = {entry.name: entry for entry in (
    AdChannel(name="google_search", platform="google", report_channel=Channel.PAID_SEARCH, source="google",
              medium="cpc", click_ids=("gclid", "gbraid", "wbraid"), also_sources=frozenset(),
              adapter="attract.providers.google_ads:GoogleAdsGateway", secret_setting="google_ads_secret_id",
              endpoint_setting="google_ads_endpoint", sandbox="attract_local.sandboxes.google_ads",
              conversions=ConversionsRoute(
                  adapter="attract.providers.google_datamanager:DataManagerUploader",
                  secret_setting="google_ads_secret_id", endpoint_setting="google_datamanager_endpoint",
                  sandbox="attract_local.sandboxes.datamanager", min_delay=timedelta(hours=6),
                  click_time_field="google_click_at", email_hash_field="google_email_sha256")),
    AdChannel(name="meta", platform="meta", report_channel=Channel.PAID_SOCIAL, source="meta", medium="paid_social",
              click_ids=("fbclid",), also_sources=frozenset({"facebook", "instagram", "messenger"}),
              adapter="attract.providers.meta:MetaGateway", secret_setting="meta_secret_id",
              endpoint_setting="meta_graph_url", sandbox="attract_local.sandboxes.meta",
              conversions=ConversionsRoute(adapter="attract.providers.meta:MetaGateway", secret_setting="meta_secret_id",
                                           endpoint_setting="meta_graph_url", sandbox="attract_local.sandboxes.meta")),
)}

# The draft's `channels` literal and the registry must name the same channels (a test checks it too).
assert set(get_args(ChannelName)) == set(AD_CHANNELS), "ChannelName and AD_CHANNELS disagree"


class UnknownChannelError(ValueError):
    pass


def ad_channel(name: str) -> AdChannel:
    try:
        return AD_CHANNELS[name]
    except KeyError:
        raise UnknownChannelError(name) from None


def by_platform(platform: str) -> AdChannel:
    """The row whose policy prefix is `platform` ("google", "meta")."""
    found = next((entry for entry in AD_CHANNELS.values() if entry.platform == platform), None)
    if found is None:
        raise UnknownChannelError(platform)
    return found


def all_click_ids() -> tuple[str, ...]:
    return tuple(kind for entry in AD_CHANNELS.values() for kind in entry.click_ids)
