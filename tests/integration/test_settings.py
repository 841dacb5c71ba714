"""Each function validates its own settings at import: the template must give them, and a gap fails the cold start."""

import importlib
import sys

import pytest

from attract.settings import JoinsSettings, Settings, SettingsError, TrackingSettings, load_settings
from attract_local.cfn import load_template

FUNCTIONS = sorted(name for name, resource in load_template()["Resources"].items()
                   if resource["Type"] == "AWS::Serverless::Function")


def _required(model: type[Settings]) -> list[str]:
    return model.required_variables()


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_template_environment_satisfies_the_function_settings(local_aws, function_env, logical_id):
    # Given the function's app module, which names its settings model
    model = function_env(logical_id).load_settings.__self__
    assert issubclass(model, Settings) and model is not Settings, f"{logical_id} declares no settings of its own"
    # When its model reads exactly what template.yaml gives it (Globals merged with its own variables)
    environment = local_aws.functions(only=logical_id)[logical_id].environment
    missing = [name for name in _required(model) if name not in environment]
    # Then every required variable is there, and every value passes its rule
    assert missing == [], f"template.yaml does not give {logical_id}: {missing}"
    model.from_environment(environment)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_import_fails_naming_each_missing_variable(local_aws, function_env, monkeypatch, logical_id):
    # Given the function imported once with its full environment
    module = function_env(logical_id)
    name = module.__name__
    for variable in _required(module.load_settings.__self__):
        # When a cold start runs without one required variable
        with monkeypatch.context() as patch:
            patch.delenv(variable)
            patch.delitem(sys.modules, name)
            load_settings.cache_clear()
            # Then the import itself fails, and says which variable and which function's settings
            with pytest.raises(SettingsError, match=rf"^\w+Settings: {variable} is not set$"):
                importlib.import_module(name)
    load_settings.cache_clear()


def test_an_invalid_value_is_named_without_echoing_it(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "attract")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Attract")
    monkeypatch.setenv("EMAIL_PEPPER_SECRET_ID", "arn:pepper")
    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", "arn:signing")
    monkeypatch.setenv("MAIL_FROM_ADDRESS", "community@example.com")
    monkeypatch.setenv("ATTRIBUTION_LOOKBACK_DAYS", "9999")
    load_settings.cache_clear()
    with pytest.raises(SettingsError) as raised:
        JoinsSettings.load()
    load_settings.cache_clear()
    assert str(raised.value).startswith("JoinsSettings: ATTRIBUTION_LOOKBACK_DAYS: ")
    assert "9999" not in str(raised.value)


def test_each_function_model_is_loaded_and_cached_apart(monkeypatch):
    # The joins model requires the pepper; the shared base does not: one process, two answers, no mix-up
    monkeypatch.setenv("TABLE_NAME", "attract")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Attract")
    monkeypatch.delenv("EMAIL_PEPPER_SECRET_ID", raising=False)
    monkeypatch.setenv("SIGNING_KEY_SECRET_ID", "arn:signing")
    monkeypatch.setenv("MAIL_FROM_ADDRESS", "community@example.com")
    monkeypatch.setenv("JOIN_MAIL_QUEUE_URL", "https://sqs.example/join-mail")
    load_settings.cache_clear()
    assert load_settings().table_name == "attract"
    with pytest.raises(SettingsError, match="EMAIL_PEPPER_SECRET_ID is not set"):
        JoinsSettings.load()
    monkeypatch.setenv("EMAIL_PEPPER_SECRET_ID", "arn:pepper")
    load_settings.cache_clear()
    assert JoinsSettings.load().email_pepper_secret_id == "arn:pepper"
    load_settings.cache_clear()


BASE = {"TABLE_NAME": "attract", "POWERTOOLS_METRICS_NAMESPACE": "Attract", "SIGNING_KEY_SECRET_ID": "arn:signing"}


def test_values_are_converted_and_defaults_fill_the_rest():
    settings = TrackingSettings.from_environment(
        {**BASE, "TOUCH_RETENTION_DAYS": " 30 ", "TIME_DECAY_HALF_LIFE_DAYS": "1.5", "PUBLIC_BASE_URL": "", "OTHER": "x"})
    assert (settings.touch_retention_days, settings.time_decay_half_life_days) == (30, 1.5)
    assert (settings.visitor_cookie_days, settings.public_base_url, settings.signing_key_secret_id) == (365, "", "arn:signing")
    assert settings.email_pepper_secret_id is None  # the redirect does not need it


@pytest.mark.parametrize(("variable", "value", "rule"), [
    ("TOUCH_RETENTION_DAYS", "forty", "Input should be a valid integer"),
    ("TOUCH_RETENTION_DAYS", "0", "Input should be greater than or equal to 1"),
    ("VISITOR_COOKIE_DAYS", "401", "Input should be less than or equal to 400"),
    ("TIME_DECAY_HALF_LIFE_DAYS", "nan", "Input should be a finite number"),
    ("TIME_DECAY_HALF_LIFE_DAYS", "0", "Input should be greater than 0"),
    ("TABLE_NAME", "xy", "String should have at least 3 characters"),
    ("POWERTOOLS_METRICS_NAMESPACE", "", "String should have at least 1 character"),
])
def test_each_rule_names_the_variable_and_the_rule_never_the_value(variable, value, rule):
    # The settings are checked by hand (no pydantic on the redirect's cold start): each rule still refuses
    with pytest.raises(SettingsError) as raised:
        TrackingSettings.from_environment({**BASE, variable: value})
    assert str(raised.value) == f"TrackingSettings: {variable}: {rule}"


def test_every_problem_is_named_at_once():
    with pytest.raises(SettingsError) as raised:
        JoinsSettings.from_environment({"POWERTOOLS_METRICS_NAMESPACE": "Attract", "AGGREGATE_SHARDS": "65"})
    assert str(raised.value) == ("JoinsSettings: TABLE_NAME is not set; EMAIL_PEPPER_SECRET_ID is not set; "
                                 "SIGNING_KEY_SECRET_ID is not set; MAIL_FROM_ADDRESS is not set; "
                                 "AGGREGATE_SHARDS: Input should be less than or equal to 64; "
                                 "JOIN_MAIL_QUEUE_URL is not set")
