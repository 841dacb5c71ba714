"""Handlers invoked in-process with events/ payloads against a moto server holding template.yaml's tables."""

import importlib

import pytest

from attract_local.stack import LocalAws


@pytest.fixture(scope="session")
def local_aws():
    aws = LocalAws().start()
    yield aws
    aws.stop()


@pytest.fixture
def function_env(local_aws, monkeypatch):
    """Returns load(logical_id) -> the function's app module, with that function's environment in place."""

    def load(logical_id: str):
        spec = local_aws.functions()[logical_id]
        env = local_aws.function_environment(spec)
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                    "AWS_DEFAULT_REGION", "AWS_REGION", *spec.environment):
            monkeypatch.setenv(key, env[key])
        _reset_caches()
        module = importlib.import_module("functions." + spec.code_dir.name + ".app")
        for name in ("_stores", "_links", "_touches"):
            if hasattr(module, name):
                getattr(module, name).cache_clear()
        return module

    yield load
    _reset_caches()


def _reset_caches() -> None:
    from attract import aws, settings
    from attract.links import logic

    settings.load_settings.cache_clear()
    aws.client.cache_clear()
    logic.idempotent_create_link.cache_clear()
