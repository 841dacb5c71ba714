"""Local helpers for the delayed Google conversions: "6 hours later, the sweep runs" without waiting 6 hours.

Google takes a conversion only 6 hours after its click, so a join confirmed in the demo is held
(`CONVERSION_DUE#<hour>` items) until the sweep (`ConversionSweepFunction`, every 15 minutes) finds it due.
The sweep works as of its schedule's time, so firing it as of a later time is all it takes; the local
Data Manager sandbox is moved forward with it, so that its own 6-hour rule agrees.

    from attract_local.conversions import advance_and_sweep
    answer = advance_and_sweep(api, sandboxes, hours=6.5)  # {"ok": True, "result": {"as_of": ..., "counts": {...}}}
    datamanager = sandboxes.started["google_datamanager"]; datamanager.events  # what Google "recorded"
"""

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import requests

SWEEP_SCHEDULE = "ConversionSweepFunction.Sweep"


def advance_clock(sandbox: Any, by: timedelta) -> None:
    """Move a sandbox's clock (one with a `clock` attribute, like DataManagerSandbox) `by` ahead of real time."""
    sandbox.clock = lambda: datetime.now(timezone.utc) + by


def sweep_at(api: str, at: datetime, timeout_s: float = 120) -> dict:
    """Fire the running local stack's conversion sweep as of `at` (`POST /_local/fire/<schedule>?at=`); waits
    for it and returns the stack's answer (`result` is the function's: `as_of` and `counts` per outcome)."""
    response = requests.post(f"{api}/_local/fire/{quote(SWEEP_SCHEDULE, safe='')}", params={"at": at.isoformat()},
                             timeout=timeout_s)
    response.raise_for_status()
    return response.json()


def advance_and_sweep(api: str, sandboxes: Any, hours: float) -> dict:
    """`hours` from now: the Data Manager sandbox (when `sandboxes` started one) moved there, then the sweep run."""
    by = timedelta(hours=hours)
    datamanager = getattr(sandboxes, "started", {}).get("google_datamanager")
    if datamanager is not None:
        advance_clock(datamanager, by)
    return sweep_at(api, datetime.now(timezone.utc) + by)
