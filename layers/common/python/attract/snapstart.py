"""SnapStart runtime hooks, in one place: everything unique is made fresh after a restore.

With SnapStart (the public functions, template.yaml) Lambda runs the init phase once per published
version, snapshots the memory, and resumes many execution environments from that one image. Whatever
init left in memory is then shared by all of them (docs/decisions.md, "Operations"):

- `random`'s state: every restore would draw the same sequence (retry jitter). Reseeded from the OS.
- boto3's default session and every cached client: credentials resolved at init and pooled connections
  that no longer exist after the restore. Dropped, so the next call builds them in the restored environment.
- Powertools' parameter providers: their clients, and values cached against a clock that jumped.
- `secrets`, `os.urandom` and `uuid.uuid4` read the OS's entropy on every call: fresh after a restore
  as they are. No module of ours pre-generates an id or a nonce at import (a test forks an initialised
  process twice, as two restores of one snapshot, and compares what each issues).

The hooks API (`snapshot_restore_py`) is provided by the Lambda Python runtime only. Locally and in tests
it does not exist: `run_before_snapshot()` and `run_after_restore()` are what the runtime would call, in
the runtime's order (before: reverse of registration; after: registration order).
"""

import random
import sys
from collections.abc import Callable
from typing import Any

Hook = Callable[[], None]

_before: list[Hook] = []
_after: list[Hook] = []


def before_snapshot(hook: Hook) -> Hook:
    """Run `hook` while Lambda publishes a version, just before the snapshot (decorator)."""
    _before.append(hook)
    return hook


def after_restore(hook: Hook) -> Hook:
    """Run `hook` in every execution environment resumed from the snapshot, before its first event (decorator)."""
    _after.append(hook)
    return hook


def run_before_snapshot() -> None:
    for hook in reversed(_before):
        hook()


def run_after_restore() -> None:
    for hook in list(_after):
        hook()


@after_restore
def _reseed_random() -> None:
    random.seed()  # from os.urandom: the restored environment's entropy


@after_restore
def _forget_aws_sessions() -> None:
    # Only what init loaded: a module nobody imported holds nothing to forget (and costs nothing to skip).
    boto3: Any = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None
    aws = sys.modules.get("attract.aws")
    if aws is not None:
        aws.client.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters.constants")
    if parameters is not None:
        parameters.DEFAULT_PROVIDERS.clear()  # our previous-signing-key cache lives there too


def _register_with_the_runtime() -> bool:
    """Hand our two runners to the Lambda runtime's hooks API, where it exists."""
    try:
        import snapshot_restore_py  # type: ignore[import-not-found]  # shipped by the Lambda Python runtime
    except ImportError:  # the local stack, tests, tools: they call run_before_snapshot / run_after_restore
        return False
    snapshot_restore_py.register_before_snapshot(run_before_snapshot)
    snapshot_restore_py.register_after_restore(run_after_restore)
    return True


ON_LAMBDA_RUNTIME = _register_with_the_runtime()
