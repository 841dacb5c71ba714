"""Creating and reading tracked links."""

import secrets
import string
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
)
from pydantic import BaseModel

from attract.errors import AlreadyExistsError, InvalidRequestError, NotFoundError
from attract.idempotency import once_per_command
from attract.links.models import CreateLinkRequest, Link, LinkResponse, host_allowed

CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8  # 62**8 ≈ 2e14 codes: collisions are rare and retried
CREATE_ATTEMPTS = 4


class LinkStore(Protocol):
    def create(self, link: Link) -> None: ...
    def get(self, code: str) -> tuple[Link, int] | None: ...
    def delete(self, code: str) -> None: ...


class CreateLinkCommand(BaseModel):
    """What makes two create requests "the same" for idempotency: who asked, and for what."""

    owner: str
    request: CreateLinkRequest


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def tracked_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/r/{code}"


def check_destination_host(request: CreateLinkRequest, allowed_hosts: tuple[str, ...]) -> None:
    """422 on `destination` unless its host is on the template's allow-list (an empty list allows any)."""
    if not host_allowed(request.destination, allowed_hosts):
        raise InvalidRequestError("destination", "destination_host_not_allowed",
                                  "destination host is not on the allow-list (DestinationHosts)", location="body")


def create_link(
    command: CreateLinkCommand, store: LinkStore, now: datetime, code_factory: Callable[[], str] = new_code
) -> Link:
    """Store a new link under a fresh code, retrying the rare code collision."""
    for _ in range(CREATE_ATTEMPTS):
        link = Link(
            code=code_factory(),
            destination=command.request.destination,
            created_at=now,
            created_by=command.owner,
            **command.request.model_dump(exclude={"destination"}),
        )
        try:
            store.create(link)
            return link
        except AlreadyExistsError:
            continue
    raise AlreadyExistsError("could not allocate a free link code")


class IdempotentCreateLink(Protocol):
    config: IdempotencyConfig

    def __call__(self, *, command: CreateLinkCommand, store: LinkStore, now: datetime) -> Link: ...


@lru_cache(maxsize=4)
def idempotent_create_link(idempotency_table: str, expires_after_seconds: int) -> IdempotentCreateLink:
    """`create_link` that runs once per (owner, request) within the window; a retry gets the same link."""
    def create_link_once(*, command: CreateLinkCommand, store: LinkStore, now: datetime) -> Link:
        return create_link(command, store, now)

    return once_per_command(create_link_once, idempotency_table=idempotency_table,  # type: ignore[no-any-return]
                            expires_after_seconds=expires_after_seconds, key_prefix="create_link")


def link_response(link: Link, clicks: int, base_url: str) -> LinkResponse:
    return LinkResponse(
        **link.model_dump(exclude={"created_by"}), url=tracked_url(base_url, link.code), clicks=clicks
    )


def get_link(code: str, store: LinkStore) -> tuple[Link, int]:
    found = store.get(code)
    if found is None:
        raise NotFoundError(f"no link with code {code}")
    return found
