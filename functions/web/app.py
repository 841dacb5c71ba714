"""Public web function: GET /dashboard (the recruiters' dashboard shell), GET /docs (Swagger UI), GET /static/{name}.

Pages and files only: no data, no token, no table. The dashboard's script signs in (Cognito hosted UI, code +
PKCE) and calls the API itself. Light: no ads SDK, no pydantic, no boto3 (a test lists what it imports).
"""

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

import attract.snapstart  # noqa: F401 - registers the SnapStart restore hooks (template: SnapStart)
from attract.api import log_unexpected, with_security_headers
from attract.observability import logger, metrics, tracer
from attract.settings import WebSettings
from attract.web import DOCS_CSP, Answer, Assets, asset_answer, dashboard_csp, dashboard_page, docs_page, page_answer

if TYPE_CHECKING:  # a type only: importing it costs every cold start a module
    from aws_lambda_powertools.utilities.typing import LambdaContext

load_settings = WebSettings.load
load_settings()

STATIC = Path(__file__).parent / "static"
# Read and hashed once per execution environment (in the SnapStart snapshot); compressed on first request.
ASSETS = Assets(STATIC)
MANIFEST = json.loads((STATIC / "vendor" / "manifest.json").read_text())
DASHBOARD = dashboard_page(ASSETS, MANIFEST, load_settings().sign_in_url, load_settings().user_pool_client_id)
DASHBOARD_CSP = dashboard_csp(load_settings().sign_in_url)
DOCS = docs_page(ASSETS, MANIFEST)

app = APIGatewayHttpResolver()
_HTML: dict = {"text/html": {"schema": {"type": "string"}}}
_MESSAGE: dict = {"application/json": {"schema": {
    "type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}}}
_FILE: dict = {media: {"schema": {"type": "string"}}
               for media in ("application/javascript", "text/css", "application/json", "image/svg+xml", "text/plain")}


def _response(answer: Answer) -> Response[str]:
    if isinstance(answer.body, str):
        return Response(status_code=answer.status, headers=answer.headers, body=answer.body)
    # A file's bytes, base64-encoded here: the resolver would pass a JSON file's bytes to its JSON serializer.
    response = Response(status_code=answer.status, headers=answer.headers, body=base64.b64encode(answer.body).decode())
    response.base64_encoded = True
    return response


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[str]:
    log_unexpected(error)
    return Response(status_code=500, content_type="application/json", body='{"message":"Internal error"}',
                    headers={"Cache-Control": "no-store"})


@app.not_found
def _no_route(_error: Exception) -> Response[str]:
    return Response(status_code=404, content_type="application/json", body='{"message":"Not found"}',
                    headers={"Cache-Control": "no-store"})


@app.get("/dashboard", summary="The recruiters' dashboard (signs in through the Cognito hosted UI)", tags=["web"],
         responses={200: {"description": "An HTML shell: no data; its script signs in (code + PKCE) and calls the "
                                         "reports and profiles routes", "content": _HTML}})
def dashboard() -> Response[str]:
    return _response(page_answer(DASHBOARD, DASHBOARD_CSP))


@app.get("/docs", summary="API documentation for people (Swagger UI)", tags=["web"],
         responses={200: {"description": "Swagger UI over this document", "content": _HTML}})
def docs() -> Response[str]:
    return _response(page_answer(DOCS, DOCS_CSP))


@app.get("/static/<name>", summary="A file of the dashboard or the docs, by its content-hashed name", tags=["web"],
         responses={200: {"description": "The file (gzip when accepted); cached for a year, immutable",
                          "content": _FILE},
                    404: {"description": "No such file", "content": _MESSAGE}})
def static_file(name: str) -> Response[str]:
    return _response(asset_answer(ASSETS, name, app.current_event.headers.get("accept-encoding")))


@with_security_headers
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: "LambdaContext") -> dict:
    return app.resolve(event, context)
