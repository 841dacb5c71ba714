"""The log check of issue 15 (tests/log_privacy.py) finds each kind of personal data or secret planted in a log line."""

import json
import re
import sqlite3
from datetime import datetime, timezone

import pytest

from attract.invites.tokens import unsubscribe_token
from attract.signing import Signer
from attract_local import sample_ats
from attract_local.auth import mint_token
from tests.log_privacy import findings, sample_ats_names, secret_values, typed_names

CLEAN = ('{"level":"INFO","message":"join submitted","correlation_id":"7f9dd7eb32014a23","outcome":"mailed",'
         '"function_request_id":"1937d44a-4952-4277-83ab-3dc6ed54f308",'
         '"email_hash":"0c16da0c467e4c80b398c54c0cfe78d6ee20b1c9c3b70a6791df51fbd905b7cd"}\n'
         "[gateway] POST /joins/confirm/{token} -> 200 (88 ms)\n"
         '{"message":"request rejected","rules":["string_too_short","value_error"]}\n')
SIGNER = Signer("k" * 32)
NOW = datetime(2026, 12, 4, tzinfo=timezone.utc)


def line(**fields) -> str:
    return json.dumps({"level": "INFO", "message": "m", **fields}) + "\n"


def test_a_clean_log_has_no_findings():
    # Hashes, request ids, correlation ids and route keys are not personal data
    assert findings(CLEAN, names={"Ada", "Lovelace"}, secrets={"pepper-value-123"}) == []


KINDS = {"email address", "name", "signed token", "signed id or MAC", "token parameter", "JWT", "secret"}


@pytest.mark.parametrize(("planted", "kind"), [
    (line(email="Ada.Lovelace12@Example.ORG"), "email address"),
    (line(to="someone@mail.co.uk"), "email address"),
    (line(user="Ada"), "name"),
    (line(token=SIGNER.token("join-confirm", ["a" * 64, "nonce"], 1_900_000_000)), "signed token"),
    (line(path="/u/" + unsubscribe_token(SIGNER, "campaign1", "b" * 64, NOW)), "signed token"),
    (line(visitor=SIGNER.new_visitor_id()), "signed id or MAC"),
    (line(click=SIGNER.new_click_id()), "signed id or MAC"),
    (line(url="https://careers.example.com/?tc_inv=abc"), "token parameter"),
    (line(cookie="tc_vid=abc"), "token parameter"),
    (line(authorization="Bearer " + mint_token(["marketers"])), "JWT"),
    (line(config="pepper-value-123"), "secret"),
], ids=lambda value: value if value in KINDS else "")  # stable ids: the planted ids are random, xdist compares
def test_each_kind_planted_in_a_log_line_is_found(planted, kind):
    found = findings(CLEAN + planted, names={"Ada", "Lovelace"}, secrets={"pepper-value-123"})
    assert kind in {k for k, _ in found}, found


def test_names_are_whole_words_and_case_matters():
    # "Ken" is a first name of the sample ATS; "token" and "Kentucky" are not it
    assert findings(line(message="token refreshed in Kentucky"), names={"Ken"}) == []
    assert findings(line(name="Ken"), names={"Ken"}) == [("name", "Ken")]


def test_the_names_come_from_the_sample_ats_and_the_demo_sources(tmp_path):
    database = tmp_path / "ats.sqlite"
    sample_ats.build(database)
    with sqlite3.connect(database) as connection:
        sample_ats.change(connection)
    connection.close()
    names = sample_ats_names(database)
    assert {"Ada", "Lovelace", "Barbara", "Newcomer", "van Rossum"} <= names
    source = tmp_path / "demo_like.py"
    source.write_text(
        'def follow(api, email, name): ...\n'
        'body = {"email": e, "name": f"Person {who}", "consent": True}\n'
        'profile = {"name": "Data engineering, Berlin"}\n'  # no email beside it: a profile's name, not a person's
        'follow(api, e, "Invited person")\n'
        'follow(api, e, name="Demo joiner")\n'
        'short = {"email": e, "name": "M"}\n')
    typed = typed_names([source])
    assert {"Invited person", "Demo joiner"} <= typed and "Data engineering, Berlin" not in typed
    patterns = [n for n in typed if isinstance(n, re.Pattern)]
    assert [p.pattern for p in patterns] == [r"(?<!\w)Person\ \w+(?!\w)"]
    assert findings(line(who="Person 7"), names=typed) == [("name", "Person 7")]


def test_secret_values_are_whole_secrets_their_credential_fields_and_the_key_body(tmp_path):
    pem = tmp_path / "key.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n")
    meta = json.dumps({"app_id": "1234", "app_secret": "s3cr3t-app", "access_token": "EAAB-token",
                       "token_uri": "http://127.0.0.1:1/token"})
    values = secret_values({"EmailPepperSecret": "pepperpepper", "MetaSecret": meta}, pem=pem)
    assert {"pepperpepper", meta, "s3cr3t-app", "EAAB-token", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"} <= values
    assert "1234" not in values and "http://127.0.0.1:1/token" not in values  # ids and endpoints are no secret


def test_a_placeholder_for_a_token_is_no_token():
    # What a route key or the demo's printed mail shows in a token's place
    assert findings("[gateway] GET /u/{token} -> 200\n   Join here: http://127.0.0.1:1/r/AbCd1234?tc_inv={token}\n") == []
