"""HTTP glue shared by the API functions: error mapping, validation error bodies, group checks, body checks."""

import base64
import binascii
import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.metrics import MetricUnit

from attract.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
    RulesBrokenError,
    UpstreamError,
)
from attract.observability import logger, metrics

if TYPE_CHECKING:  # a type only: the redirect imports this module and never pydantic
    from pydantic import BaseModel

_LOCATIONS = {"body", "query", "path", "header", "cookie"}
UNKNOWN_FIELD = "(unknown field)"  # stands for a key the caller sent that the schema does not have
INVALID_KEY = "(invalid key)"  # stands for a map key the schema refused
MAX_JSON_DEPTH = 32  # our deepest model is 3 levels; anything deeper is an attack on the parser
_UTF8 = {"utf-8", "utf8"}
JSON_MEDIA_TYPE = "application/json"
_BODILESS = {"GET", "HEAD", "DELETE", "OPTIONS"}

# On every answer of every HTTP function: API Gateway's HTTP API passes a function's headers on as they are,
# and adds none of its own. nosniff: a browser never runs a JSON error or a page as script or style.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}

# The resolver's debug lines print route arguments, i.e. the caller's body: never let them through.
logging.getLogger("aws_lambda_powertools.event_handler").setLevel(logging.INFO)


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


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Pydantic errors -> [{field, location, rule, message}]; input values and keys are never echoed back.

    A field path is made of our own names, except where the caller named something: an unknown key
    (`extra_forbidden`) becomes "(unknown field)", an invalid key of a map "(invalid key)", in that
    error and in every other error under the same key. That still tells a marketer where to look (the
    object, the rule) without reflecting whatever was sent; the accepted names are in docs/openapi.json.
    """
    errors = list(errors)
    # (path to the key, the caller's key) of every map key the schema refused
    refused_keys = {(tuple(loc[:index - 1]), loc[index - 1]) for loc in (tuple(e.get("loc", ())) for e in errors)
                    for index, part in enumerate(loc) if part == "[key]" and index > 0}
    described = []
    for error in errors:
        original = tuple(error.get("loc", ()))
        loc = [INVALID_KEY if index and (original[:index], part) in refused_keys else part
               for index, part in enumerate(original)]
        if error.get("type") == "extra_forbidden" and loc:
            loc[-1] = UNKNOWN_FIELD
        location, field = field_path(part for part in loc if part != "[key]")
        described.append({"field": field, "location": location, "rule": error.get("type", "invalid"),
                          "message": _message(error)})
    return described


def _message(error: Mapping[str, Any]) -> str:
    """pydantic's message, except the one that quotes the caller's value (a discriminator's unknown tag)."""
    if error.get("type") == "union_tag_invalid":
        context = error.get("ctx") or {}
        return f"{context.get('discriminator', 'the tag')} must be one of {context.get('expected_tags', '')}".strip()
    return str(error.get("msg", ""))


def error_response(status: HTTPStatus, message: str, errors: list[dict] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def json_response(status: int, model: "BaseModel") -> Response[Any]:
    """A pydantic model as the JSON answer (the route's `Response[Model]` annotation documents its schema)."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model.model_dump(mode="json"))


def register_error_handlers(app: ApiGatewayResolver) -> None:
    """The one place where domain errors become HTTP answers."""

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        errors = describe_errors(error.errors())
        # Rules only: a field name can be caller input (an unexpected key), and input is never logged.
        logger.info("request rejected", extra={"rules": sorted({e["rule"] for e in errors})})
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "Request validation failed", errors)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(error: RequestUnsupportedContentType) -> Response:
        # reject_non_json answers these first; this is for a route it does not guard. Its message quotes the
        # header: not repeated.
        return error_response(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Send the body as JSON with Content-Type: "
                              "application/json", [{"field": "content-type", "location": "header",
                                                    "rule": "unsupported_media_type",
                                                    "message": "expected application/json"}])

    @app.exception_handler(InvalidRequestError)
    def _rule_broken(error: InvalidRequestError) -> Response:
        errors = [{"field": error.field, "location": error.location, "rule": error.rule, "message": error.message}]
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "Request validation failed", errors)

    @app.exception_handler(RulesBrokenError)
    def _rules_broken(error: RulesBrokenError) -> Response:
        logger.info("request rejected", extra={"rules": sorted({e["rule"] for e in error.errors})})
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, error.message, error.errors)

    @app.exception_handler(ConflictError)
    def _busy(error: ConflictError) -> Response:
        # details: e.g. the run in progress, which the caller can follow instead of starting another
        return Response(status_code=HTTPStatus.CONFLICT, content_type=content_types.APPLICATION_JSON,
                        body={"message": str(error) or "Conflict", **error.details})

    @app.exception_handler(PreconditionFailedError)
    def _stale(error: PreconditionFailedError) -> Response:
        return Response(status_code=HTTPStatus.PRECONDITION_FAILED, content_type=content_types.APPLICATION_JSON,
                        body={"message": str(error) or "Precondition failed", **error.details})

    @app.exception_handler(UpstreamError)
    def _upstream(error: UpstreamError) -> Response:
        errors = [{"field": error.field, "location": "body", "rule": error.rule, "message": error.message}]
        return error_response(HTTPStatus.BAD_GATEWAY, "An upstream system failed", errors)

    @app.exception_handler(NotFoundError)
    def _not_found(error: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, str(error) or "Not found")

    @app.exception_handler(AlreadyExistsError)
    def _conflict(error: AlreadyExistsError) -> Response:
        return error_response(HTTPStatus.CONFLICT, str(error) or "Already exists")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, ServiceError):  # the resolver's own HTTP errors keep their status
            return error_response(HTTPStatus(error.status_code), str(error.msg))
        # Type and place only: an exception's message (and so the runtime's stack trace) can quote input.
        log_unexpected(error)
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")


def with_security_headers(handler: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
    """The HTTP functions' outermost decorator: every answer they give carries SECURITY_HEADERS."""

    @functools.wraps(handler)
    def secured(event: dict, context: Any) -> dict:
        return add_security_headers(handler(event, context))

    return secured


def add_security_headers(answer: dict) -> dict:
    """SECURITY_HEADERS added to a payload-2.0 answer, unless it sets them itself."""
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return answer
    headers = answer.get("headers") or {}
    present = {str(name).lower() for name in [*headers, *(answer.get("multiValueHeaders") or {})]}
    answer["headers"] = {**headers, **{name: value for name, value in SECURITY_HEADERS.items()
                                       if name.lower() not in present}}
    return answer


def register_idempotency_errors(app: ApiGatewayResolver) -> None:
    """For functions that use Powertools idempotency only: importing it costs the public functions' cold start."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def _in_progress(error: IdempotencyAlreadyInProgressError) -> Response:
        return error_response(HTTPStatus.CONFLICT, "The same request is still being processed; retry shortly")


# What a caller should wait before retrying once a platform's rate limit outlasted our own retries.
RATE_LIMIT_RETRY_AFTER_S = 60


def register_platform_errors(app: ApiGatewayResolver) -> None:
    """For the campaigns functions only: ads platform errors as 502, rate limits as 503 with Retry-After."""
    from attract.campaigns.ports import PlatformError, RateLimited

    @app.exception_handler(RateLimited)
    def _rate_limited(error: RateLimited) -> Response:
        logger.warning("platform rate limit", extra={"platform": error.platform, "codes": error.codes,
                                                      "request_id": error.request_id})
        return Response(status_code=HTTPStatus.SERVICE_UNAVAILABLE, content_type=content_types.APPLICATION_JSON,
                        headers={"Retry-After": str(RATE_LIMIT_RETRY_AFTER_S)},
                        body={"message": f"{error.platform} rate limit: retry later", "platform_error": error.as_json()})

    @app.exception_handler(PlatformError)
    def _platform(error: PlatformError) -> Response:
        logger.warning("platform refused", extra={"platform": error.platform, "codes": error.codes,
                                                  "request_id": error.request_id})
        return Response(status_code=HTTPStatus.BAD_GATEWAY, content_type=content_types.APPLICATION_JSON,
                        body={"message": f"{error.platform} refused the request", "platform_error": error.as_json()})


def log_unexpected(error: BaseException) -> None:
    """Log and count an unhandled error by type and place only, never its message (it can quote input).

    Registered as the resolver's last-resort handler, it also keeps the resolver from logging the
    exception itself (`logger.exception(exc)`, message and all).
    """
    logger.error("unhandled error", extra={"error_type": type(error).__name__, "raised_at": _raised_at(error)})
    metrics.add_metric(name="UnhandledErrors", unit=MetricUnit.Count, value=1)


def _raised_at(error: BaseException) -> str:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame is not None else "?"


def jwt_claims(event: dict) -> dict:
    """Claims the API Gateway JWT authorizer verified (payload format 2.0)."""
    return ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims") or {}


def claim_groups(claims: dict) -> set[str]:
    """`cognito:groups` as a set.

    HTTP API JWT authorizers flatten array claims into one string, "[marketers recruiters]": names
    are separated by single spaces, and Cognito group names cannot contain spaces. Nothing else is
    split or stripped, so a group named `x,marketers` or `"marketers"` stays what it is. A list is
    accepted too so the same code works behind a REST API authorizer.
    """
    raw = claims.get("cognito:groups")
    if raw is None:
        return set()
    if isinstance(raw, list):
        return {str(group) for group in raw}
    text = str(raw)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return {group for group in text.split(" ") if group}


def reject_unless_group(event: dict, *allowed: str) -> dict | None:
    """A ready 401/403 answer unless the verified caller is in one of `allowed`; None lets the request in.

    Runs before routing so that a caller without the right group learns nothing about the API, not
    even which of its fields are invalid (the resolver's validation would otherwise answer first).
    Only access tokens are accepted: the authorizer also lets Cognito ID tokens through (same issuer,
    `aud` = client id), but those are meant for the client, not for calling APIs.
    """
    claims = jwt_claims(event)
    if not claims.get("sub") or claims.get("token_use") != "access":
        status, message = HTTPStatus.UNAUTHORIZED, "Unauthorized"
    elif not claim_groups(claims) & set(allowed):
        status, message = HTTPStatus.FORBIDDEN, f"Requires group: {' or '.join(sorted(allowed))}"
    else:
        return None
    logger.info("caller refused", extra={"status": int(status)})
    return _json_answer(status, {"message": message})


def reject_non_json(event: dict) -> dict | None:
    """A ready 4xx unless the body is absent or JSON that is safe to hand to the resolver; None lets it through.

    - declared as something other than JSON: 415 (otherwise the resolver would parse a form-encoded
      body into field names made of the caller's data);
    - a charset other than UTF-8: 415 (JSON is UTF-8, RFC 8259);
    - not UTF-8, not JSON, nested deeper than MAX_JSON_DEPTH, an integer longer than Python parses,
      NaN/Infinity or a lone surrogate: 422 naming the rule. Each of these used to be a 500.

    What it lets through is declared `application/json`, the one spelling the resolver parses (it
    answered 500 to `Application/JSON`, to `+json` types and to any other type on an empty body): a
    JSON type in any spelling is JSON, and an empty body is nothing to refuse, so a route that needs
    a body answers 422 `missing` whatever type was declared.
    """
    body = event.get("body")
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method", "POST")).upper()
    if method in _BODILESS:  # the resolver never parses a GET's body
        return None
    declared, parameters = _content_type(event)
    if not body:
        _declare_json(event)
        return None
    if declared and not is_json_media_type(declared):
        return _body_refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "content-type", "header", "unsupported_media_type",
                             "expected application/json", "Send the body as JSON with Content-Type: application/json")
    charset = _parameter(parameters, "charset")
    if charset is not None and charset.lower() not in _UTF8:
        return _body_refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "content-type", "header", "unsupported_charset",
                             "JSON bodies are UTF-8", "Send the body as UTF-8 JSON")
    problem = json_body_problem(body, bool(event.get("isBase64Encoded")))
    if problem is None:
        _declare_json(event)
        return None
    rule, message = problem
    logger.info("request rejected", extra={"rules": [rule]})
    return _body_refused(HTTPStatus.UNPROCESSABLE_ENTITY, "body", "body", rule, message, "Request validation failed")


def is_json_media_type(media_type: str) -> bool:
    """`application/json` or a structured-syntax `+json` type (RFC 6839: `application/problem+json`), any case."""
    kind, slash, subtype = media_type.strip().lower().partition("/")
    if not slash or not kind:
        return False
    return (kind, subtype) == ("application", "json") or subtype.endswith("+json")


def _content_type(event: dict) -> tuple[str, str]:
    """(media type in lower case, its parameters) of the request's Content-Type ("" when none)."""
    value = next((str(v) for k, v in (event.get("headers") or {}).items() if str(k).lower() == "content-type"), "")
    media_type, _, parameters = value.partition(";")
    return media_type.strip().lower(), parameters


def _declare_json(event: dict) -> None:
    headers = event.get("headers")
    if not headers or not any(str(key).lower() == "content-type" for key in headers):
        return  # no type declared: the resolver reads JSON already
    for key in [key for key in headers if str(key).lower() == "content-type"]:
        del headers[key]
    headers["content-type"] = JSON_MEDIA_TYPE


def json_body_problem(body: str, base64_encoded: bool = False) -> tuple[str, str] | None:
    """(rule, message) when the body cannot be read safely as JSON; None when it can."""
    if base64_encoded:  # API Gateway base64-encodes bodies that are not valid UTF-8 text
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return "utf8_invalid", "the body must be UTF-8 encoded JSON"
    else:
        text = body
    try:
        parsed = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        return "json_too_deep", f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    except json.JSONDecodeError:
        return "json_invalid", "the body is not valid JSON"
    except ValueError:  # int() refuses more than sys.get_int_max_str_digits() digits, and NaN/Infinity
        return "json_number_invalid", "numbers must be finite and at most 4300 digits long"
    return _structure_problem(parsed)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _structure_problem(parsed: Any) -> tuple[str, str] | None:
    """Depth and text checks, iteratively: the parsed value may be as deep as the parser allowed."""
    stack = [(parsed, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return "json_too_deep", f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
            for key, item in items:
                if key is not None and not _is_unicode(key):
                    return "utf8_invalid", "text must be valid Unicode (no lone surrogates)"
                stack.append((item, depth + 1))
        elif isinstance(value, str) and not _is_unicode(value):
            return "utf8_invalid", "text must be valid Unicode (no lone surrogates)"
    return None


def _is_unicode(text: str) -> bool:
    """False for strings with lone surrogates ("\\ud800" is valid JSON): they cannot be encoded, stored or hashed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parameter(parameters: str, name: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


def _body_refused(status: HTTPStatus, field: str, location: str, rule: str, detail: str, message: str) -> dict:
    return _json_answer(status, {"message": message,
                                 "errors": [{"field": field, "location": location, "rule": rule, "message": detail}]})


def _json_answer(status: HTTPStatus, body: dict) -> dict:
    return {"statusCode": int(status), "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps(body), "isBase64Encoded": False}


def caller_id(app: ApiGatewayResolver) -> str:
    """The verified caller's Cognito `sub`."""
    return str(jwt_claims(app.current_event.raw_event).get("sub", ""))
