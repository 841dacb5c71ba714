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


def test_registry_names_every_channel_once_with_an_importable_adapter_and_its_settings():
    # Given the registry and the draft's channel literal
    from typing import get_args

    from attract.campaigns.channels import AD_CHANNELS
    from attract.campaigns.models import ChannelName

    # Then both name the same channels, and each row points at real settings fields and modules
    assert set(AD_CHANNELS) == set(get_args(ChannelName))
    assert len({entry.platform for entry in AD_CHANNELS.values()}) == len(AD_CHANNELS)
    assert len({entry.report_channel for entry in AD_CHANNELS.values()}) == len(AD_CHANNELS)
    for entry in AD_CHANNELS.values():
        assert hasattr(SETTINGS, entry.secret_setting) and hasattr(SETTINGS, entry.endpoint_setting)
        module, _, cls = entry.adapter.partition(":")
        assert module.startswith("attract.providers.") and cls
        assert entry.sandbox.startswith("attract_local.sandboxes.")
