"""attract.campaigns.gateways: one place builds the adapters, from the settings and the platform secrets."""

import pytest

from attract.campaigns import gateways
from attract.settings import Settings

SETTINGS = Settings(table_name="attract", metrics_namespace="Attract")  # no platform secrets configured


def test_unknown_channel_and_missing_secret_are_named():
    with pytest.raises(gateways.UnknownChannelError):
        gateways.gateway_for("tiktok", SETTINGS)
    with pytest.raises(gateways.MissingCredentialsError, match="google_search") as raised:
        gateways.gateway_for("google_search", SETTINGS)
    # a platform error like any other: the launch records it and answers 502 with the code
    assert raised.value.as_json()["codes"] == ["attract:credentials_not_configured"]
    with pytest.raises(gateways.MissingCredentialsError, match="meta"):
        gateways.gateway_for("meta", SETTINGS)
    assert gateways.ADAPTERS == {"google_search": ("attract.providers.google_ads", "GoogleAdsGateway"),
                                 "meta": ("attract.providers.meta", "MetaGateway")}
