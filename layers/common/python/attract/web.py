"""The recruiters' dashboard and the API docs as static pages: a shell, hashed assets, and their headers.

Nothing here reads data: `GET /dashboard` is a public shell (no number in it) whose script signs in through
the Cognito hosted UI (authorization code + PKCE) and calls the API with the access token, like any client.
`GET /docs` is Swagger UI over docs/openapi.json. Every file is the function's own (vendored from the npm
registry, pinned in static/vendor/manifest.json): no CDN, so the Content-Security-Policy names 'self' only,
plus the sign-in origin the token is fetched from.

Light on purpose (a public function): the standard library only, no pydantic, no boto3.
"""

import base64
import gzip
import hashlib
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

STATIC_PATH = "/static/"
# A hashed name never changes content: a year, immutable (RFC 8246). Pages are re-read on each visit.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
PAGE_CACHE_CONTROL = "no-cache"
MISSING_CACHE_CONTROL = "no-store"
# Text assets below this size are sent as they are: gzip's header costs more than it saves.
GZIP_MIN_BYTES = 1024
CONTENT_TYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    "": "text/plain; charset=utf-8",  # LICENSE, NOTICE
}
SKIPPED = {"manifest.json"}  # the vendoring record, not something a browser needs
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")

# Strict CSP (docs/security.md, "Dashboard"): scripts and styles from our own files only (no inline script,
# no inline style, no eval), no plugins, no framing, no <base>, forms post nowhere. Trusted Types on the
# dashboard: a string can never reach an HTML or script sink (innerHTML, script.src), so values from data
# can only be text; the page creates no policy ('none').
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' {sign_in}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
# Swagger UI renders Markdown descriptions through React's innerHTML (sanitised by its DOMPurify): Trusted Types
# would refuse that, so the docs page has the same CSP without it. Its stylesheet's icons are data: SVGs.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    # After the hosted UI sends the browser back, the address holds `?code=`: never send it on as a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@dataclass(frozen=True)
class Asset:
    """One static file under its content-hashed public name."""

    path: str  # relative to the static folder: vendor/uplot/uPlot.iife.min.js
    name: str  # public: uplot-uPlot.iife.min.<12 hex>.js
    data: bytes
    content_type: str
    sha256: str
    _gzipped: list[bytes] = field(default_factory=list, repr=False, compare=False)

    @property
    def integrity(self) -> str:
        """Subresource Integrity of the file (the page's <script integrity=...>)."""
        return "sha384-" + base64.b64encode(hashlib.sha384(self.data).digest()).decode()

    @property
    def url(self) -> str:
        return STATIC_PATH + self.name

    def gzipped(self) -> bytes:
        """Compressed once per execution environment, on first request (mtime 0: the same bytes every time)."""
        if not self._gzipped:
            self._gzipped.append(gzip.compress(self.data, compresslevel=9, mtime=0))
        return self._gzipped[0]


def public_name(path: str, digest: str) -> str:
    """vendor/uplot/uPlot.iife.min.js + digest -> uplot-uPlot.iife.min.<digest[:12]>.js (one flat path segment)."""
    parts = Path(path).parts
    folders = [part for part in parts[:-1] if part != "vendor"]
    file = Path(parts[-1])
    suffix = file.suffix if file.suffix in CONTENT_TYPES else ""
    stem = file.name[: -len(suffix)] if suffix else file.name
    return "-".join([*folders, stem]) + f".{digest[:12]}{suffix}"


class Assets:
    """Every file of a static folder, by relative path and by public (hashed) name."""

    def __init__(self, root: Path):
        self.by_path: dict[str, Asset] = {}
        self.by_name: dict[str, Asset] = {}
        for file in sorted(root.rglob("*")):
            if not file.is_file() or file.name in SKIPPED or file.suffix == ".map":
                continue
            path = file.relative_to(root).as_posix()
            data = file.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            asset = Asset(path, public_name(path, digest), data,
                          CONTENT_TYPES.get(file.suffix, CONTENT_TYPES[""]), digest)
            self.by_path[path] = asset
            self.by_name[asset.name] = asset

    def __getitem__(self, path: str) -> Asset:
        return self.by_path[path]

    def get(self, name: str) -> Asset | None:
        return self.by_name.get(name)


@dataclass(frozen=True)
class Answer:
    """What the handler returns, transport-neutral: status, headers, and a text or binary body."""

    status: int
    headers: dict[str, str]
    body: str | bytes


def origin_of(url: str) -> str:
    """https://x.auth.eu-west-1.amazoncognito.com/anything -> https://x.auth.eu-west-1.amazoncognito.com."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError("the sign-in URL must be an absolute http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def dashboard_csp(sign_in_url: str) -> str:
    return DASHBOARD_CSP.format(sign_in=origin_of(sign_in_url))


def _script(asset: Asset) -> str:
    return f'<script src="{asset.url}" integrity="{asset.integrity}" defer></script>'


def _style(asset: Asset) -> str:
    return f'<link rel="stylesheet" href="{asset.url}" integrity="{asset.integrity}">'


def _licence_line(assets: Assets, manifest: dict, package: str, label: str) -> str:
    entry = next(p for p in manifest["packages"] if p["name"] == package)
    licence = next(f["path"] for inner, f in entry["files"].items() if inner == "LICENSE")
    return (f'<a href="{assets["vendor/" + licence].url}">{html.escape(label)} {html.escape(entry["version"])} '
            f'({html.escape(entry["license"])})</a>')


def dashboard_page(assets: Assets, manifest: dict, sign_in_url: str, client_id: str) -> str:
    """The dashboard's HTML shell: structure, controls and settings (as attributes: no inline script)."""
    attr = lambda value: html.escape(value, quote=True)  # noqa: E731 - a one-word alias keeps the markup readable
    model_options = "".join(f'<option value="{m}">{m.replace("_", " ")}</option>' for m in MODELS)
    return f"""<!doctype html>
<html lang="en" data-sign-in="{attr(sign_in_url.rstrip('/'))}" data-client-id="{attr(client_id)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attract dashboard</title>
<link rel="icon" href="{assets["favicon.svg"].url}">
{_style(assets["vendor/uplot/uPlot.min.css"])}
{_style(assets["dashboard.css"])}
{_script(assets["vendor/uplot/uPlot.iife.min.js"])}
{_script(assets["dashboard.js"])}
</head>
<body>
<header>
<h1>Attract</h1>
<p id="who" class="muted"></p>
<button id="sign-out" type="button" hidden>Sign out</button>
</header>
<section id="signed-out" hidden>
<p>Sign in to see where your talent community's relevant members came from.</p>
<button id="sign-in" type="button">Sign in</button>
</section>
<p id="status" role="status" class="muted"></p>
<main id="app" hidden>
<fieldset id="controls">
<legend>What to show</legend>
<label>From <input id="from" type="date" required></label>
<label>To <input id="to" type="date" required></label>
<label>Model <select id="model">{model_options}</select></label>
<label>Profile <select id="profile"><option value="">any profile</option></select></label>
<button id="refresh" type="button">Show</button>
</fieldset>
<section id="over-time" class="panel">
<h2>Joins and relevant joins over time</h2>
<p class="actions"><button type="button" data-csv="over-time">Download CSV</button></p>
<div id="over-time-chart" class="chart"></div>
<div class="body"></div>
</section>
<section id="by-channel" class="panel">
<h2>Joins, relevant joins and cost per relevant join by channel</h2>
<p class="actions"><button type="button" data-csv="by-channel">Download CSV</button></p>
<div class="body"></div>
</section>
<section id="by-campaign" class="panel">
<h2>By campaign</h2>
<p class="actions"><button type="button" data-csv="by-campaign">Download CSV</button></p>
<div class="body"></div>
</section>
<section id="funnels" class="panel">
<h2>Funnels</h2>
<p class="actions"><button type="button" data-csv="funnels">Download CSV</button></p>
<div class="body"></div>
</section>
<section id="overlap" class="panel">
<h2>The overlap: relevant members per profile</h2>
<p class="actions"><button type="button" data-csv="overlap">Download CSV</button></p>
<div class="body"></div>
</section>
</main>
<footer class="muted">Charts: {_licence_line(assets, manifest, "uplot", "uPlot")}. API: <a href="/docs">documentation</a>.</footer>
</body>
</html>
"""


def docs_page(assets: Assets, manifest: dict) -> str:
    """Swagger UI over the OpenAPI document the function carries (a copy of docs/openapi.json)."""
    spec = assets["openapi.json"]
    return f"""<!doctype html>
<html lang="en" data-spec="{html.escape(spec.url, quote=True)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attract API</title>
<link rel="icon" href="{assets["favicon.svg"].url}">
{_style(assets["vendor/swagger-ui/swagger-ui.css"])}
{_style(assets["docs.css"])}
{_script(assets["vendor/swagger-ui/swagger-ui-bundle.js"])}
{_script(assets["docs.js"])}
</head>
<body>
<div id="swagger-ui"></div>
<footer>Rendered by {_licence_line(assets, manifest, "swagger-ui-dist", "Swagger UI")}.</footer>
</body>
</html>
"""


def page_answer(page: str, csp: str) -> Answer:
    return Answer(200, {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": csp,
                        "Cache-Control": PAGE_CACHE_CONTROL, **PAGE_HEADERS}, page)


def asset_answer(assets: Assets, name: str, accept_encoding: str | None) -> Answer:
    """A hashed asset (gzip when the client takes it), or a JSON 404 for any other name."""
    asset = assets.get(name)
    if asset is None:
        return Answer(404, {"Content-Type": "application/json", "Cache-Control": MISSING_CACHE_CONTROL},
                      json.dumps({"message": "Not found"}))
    headers = {"Content-Type": asset.content_type, "Cache-Control": ASSET_CACHE_CONTROL,
               "ETag": f'"{asset.sha256[:32]}"', "Vary": "Accept-Encoding"}
    if len(asset.data) >= GZIP_MIN_BYTES and accepts_gzip(accept_encoding):
        return Answer(200, {**headers, "Content-Encoding": "gzip"}, asset.gzipped())
    return Answer(200, headers, asset.data)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when Accept-Encoding lists gzip (or *) with a non-zero q."""
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower().removeprefix("q=").strip() if params.strip().lower().startswith("q=") else "1"
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False
