"""Handlers invoked in-process with events/ payloads against a moto server holding template.yaml's tables."""

import importlib

import pytest

from attract_local.stack import ROOT, LocalAws


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
        for key, value in local_aws.handler_environment(logical_id).items():
            monkeypatch.setenv(key, value)
        _reset_caches()
        # functions/<area>/app.py or functions/<area>/<function>/app.py (several functions per area)
        module = importlib.import_module(".".join(spec.code_dir.relative_to(ROOT).parts) + ".app")
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
