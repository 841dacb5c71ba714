"""`make local` under 8 concurrent clients: exact counts, no emulator errors, bounded memory."""

import os
import threading
import uuid
from collections import Counter
from datetime import datetime, timezone

import psutil
import pytest
import requests

from attract_local.mailbox import confirm_link, sent_mail

# One at a time on one worker (make test's --dist loadgroup): a load test measures the stack, not the other workers.
pytestmark = pytest.mark.xdist_group("heavy")

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
CLIENTS, JOINS, EMAILS = 8, 50, 20
FILLER = 5_000  # items no join reads, as a table in use holds; moto's per-item table copies grew with them


def send_join(session: requests.Session, api: str, email: str) -> None:
    """One candidate's join as the careers site sends it: always 202, the confirmation goes by email."""
    response = session.post(f"{api}/joins", json={"email": email, "name": "Load", "consent": True}, timeout=60)
    assert (response.status_code, response.json()) == (202, {"status": "pending"}), response.text


def press_link(session: requests.Session, link: str) -> int:
    """The confirmation page's button: 200 for the one press that joins, 410 for any later one."""
    return session.post(link, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60).status_code


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


def _race(clients: int, work: list, act) -> tuple[list, list[str]]:
    """`clients` threads released together, each doing its share of `work`; (results, errors)."""
    barrier, lock, results, errors = threading.Barrier(clients), threading.Lock(), [], []

    def client(index: int) -> None:
        session = requests.Session()
        barrier.wait()
        for item in work[index::clients]:
            try:
                result = act(session, item)
            except Exception as error:  # noqa: BLE001 - collected and asserted by the caller
                errors.append(repr(error))
                continue
            with lock:
                results.append(result)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_eight_clients_fifty_joins_twenty_emails_count_exactly(stack, api, recruiter):
    aws = stack[0]
    _fill(aws)
    before = {model: _joins_today(api, recruiter, model) for model in MODELS}
    emails = [f"load-{uuid.uuid4().hex[:8]}@example.com" for _ in range(EMAILS)]
    rss_before = _emulator_rss_mb()
    # When 8 clients send 50 joins for 20 addresses at once
    _, errors = _race(CLIENTS, [emails[i % EMAILS] for i in range(JOINS)], lambda session, email: send_join(session, api, email))
    assert errors == []
    # Then each address got exactly one email (one an hour), and 8 clients pressing the 20 links 50 times join 20
    assert all(len(sent_mail(aws.endpoint, email)) == 1 for email in emails)
    links = [confirm_link(aws.endpoint, email) for email in emails]
    statuses, errors = _race(CLIENTS, [links[i % EMAILS] for i in range(JOINS)], press_link)
    assert errors == []
    assert Counter(statuses) == {200: EMAILS, 410: JOINS - EMAILS}
    for model in MODELS:
        assert _joins_today(api, recruiter, model) == pytest.approx(before[model] + EMAILS), model
    # moto copied the whole table for each item of every transaction: gigabytes under 8 clients.
    assert _emulator_rss_mb() - rss_before < 150
