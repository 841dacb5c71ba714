"""A local stand-in for the Cognito hosted UI: /oauth2/authorize, /login, /oauth2/token and /logout.

It keeps the rules the dashboard depends on, read from template.yaml's UserPoolClient: the client id, the
registered callback and sign-out URLs, the `code` flow only, and PKCE (S256, RFC 7636) checked at the token
endpoint; a code is good once, for five minutes, for the client and redirect URI it was issued to. The person
signs in by choosing a group (the local pool has no passwords); the tokens are `make token`'s (attract_local.auth),
so the gateway verifies them as it verifies any other.
"""

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from attract_local.auth import ROLES, mint_token

PATHS = ("/oauth2/authorize", "/login", "/oauth2/token", "/logout")
CODE_TTL_S = 300
TOKEN_TTL_S = 3600
PAGE_CSP = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge",
                    "code_challenge_method")

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    groups: list[str]
    email: str
    expires: float


def s256(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ascii(code_verifier))), unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class LocalHostedUi:
    def __init__(self, client_id: str, callback_urls: list[str], logout_urls: list[str], flows: list[str],
                 clock=time.time):
        self.client_id, self.callback_urls, self.logout_urls, self.flows = client_id, callback_urls, logout_urls, flows
        self.clock = clock
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_template(cls, aws) -> "LocalHostedUi | None":
        """The UserPoolClient of template.yaml, resolved against the local stack (its DashboardUrl); None without one."""
        found = [(name, r) for name, r in aws.template["Resources"].items() if r["Type"] == "AWS::Cognito::UserPoolClient"]
        if not found:
            return None
        logical, client = found[0]
        props = aws.resolve(client["Properties"], f"{logical}.Properties")
        return cls(str(aws.refs[logical]), [str(u) for u in props.get("CallbackURLs") or []],
                   [str(u) for u in props.get("LogoutURLs") or []], list(props.get("AllowedOAuthFlows") or []))

    def handle(self, method: str, path: str, query: str, body: bytes) -> Answer:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if path == "/oauth2/authorize" and method == "GET":
            return self._authorize(params)
        if path == "/login" and method == "POST":
            return self._login(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        if path == "/oauth2/token" and method == "POST":
            return self._token(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        if path == "/logout" and method == "GET":
            return self._logout(params)
        return _json(404, {"error": "not_found"})

    def _check(self, params: dict[str, str]) -> str | None:
        """Why an authorization request is refused (as Cognito's hosted UI would), or None."""
        if params.get("client_id") != self.client_id:
            return "invalid client_id"
        if params.get("redirect_uri") not in self.callback_urls:
            return "redirect_mismatch"
        if params.get("response_type") != "code" or "code" not in self.flows:
            return "unsupported_response_type"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE (code_challenge with S256) is required"
        return None

    def _authorize(self, params: dict[str, str]) -> Answer:
        problem = self._check(params)
        if problem:
            return _page(400, "Sign-in refused", f"<p>{html.escape(problem)}</p>")
        hidden = "".join(f'<input type="hidden" name="{name}" value="{html.escape(params.get(name, ""), quote=True)}">'
                         for name in AUTHORIZE_PARAMS)
        roles = "".join(f'<option value="{role}">{role} ({group})</option>' for role, group in ROLES.items())
        form = (f'<form method="post" action="/login">{hidden}'
                '<p><label>Email <input name="email" type="email" value="recruiter@attract.example" required></label></p>'
                f'<p><label>Group <select name="role">{roles}</select></label></p>'
                '<p><button type="submit" id="sign-in">Sign in</button></p></form>')
        return _page(200, "Sign in to Attract (local)", form)

    def _login(self, form: dict[str, str]) -> Answer:
        problem = self._check(form)
        if problem or form.get("role") not in ROLES:
            return _page(400, "Sign-in refused", f"<p>{html.escape(problem or 'unknown group')}</p>")
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[code] = _Grant(form["client_id"], form["redirect_uri"], form["code_challenge"],
                                        [ROLES[form["role"]]], form.get("email", ""), self.clock() + CODE_TTL_S)
        query = {"code": code, **({"state": form["state"]} if form.get("state") else {})}
        return 302, {"location": f"{form['redirect_uri']}?{urlencode(query)}", "cache-control": "no-store"}, b""

    def _token(self, form: dict[str, str]) -> Answer:
        if form.get("grant_type") != "authorization_code":
            return _json(400, {"error": "unsupported_grant_type"})
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # once, whatever follows
        if (grant is None or grant.expires < self.clock() or grant.client_id != form.get("client_id")
                or grant.redirect_uri != form.get("redirect_uri")):
            return _json(400, {"error": "invalid_grant"})
        if not form.get("code_verifier") or s256(form["code_verifier"]) != grant.challenge:
            return _json(400, {"error": "invalid_grant"})
        subject = str(uuid.uuid5(uuid.NAMESPACE_URL, "attract-local-user/" + grant.email))
        return _json(200, {
            "access_token": mint_token(grant.groups, subject=subject, client_id=grant.client_id, ttl_seconds=TOKEN_TTL_S),
            "id_token": mint_token(grant.groups, subject=subject, client_id=grant.client_id, ttl_seconds=TOKEN_TTL_S,
                                   token_use="id"),
            "token_type": "Bearer", "expires_in": TOKEN_TTL_S})

    def _logout(self, params: dict[str, str]) -> Answer:
        if params.get("client_id") != self.client_id or params.get("logout_uri") not in self.logout_urls:
            return _page(400, "Sign-out refused", "<p>logout_uri is not registered</p>")
        return 302, {"location": params["logout_uri"], "cache-control": "no-store"}, b""


def _json(status: int, body: dict) -> Answer:
    return status, {"content-type": "application/json", "cache-control": "no-store", "pragma": "no-cache"}, \
        json.dumps(body).encode()


def _page(status: int, title: str, body: str) -> Answer:
    page = (f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<h1>{html.escape(title)}</h1>{body}</html>")
    return status, {"content-type": "text/html; charset=utf-8", "cache-control": "no-store",
                    "content-security-policy": PAGE_CSP, "x-frame-options": "DENY"}, page.encode()




