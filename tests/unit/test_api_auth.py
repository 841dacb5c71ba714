import json

import pytest

from attract.api import claim_groups, describe_errors, reject_unless_group


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("[marketers]", {"marketers"}), ("[marketers recruiters]", {"marketers", "recruiters"}),
     (["recruiters"], {"recruiters"}), ("marketers", {"marketers"}), (None, set()), ("[]", set()),
     # Names are taken as they are: no comma splitting, no quote stripping.
     ('["x,marketers"]', {'"x,marketers"'}), ("[x,marketers]", {"x,marketers"}), ("['marketers']", {"'marketers'"}),
     ('"marketers"', {'"marketers"'})],
)
def test_groups_claim_in_every_shape_the_authorizers_send(raw, expected):
    assert claim_groups({"cognito:groups": raw} if raw is not None else {}) == expected


def _event(claims: dict | None) -> dict:
    context = {"authorizer": {"jwt": {"claims": claims, "scopes": None}}} if claims is not None else {}
    return {"requestContext": context}


def test_no_claims_is_401_wrong_group_is_403_right_group_passes():
    unauthorized = reject_unless_group(_event(None), "marketers")
    forbidden = reject_unless_group(_event({"sub": "u1", "token_use": "access", "cognito:groups": "[recruiters]"}),
                                    "marketers")
    assert unauthorized["statusCode"] == 401 and forbidden["statusCode"] == 403
    assert json.loads(forbidden["body"]) == {"message": "Requires group: marketers"}
    assert reject_unless_group(_event({"sub": "u1", "token_use": "access", "cognito:groups": "[marketers]"}),
                               "marketers") is None


@pytest.mark.parametrize("token_use", ["id", None, "ACCESS", ""])
def test_only_access_tokens_pass(token_use):
    # An ID token passes the HTTP API JWT authorizer (same issuer, aud = client id) but is not for calling APIs.
    claims = {"sub": "u1", "cognito:groups": "[marketers]", "aud": "client", **({"token_use": token_use} if token_use is not None else {})}
    refused = reject_unless_group(_event(claims), "marketers")
    assert refused is not None and refused["statusCode"] == 401


@pytest.mark.parametrize("groups", ['["x,marketers"]', "[x,marketers]", "[\"marketers\"]", "['marketers']"])
def test_group_names_that_only_look_like_marketers_are_403(groups):
    refused = reject_unless_group(_event({"sub": "u1", "token_use": "access", "cognito:groups": groups}), "marketers")
    assert refused is not None and refused["statusCode"] == 403


def test_error_description_names_nested_fields_and_never_echoes_input():
    described = describe_errors([{"loc": ("body", "touches", 3, "email"), "type": "value_error", "msg": "bad",
                                  "input": "secret@example.com"}])
    assert described == [{"field": "touches[3].email", "location": "body", "rule": "value_error", "message": "bad"}]
