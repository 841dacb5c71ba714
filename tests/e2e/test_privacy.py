"""No raw email, name or token reaches the logs, whatever the request does."""

import time
import uuid
from datetime import datetime, timedelta, timezone

import requests


def test_logs_carry_no_personal_data_or_tokens(api, marketer, stack_log):
    marker = uuid.uuid4().hex[:12]
    email, name = f"Private.{marker}@Example.com", f"Name{marker}"
    assert requests.post(f"{api}/joins", json={"email": email, "name": name, "consent": True}).status_code == 201
    assert requests.post(f"{api}/joins", json={"email": email, "name": name, "consent": True}).status_code == 200
    assert requests.post(f"{api}/joins", json={"email": f"bad{marker}", "name": name, "consent": False}).status_code == 422
    # An import inside the 90-day window, so the email really goes through hashing and storage.
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    imported = requests.post(f"{api}/touches", headers=marketer, json={
        "email": email, "occurred_at": yesterday, "campaign": "x", "channel": "event", "source": "s", "medium": "m"})
    assert imported.status_code == 200 and imported.json()["recorded"] == 1
    time.sleep(0.5)  # let the workers flush their log lines
    log = stack_log.read_text().lower()
    assert "join" in log  # the functions did log
    assert marker not in log
    assert marketer["Authorization"].split()[1][:40].lower() not in log
