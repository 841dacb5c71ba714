"""Invitation source adapters, and `open_source`: the one registry of them (a kind -> its adapter module).

Adapters depend on the domain (`attract.invites.sources` models, `attract.invites.ports` errors and protocol,
`attract.invites.screening` helpers), never the reverse: the functions hand `open_source` to the domain's logic.
Each adapter module is imported only when a spec of its kind is opened, so a function loads only its driver.
"""

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

from attract.invites.ports import CandidateSource, SourceError, SourceNotAllowedError
from attract.invites.sources import LOCAL_ONLY_KINDS, ColumnMapping

# kind -> (adapter module, what it needs to open): a new kind of source is one adapter plus one row.
REGISTRY: dict[str, tuple[str, str]] = {
    "postgresql": ("attract.providers.sources.postgresql", "secret"),
    "mysql": ("attract.providers.sources.mysql", "secret"),
    "s3": ("attract.providers.sources.s3", "client"),
    "dynamodb": ("attract.providers.sources.dynamodb", "client"),
    "sqlite": ("attract.providers.sources.sqlite", "file"),
}


def open_source(spec: Any, mapping: ColumnMapping, *, secrets: Callable[[str], dict] | None = None,
                clients: Mapping[str, Any] | None = None, allow_local: bool = False, **options: Any) -> CandidateSource:
    """The adapter for `spec`, its driver imported only now. `secrets(secret_id) -> dict` defaults to Powertools.

    What a campaign may read is the domain's rule (`attract.invites.source_rules.check_source`), checked before
    this is called; refusing local-only kinds here too keeps a file source out of a deployed function whatever
    the caller forgot."""
    if spec.kind in LOCAL_ONLY_KINDS and not allow_local:
        raise SourceNotAllowedError(f"{spec.kind} sources are for the local stack only")
    if spec.kind not in REGISTRY:
        raise SourceError(f"unknown source kind {spec.kind}")
    module_name, needs = REGISTRY[spec.kind]
    module = import_module(module_name)
    if needs == "secret":
        return module.open(spec, mapping, (secrets or _powertools_secret)(spec.secret_id), **options)
    if needs == "client":
        return module.open(spec, mapping, client=(clients or {}).get(spec.kind), **options)
    return module.open(spec, mapping, **options)


def _powertools_secret(secret_id: str) -> dict:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_id, transform="json", max_age=300)  # type: ignore[return-value]
