"""The one place where an organic channel becomes an `OrganicGateway`: its adapter imported lazily (it imports its
SDK), its credentials from its secret, its endpoint from the settings (the local sandbox's, or the platform's).
Shares attract.campaigns.gateways' building and caching: a rotated secret builds a new adapter."""

from typing import cast

from attract.campaigns.gateways import _adapter
from attract.posts.channels import organic_channel
from attract.posts.ports import OrganicGateway
from attract.settings import Settings


def organic_gateway(channel: str, settings: Settings) -> OrganicGateway:
    row = organic_channel(channel)
    return cast(OrganicGateway, _adapter("organic", channel, row.adapter, row.secret_setting, row.endpoint_setting,
                                         settings))
