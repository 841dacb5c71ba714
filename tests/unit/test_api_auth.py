import json

import pytest

from attract.api import claim_groups, describe_errors, reject_unless_group


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("[marketers]", {"marketers"}), ("[marketers recruiters]", {"marketers", "recruiters"}),
     (["recruiters"], {"recruiters"}), ("marketers", {"marketers"}), (None, set()), ("[]", set())],
)
def test_groups_claim_in_every_shape_the_authorizers_send(raw, expected):
    assert claim_groups({"cognito:groups": raw} if raw is not None else {}) == expected


def _event(claims: dict | None) -> dict:
    context = {"authorizer": {"jwt": {"claims": claims, "scopes": None}}} if claims is not None else {}
    return {"requestContext": context}


def test_no_claims_is_401_wrong_group_is_403_right_group_passes():
    unauthorized = reject_unless_group(_event(None), "marketers")
    forbidden = reject_unless_group(_event({"sub": "u1", "cognito:groups": "[recruiters]"}), "marketers")
    assert unauthorized["statusCode"] == 401 and forbidden["statusCode"] == 403
    assert json.loads(forbidden["body"]) == {"message": "Requires group: marketers"}
    assert reject_unless_group(_event({"sub": "u1", "cognito:groups": "[marketers]"}), "marketers") is None


def test_error_description_names_nested_fields_and_never_echoes_input():
    described = describe_errors([{"loc": ("body", "touches", 3, "email"), "type": "value_error", "msg": "bad",
                                  "input": "secret@example.com"}])
    assert described == [{"field": "touches[3].email", "location": "body", "rule": "value_error", "message": "bad"}]


def test_declared_non_json_bodies_are_415_and_json_or_undeclared_pass():
    from attract.api import reject_non_json

    form = reject_non_json({"headers": {"content-type": "application/x-www-form-urlencoded"}, "body": "email=a%40b.co"})
    assert form["statusCode"] == 415 and json.loads(form["body"])["errors"][0]["field"] == "content-type"
    for headers in ({"content-type": "application/json; charset=utf-8"}, {"Content-Type": "application/problem+json"}, {}):
        assert reject_non_json({"headers": headers, "body": "{}"}) is None
    assert reject_non_json({"headers": {"content-type": "text/plain"}, "body": None}) is None
