"""The dashboard's and docs' files and headers (attract.web), the vendored packages, and the local hosted UI's PKCE."""

import base64
import gzip
import hashlib
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from attract.web import (
    ASSET_CACHE_CONTROL,
    Assets,
    accepts_gzip,
    asset_answer,
    dashboard_csp,
    dashboard_page,
    docs_page,
    public_name,
)
from attract_local import vendor
from attract_local.cfn import ROOT
from attract_local.hosted_ui import LocalHostedUi, s256
from attract_local.openapi import OUTPUT, SERVED_COPY

STATIC = ROOT / "functions/web/static"
MANIFEST = json.loads((STATIC / "vendor/manifest.json").read_text())
SIGN_IN = "https://acme-attract.auth.eu-west-1.amazoncognito.com"


@pytest.fixture(scope="module")
def assets() -> Assets:
    return Assets(STATIC)


def test_vendored_files_are_exactly_the_manifests():
    # Every kept file hashes to the manifest's sha256 (written from the npm tarball, its integrity checked)
    assert vendor.check() == []
    pinned = {p["name"]: p["version"] for p in MANIFEST["packages"]}
    assert pinned == {"uplot": "1.6.32", "swagger-ui-dist": "5.35.0"}
    for package in MANIFEST["packages"]:
        assert package["integrity"].startswith("sha512-") and package["tarball"].startswith("https://registry.npmjs.org/")
        assert "LICENSE" in package["files"], f"{package['name']} is kept without its licence"


def test_the_check_sees_a_changed_file(tmp_path):
    # Guard: a check that cannot fail proves nothing. A copy with one byte changed must be reported.
    copy = tmp_path / "vendor"
    copy.mkdir()
    (copy / "manifest.json").write_text(json.dumps(MANIFEST))
    for package in MANIFEST["packages"]:
        for entry in package["files"].values():
            target = copy / entry["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((STATIC / "vendor" / entry["path"]).read_bytes())
    assert vendor.check(copy) == []
    licence = copy / "uplot/LICENSE"
    licence.write_bytes(licence.read_bytes() + b" ")
    assert vendor.check(copy) == ["uplot/LICENSE: sha256 differs from uplot@1.6.32/LICENSE"]


def test_npm_integrity_is_sha512_base64():
    assert vendor.integrity(b"abc") == "sha512-" + base64.b64encode(hashlib.sha512(b"abc").digest()).decode()
    assert vendor.tarball_url("uplot", "1.6.32") == "https://registry.npmjs.org/uplot/-/uplot-1.6.32.tgz"


def test_dashboard_csp_is_exact():
    assert dashboard_csp(SIGN_IN + "/") == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self' https://acme-attract.auth.eu-west-1.amazoncognito.com; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
        "require-trusted-types-for 'script'; trusted-types 'none'")
    with pytest.raises(ValueError):
        dashboard_csp("javascript:alert(1)")


def test_hashed_names_are_flat_and_follow_the_content():
    assert public_name("vendor/uplot/uPlot.iife.min.js", "ab" * 32) == "uplot-uPlot.iife.min.abababababab.js"
    assert public_name("dashboard.css", "0123456789abcdef" * 4) == "dashboard.0123456789ab.css"
    assert public_name("vendor/swagger-ui/LICENSE", "f" * 64) == "swagger-ui-LICENSE.ffffffffffff"


def test_pages_load_only_their_own_hashed_files_with_integrity(assets):
    for page in (dashboard_page(assets, MANIFEST, SIGN_IN, "client-1"), docs_page(assets, MANIFEST)):
        # No inline script or style, no CDN: every script and stylesheet is /static/<hashed name> with its SRI
        assert "<style" not in page and " style=" not in page and "//cdn" not in page
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
        for url, integrity in re.findall(r'(?:src|href)="(/static/[^"]+)" integrity="([^"]+)"', page):
            asset = assets.get(url.removeprefix("/static/"))
            assert asset is not None and integrity == asset.integrity
            assert f".{asset.sha256[:12]}." in url  # a new content is a new name: the year-long cache never goes stale


def test_dashboard_settings_are_attributes_escaped(assets):
    page = dashboard_page(assets, MANIFEST, SIGN_IN, 'x"><script>alert(1)</script>')
    assert 'data-client-id="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert f'data-sign-in="{SIGN_IN}"' in page


def test_assets_are_cached_for_a_year_and_gzipped_when_accepted(assets):
    name = assets["vendor/uplot/uPlot.iife.min.js"].name
    plain = asset_answer(assets, name, None)
    zipped = asset_answer(assets, name, "br;q=1.0, gzip;q=0.8")
    assert plain.status == zipped.status == 200
    assert plain.headers["Cache-Control"] == ASSET_CACHE_CONTROL == "public, max-age=31536000, immutable"
    assert plain.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert "Content-Encoding" not in plain.headers and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == plain.body == (STATIC / "vendor/uplot/uPlot.iife.min.js").read_bytes()
    assert len(zipped.body) < len(plain.body) / 2
    assert zipped.headers["Vary"] == "Accept-Encoding"


def test_an_unknown_or_stale_asset_name_is_a_json_404(assets):
    stale = "dashboard.000000000000.js"
    for name in (stale, "..%2Fapp.py", "manifest.json", "dashboard.js"):
        answer = asset_answer(assets, name, "gzip")
        assert (answer.status, json.loads(answer.body)) == (404, {"message": "Not found"})
        assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip", True), ("gzip, deflate, br", True), ("GZIP;q=0.5", True), ("*", True),
    ("gzip;q=0", False), ("br", False), ("", False), (None, False), ("gzip;q=abc", False)])
def test_accepts_gzip(header, expected):
    assert accepts_gzip(header) is expected


def test_docs_serve_the_committed_openapi_document():
    assert SERVED_COPY.read_bytes() == OUTPUT.read_bytes(), "run `make openapi`"


# ---------------------------------------------------------------- local hosted UI (attract_local.hosted_ui)

CALLBACK = "http://127.0.0.1:3000/dashboard"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def _ui(now: list[float]) -> LocalHostedUi:
    return LocalHostedUi("client-1", [CALLBACK], [CALLBACK], ["code"], clock=lambda: now[0])


def _authorize(**overrides) -> dict[str, str]:
    return {"response_type": "code", "client_id": "client-1", "redirect_uri": CALLBACK, "state": "st-1",
            "scope": "openid email", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", **overrides}


def _code(ui: LocalHostedUi, **overrides) -> str:
    status, headers, _ = ui.handle("POST", "/login", "", _form({**_authorize(**overrides), "role": "recruiter",
                                                                 "email": "r@example.com"}))
    assert status == 302
    location = urlsplit(headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    assert parse_qs(location.query)["state"] == ["st-1"]
    return parse_qs(location.query)["code"][0]


def _form(values: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(values).encode()


def _token(ui: LocalHostedUi, code: str, verifier: str = VERIFIER, **overrides) -> tuple[int, dict]:
    body = {"grant_type": "authorization_code", "client_id": "client-1", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": verifier, **overrides}
    status, _, answer = ui.handle("POST", "/oauth2/token", "", _form(body))
    return status, json.loads(answer)


def test_s256_matches_rfc_7636_appendix_b():
    assert s256(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # the RFC's own example


def test_a_code_with_its_verifier_gives_an_access_token_once():
    now = [1000.0]
    ui = _ui(now)
    code = _code(ui)
    status, tokens = _token(ui, code)
    assert status == 200 and tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    import jwt

    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["token_use"] == "access" and claims["client_id"] == "client-1"
    assert claims["cognito:groups"] == ["recruiters"]
    assert _token(ui, code) == (400, {"error": "invalid_grant"})  # good once


@pytest.mark.parametrize("change", [
    {"verifier": "another-verifier-of-sufficient-length-0123456789"},
    {"verifier": ""},
    {"client_id": "client-2"},
    {"redirect_uri": "http://127.0.0.1:3000/elsewhere"},
])
def test_the_token_endpoint_refuses_a_code_redeemed_otherwise(change):
    ui = _ui([1000.0])
    code = _code(ui)
    assert _token(ui, code, **change) == (400, {"error": "invalid_grant"})


def test_a_code_expires_after_five_minutes():
    now = [1000.0]
    ui = _ui(now)
    code = _code(ui)
    now[0] += 301
    assert _token(ui, code) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize("change", [
    {"redirect_uri": "https://evil.example/dashboard"}, {"client_id": "nope"}, {"response_type": "token"},
    {"code_challenge_method": "plain"}, {"code_challenge": ""}])
def test_authorize_refuses_unregistered_callbacks_other_flows_and_no_pkce(change):
    from urllib.parse import urlencode

    status, headers, page = _ui([0.0]).handle("GET", "/oauth2/authorize", urlencode(_authorize(**change)), b"")
    assert status == 400 and "location" not in headers and b"refused" in page


def test_authorize_page_escapes_what_it_echoes():
    from urllib.parse import urlencode

    status, headers, page = _ui([0.0]).handle("GET", "/oauth2/authorize", urlencode(_authorize(state='"><b>x')), b"")
    assert status == 200 and b'value="&quot;&gt;&lt;b&gt;x"' in page
    assert headers["content-security-policy"].startswith("default-src 'none'")


def test_logout_only_to_a_registered_url():
    ui = _ui([0.0])
    assert ui.handle("GET", "/logout", f"client_id=client-1&logout_uri={CALLBACK}", b"")[0] == 302
    assert ui.handle("GET", "/logout", "client_id=client-1&logout_uri=https://evil.example/", b"")[0] == 400
