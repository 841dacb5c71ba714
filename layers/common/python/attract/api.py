"""HTTP glue shared by the API functions: error mapping, validation error bodies, group checks."""

import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from attract.errors import AlreadyExistsError, InvalidRequestError, NotFoundError
from attract.observability import logger

_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def field_path(loc: Iterable[Any]) -> tuple[str, str]:
    """('body', 'touches', 0, 'email') -> ('body', 'touches[0].email')."""
    parts = list(loc)
    location = parts.pop(0) if parts and parts[0] in _LOCATIONS else "body"
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return location, path or location


def describe_errors(errors: Iterable[dict]) -> list[dict]:
    """Pydantic errors -> [{field, location, rule, message}]; input values are never echoed back."""
    described = []
    for error in errors:
        location, field = field_path(error.get("loc", ()))
        described.append(
            {"field": field, "location": location, "rule": error.get("type", "invalid"), "message": error.get("msg", "")}
        )
    return described


def error_response(status: HTTPStatus, message: str, errors: list[dict] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def register_error_handlers(app: ApiGatewayResolver) -> None:
    """The one place where domain errors become HTTP answers."""

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        errors = describe_errors(error.errors())
        # Rules only: a field name can be caller input (an unexpected key), and input is never logged.
        logger.info("request rejected", extra={"rules": sorted({e["rule"] for e in errors})})
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "Request validation failed", errors)

    @app.exception_handler(InvalidRequestError)
    def _rule_broken(error: InvalidRequestError) -> Response:
        errors = [{"field": error.field, "location": error.location, "rule": error.rule, "message": error.message}]
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "Request validation failed", errors)

    @app.exception_handler(NotFoundError)
    def _not_found(error: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, str(error) or "Not found")

    @app.exception_handler(AlreadyExistsError)
    def _conflict(error: AlreadyExistsError) -> Response:
        return error_response(HTTPStatus.CONFLICT, str(error) or "Already exists")


def register_idempotency_errors(app: ApiGatewayResolver) -> None:
    """For functions that use Powertools idempotency only: importing it costs the public functions' cold start."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def _in_progress(error: IdempotencyAlreadyInProgressError) -> Response:
        return error_response(HTTPStatus.CONFLICT, "The same request is still being processed; retry shortly")


def jwt_claims(event: dict) -> dict:
    """Claims the API Gateway JWT authorizer verified (payload format 2.0)."""
    return ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims") or {}


def claim_groups(claims: dict) -> set[str]:
    """`cognito:groups` as a set.

    HTTP API JWT authorizers flatten array claims into one string, "[marketers recruiters]";
    a list is accepted too so the same code works behind a REST API authorizer.
    """
    raw = claims.get("cognito:groups")
    if raw is None:
        return set()
    if isinstance(raw, list):
        return {str(group) for group in raw}
    text = str(raw).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return {group.strip(" ,\"'") for group in text.replace(",", " ").split() if group.strip(" ,\"'")}


def reject_unless_group(event: dict, *allowed: str) -> dict | None:
    """A ready 401/403 answer unless the verified caller is in one of `allowed`; None lets the request in.

    Runs before routing so that a caller without the right group learns nothing about the API, not
    even which of its fields are invalid (the resolver's validation would otherwise answer first).
    """
    claims = jwt_claims(event)
    if not claims.get("sub"):
        status, message = HTTPStatus.UNAUTHORIZED, "Unauthorized"
    elif not claim_groups(claims) & set(allowed):
        status, message = HTTPStatus.FORBIDDEN, f"Requires group: {' or '.join(sorted(allowed))}"
    else:
        return None
    logger.info("caller refused", extra={"status": int(status)})
    return _json_answer(status, {"message": message})


def reject_non_json(event: dict) -> dict | None:
    """A ready 415 when a body arrives declared as something other than JSON; None lets it through.

    Without it the resolver would parse a form-encoded body into field names made of the caller's
    data (and a `curl -d` without a content type would get a baffling 422).
    """
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    declared = headers.get("content-type", "").split(";")[0].strip().lower()
    if not event.get("body") or not declared or declared == "application/json" or declared.endswith("+json"):
        return None
    return _json_answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {
        "message": "Send the body as JSON with Content-Type: application/json",
        "errors": [{"field": "content-type", "location": "header", "rule": "unsupported_media_type",
                    "message": "expected application/json"}]})


def _json_answer(status: HTTPStatus, body: dict) -> dict:
    return {"statusCode": int(status), "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps(body), "isBase64Encoded": False}


def caller_id(app: ApiGatewayResolver) -> str:
    """The verified caller's Cognito `sub`."""
    return str(jwt_claims(app.current_event.raw_event).get("sub", ""))
