import time

import pytest
import requests

from attract_local.auth import mint_token

LINK = {"destination": "https://careers.example.com/", "campaign": "Auth", "channel": "email", "source": "crm",
        "medium": "email"}


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/links"), ("GET", "/links/AbCd1234"), ("POST", "/touches")]
)
def test_marketer_routes_need_a_token(api, method, path):
    response = requests.request(method, api + path, json=LINK)
    assert response.status_code == 401 and response.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    "token",
    [
        "not.a.jwt",
        mint_token(["marketers"], now=time.time() - 7200, ttl_seconds=600),
        mint_token(["marketers"], client_id="another-app"),
        mint_token(["marketers"], iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
        mint_token(["marketers"], token_use="id"),  # passes the authorizer; only access tokens call APIs
    ],
    ids=["garbage", "expired", "wrong-audience", "wrong-issuer", "id-token"],
)
def test_bad_tokens_are_401(api, token):
    assert requests.post(api + "/links", json=LINK, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_recruiter_is_403_on_marketer_routes(api, recruiter):
    for method, path in [("POST", "/links"), ("GET", "/links/AbCd1234"), ("POST", "/touches")]:
        response = requests.request(method, api + path, json=LINK, headers=recruiter)
        assert response.status_code == 403, path
        assert response.json() == {"message": "Requires group: marketers"}


def test_marketer_gets_in(api, marketer):
    assert requests.post(api + "/links", json=LINK, headers=marketer).status_code == 201


def test_public_redirect_needs_no_token(api):
    assert requests.get(api + "/r/Unknown99", allow_redirects=False).status_code == 404


def test_unrouted_path_is_404_json(api):
    response = requests.get(api + "/nowhere")
    assert response.status_code == 404 and response.json() == {"message": "Not Found"}
