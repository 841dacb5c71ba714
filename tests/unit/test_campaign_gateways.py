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


def test_each_channel_names_its_conversions_route_with_real_settings_modules_and_a_sandbox():
    import importlib

    from attract.campaigns.channels import AD_CHANNELS
    from attract.campaigns.ports import ConversionUploader

    for entry in AD_CHANNELS.values():
        route = entry.conversions
        assert hasattr(SETTINGS, route.secret_setting) and hasattr(SETTINGS, route.endpoint_setting)
        module, _, cls = route.adapter.partition(":")
        assert callable(getattr(importlib.import_module(module), cls).upload_conversions)
        assert importlib.util.find_spec(route.sandbox) is not None
        # The queue message carries the fields the route reads
        from attract.campaigns.conversions import ConversionMessage
        assert {route.click_time_field or "joined_at", route.email_hash_field} <= set(ConversionMessage.model_fields)
    # Google's conversions go through the Data Manager API and wait 6 hours after the click; Meta's at once
    google, meta = AD_CHANNELS["google_search"].conversions, AD_CHANNELS["meta"].conversions
    assert google.adapter == "attract.providers.google_datamanager:DataManagerUploader"
    assert (google.min_delay.total_seconds(), meta.min_delay.total_seconds()) == (6 * 3600, 0)
    assert meta.adapter == AD_CHANNELS["meta"].adapter  # one adapter for both of Meta's ports
    assert ConversionUploader  # the port the routes' adapters implement


def test_an_uploader_without_a_secret_is_a_platform_error_like_a_gateway():
    with pytest.raises(gateways.MissingCredentialsError, match="google_search") as raised:
        gateways.uploader_for("google_search", SETTINGS)
    assert raised.value.codes == ["attract:credentials_not_configured"]
    lookup = gateways.uploaders(SETTINGS)
    with pytest.raises(gateways.MissingCredentialsError):
        lookup("meta")


def test_the_campaigns_domain_never_imports_an_adapter():
    # Ports live in the domain (attract.campaigns.ports); adapters (attract.providers.*) import them, never the reverse.
    import ast
    from pathlib import Path

    import attract.campaigns

    for module in Path(attract.campaigns.__file__).parent.glob("*.py"):
        tree = ast.parse(module.read_text())
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        assert not [name for name in imported if name.startswith(("attract.providers", "attract_local"))], module.name
