"""`make local` under 8 concurrent clients: exact counts, no emulator errors, bounded memory."""

import os
import threading
import uuid
from collections import Counter
from datetime import datetime, timezone

import psutil
import pytest
import requests

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
CLIENTS, JOINS, EMAILS = 8, 50, 20
FILLER = 5_000  # items no join reads, as a table in use holds; moto's per-item table copies grew with them


def send_join(session: requests.Session, api: str, email: str) -> str:
    """One candidate's join as the careers site sends it; returns the member it landed on.

    The only place this test knows the join protocol (adapt it here when joins change).
    """
    response = session.post(f"{api}/joins", json={"email": email, "name": "Load", "consent": True}, timeout=60)
    assert response.status_code in (200, 201), response.text
    return response.json()["member_id"]


def _joins_today(api: str, recruiter: dict, model: str) -> float:
    today = datetime.now(timezone.utc).date().isoformat()
    response = requests.get(f"{api}/reports/attribution", headers=recruiter,
                            params={"from": today, "to": today, "model": model, "group_by": "channel"})
    assert response.status_code == 200, response.text
    return response.json()["totals"]["joins"]


def _emulator_rss_mb() -> float:
    """This process: the gateway and moto (function workers are bounded by their MemorySize)."""
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def _fill(aws) -> None:
    client, table = aws.client("dynamodb"), aws.refs["AttractTable"]
    for start in range(0, FILLER, 25):
        client.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"PK": {"S": f"FILL#{i}"}, "SK": {"S": "FILL"}, "pad": {"S": "x" * 200}}}}
            for i in range(start, start + 25)]})


def test_eight_clients_fifty_joins_twenty_emails_count_exactly(stack, api, recruiter):
    _fill(stack[0])
    before = {model: _joins_today(api, recruiter, model) for model in MODELS}
    emails = [f"load-{uuid.uuid4().hex[:8]}@example.com" for _ in range(EMAILS)]
    work = [emails[i % EMAILS] for i in range(JOINS)]
    lock, members, errors = threading.Lock(), Counter(), []
    rss_before = _emulator_rss_mb()
    barrier = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        session = requests.Session()
        barrier.wait()
        for email in work[index::CLIENTS]:
            try:
                member = send_join(session, api, email)
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(repr(error))
                continue
            with lock:
                members[(email, member)] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({email for email, _ in members}) == EMAILS
    assert len({member for _, member in members}) == EMAILS  # one member per email, however often it joined
    for model in MODELS:
        assert _joins_today(api, recruiter, model) == pytest.approx(before[model] + EMAILS), model
    # moto copied the whole table for each item of every transaction: gigabytes under 8 clients.
    assert _emulator_rss_mb() - rss_before < 150
