"""The organic channel registry: one row per platform where the employer posts on its own page.

Like the ads registry (attract.campaigns.channels), a row holds everything that differs between platforms:
the request's channel name, the tracked link's source (its channel is always `organic_social`), the adapter
(named by module path, imported lazily), the settings naming its secret and endpoint, its local sandbox, and
its limits. A fourth network is one adapter, one sandbox and one row here.
"""

from dataclasses import dataclass
from typing import Literal, get_args

OrganicChannelName = Literal["facebook_page", "linkedin_org", "x"]


@dataclass(frozen=True)
class ImageRules:
    types: tuple[str, ...]  # file extensions of image_url's path (lower case)
    max_bytes: int  # the platform's documented maximum (checked by the adapter when it fetches the image)


@dataclass(frozen=True)
class OrganicChannel:
    name: OrganicChannelName
    source: str  # the tracked link's source (and utm_source); channel organic_social, medium social
    adapter: str  # "module:Class" implementing attract.posts.ports.OrganicGateway
    secret_setting: str  # the Settings field naming its credentials secret
    endpoint_setting: str  # the Settings field holding its API base URL
    sandbox: str  # "module:Class" of the local wire sandbox (attract_local.sandboxes.*)
    max_chars: int  # the text's limit, counted as the platform counts (link included)
    url_chars: int | None  # a link counts as this many characters whatever its length (X: 23); None: as written
    images: ImageRules
    # What the adapter puts between the text and the tracked link; None: the link is not in the text at all
    # (LinkedIn: the post's article). The limit counts exactly what the adapter sends (tests/unit/test_post_limits.py).
    link_separator: str | None = "\n"
    little_format: bool = False  # the text is sent escaped (LinkedIn's commentary): the limit counts it escaped


ORGANIC_CHANNELS: dict[str, OrganicChannel] = {row.name: row for row in (
    OrganicChannel(name="facebook_page", source="facebook", adapter="attract.providers.facebook_page:FacebookPageGateway",
                   secret_setting="facebook_page_secret_id", endpoint_setting="meta_graph_url",
                   sandbox="attract_local.sandboxes.meta:MetaSandbox", max_chars=63206, url_chars=None, link_separator="\n\n",
                   images=ImageRules(types=("jpg", "jpeg", "png", "gif", "bmp", "tiff"), max_bytes=4 * 1024 * 1024)),
    OrganicChannel(name="linkedin_org", source="linkedin", adapter="attract.providers.linkedin_posts:LinkedInPostsGateway",
                   secret_setting="linkedin_secret_id", endpoint_setting="linkedin_api_url",
                   sandbox="attract_local.sandboxes.linkedin:LinkedInSandbox", max_chars=3000, url_chars=None,
                   link_separator=None, little_format=True,
                   images=ImageRules(types=("jpg", "jpeg", "png", "gif"), max_bytes=36_152_320)),
    OrganicChannel(name="x", source="x", adapter="attract.providers.x_posts:XPostsGateway",
                   secret_setting="x_secret_id", endpoint_setting="x_api_url",
                   sandbox="attract_local.sandboxes.x:XSandbox", max_chars=280, url_chars=23,
                   images=ImageRules(types=("jpg", "jpeg", "png", "webp"), max_bytes=5 * 1024 * 1024)),
)}

assert set(get_args(OrganicChannelName)) == set(ORGANIC_CHANNELS), "OrganicChannelName and the registry disagree"


def organic_channel(name: str) -> OrganicChannel:
    return ORGANIC_CHANNELS[name]
