"""A request still in progress under Powertools idempotency answers 409, in the functions that opt in."""

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from attract.api import register_error_handlers, register_idempotency_errors


def _event(path: str) -> dict:
    return {"version": "2.0", "routeKey": f"POST {path}", "rawPath": path, "rawQueryString": "", "headers": {},
            "requestContext": {"http": {"method": "POST", "path": path, "sourceIp": "192.0.2.1"},
                               "stage": "$default", "domainName": "api.example.com"},
            "isBase64Encoded": False}


def _resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.post("/things")
    def create() -> dict:
        raise IdempotencyAlreadyInProgressError("in progress")

    return app


def test_in_progress_is_a_409_once_registered():
    # Given a resolver with the shared handlers and the idempotency ones
    app = _resolver()
    register_error_handlers(app)
    register_idempotency_errors(app)
    # When the idempotent operation reports the same request still running
    answer = app.resolve(_event("/things"), None)
    # Then the caller is told to retry, in the JSON error shape
    assert answer["statusCode"] == 409
    assert json.loads(answer["body"]) == {"message": "The same request is still being processed; retry shortly"}


def test_the_shared_handlers_leave_idempotency_out():
    # Public functions register only the shared handlers: the idempotency error is not theirs to map
    app = _resolver()
    register_error_handlers(app)
    # When it surfaces anyway, only the last-resort handler sees it: a plain 500, not the retry hint
    answer = app.resolve(_event("/things"), None)
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"]) == {"message": "Internal server error"}
