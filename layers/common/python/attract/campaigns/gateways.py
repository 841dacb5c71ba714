"""The one place where a channel becomes an `AdsGateway` or a `ConversionUploader`: adapter imported lazily,
credentials from Secrets Manager.

Each adapter module imports its SDK (google-ads: gRPC and ~130 MB of generated types; facebook-business),
so it is imported only when a campaigns function first talks to that platform. Credentials are the
secret's JSON, read through Powertools parameters (cached for SECRET_MAX_AGE_SECONDS) and handed to the
adapter; they are never logged. A gateway is rebuilt only when the secret's content changes (rotation).
The endpoints and the rate-limit retries (ADS_RETRY_ATTEMPTS, ADS_RETRY_BASE_SECONDS) are settings; tests
point them at the local sandboxes (attract_local.sandboxes) rather than standing in for the adapters.
"""

import hashlib
import importlib
import json
from collections.abc import Callable
from typing import Any, cast

from attract.campaigns.channels import UnknownChannelError, ad_channel
from attract.campaigns.ports import AdsGateway, ConversionUploader, PlatformError
from attract.settings import Settings

__all__ = ["MissingCredentialsError", "UnknownChannelError", "gateway_for", "platform_config", "uploader_for", "uploaders"]

_built: dict[tuple[str, str], tuple[str, Any]] = {}  # (port, channel) -> (fingerprint of config, endpoint, retries; adapter)


class MissingCredentialsError(PlatformError):
    """No usable credentials for a platform: no secret configured, or its JSON is not what the adapter needs.

    A PlatformError, so a launch records it and answers 502 like any refusal, with a code and no detail:
    the adapter's validation message could quote the secret.
    """

    def __init__(self, channel: str, code: str, message: str):
        super().__init__(channel, message, [code])


def gateway_for(channel: str, settings: Settings) -> AdsGateway:
    """The channel's adapter, built once per credentials version and reused across warm invocations."""
    entry = ad_channel(channel)
    return cast(AdsGateway, _adapter("gateway", channel, entry.adapter, entry.secret_setting, entry.endpoint_setting,
                                     settings))


def uploader_for(channel: str, settings: Settings) -> ConversionUploader:
    """The channel's conversions adapter (registry row `conversions`), built and cached like `gateway_for`."""
    route = ad_channel(channel).conversions
    return cast(ConversionUploader, _adapter("conversions", channel, route.adapter, route.secret_setting,
                                             route.endpoint_setting, settings))


def uploaders(settings: Settings) -> Callable[[str], ConversionUploader]:
    """`uploader_for` memoised for one batch or sweep: a rotated secret is picked up by the next one."""
    built: dict[str, ConversionUploader] = {}

    def lookup(channel: str) -> ConversionUploader:
        if channel not in built:
            built[channel] = uploader_for(channel, settings)
        return built[channel]

    return lookup


def _adapter(port: str, channel: str, adapter_path: str, secret_setting: str, endpoint_setting: str,
             settings: Settings) -> Any:
    secret_id, endpoint = getattr(settings, secret_setting), getattr(settings, endpoint_setting)
    if not secret_id:
        raise MissingCredentialsError(channel, "attract:credentials_not_configured",
                                      f"no credentials secret configured for {channel}")
    config = platform_config(secret_id, settings.secret_max_age_seconds)
    retries = {"attempts": settings.ads_retry_attempts, "backoff_base_s": settings.ads_retry_base_seconds}
    fingerprint = hashlib.sha256(json.dumps([config, endpoint, retries], sort_keys=True).encode()).hexdigest()
    cached = _built.get((port, channel))
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    module_name, class_name = adapter_path.split(":")
    adapter = getattr(importlib.import_module(module_name), class_name)
    try:
        built = adapter(config, endpoint, **retries)
    except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError; its text quotes the input
        raise MissingCredentialsError(channel, "attract:credentials_invalid",
                                      f"the {channel} credentials secret is incomplete or invalid: put the real values in it") from None
    _built[(port, channel)] = (fingerprint, built)
    return built


def platform_config(secret_id: str, max_age: int) -> dict[str, Any]:
    """A platform's credentials: the secret's JSON, cached by Powertools for `max_age` seconds."""
    from aws_lambda_powertools.utilities import parameters

    config = parameters.get_secret(secret_id, transform="json", max_age=max_age)
    if not isinstance(config, dict):
        raise ValueError("the ads platform secret must be a JSON object")
    return config
