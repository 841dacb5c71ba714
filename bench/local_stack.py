"""The local stack (`make local`) under concurrent clients: throughput, tail latency and memory.

Scenario of issue 6: 8 clients send 50 joins for 20 emails over HTTP, first on a fresh table, then on a
table holding FILLER extra items (moto used to copy the whole table for each item of a transaction,
so join cost grew with the table). Times are printed as ratios to a baseline measured in the same run
(one client, fresh table); memory as RSS of the gateway + moto process and of the function workers.
Printed, never asserted (`make bench`).
"""

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

from attract_local.gateway import start_local  # noqa: E402
from attract_local.mailbox import latest_confirm_links  # noqa: E402

CLIENTS, JOINS, EMAILS = 8, 50, 20
FILLER = 20_000
# One machine is every client: the route throttles and the confirmation-mail limits (per network, per account)
# are raised, or the bench would measure the limits, not the stack.
LIMITS: dict[str, object] = {"JoinRateLimit": 100_000, "JoinBurstLimit": 100_000, "PublicRateLimit": 100_000,
          "PublicBurstLimit": 100_000, "JoinMailsPerSourceHour": 1_000_000, "JoinMailsPerHour": 1_000_000}


def submit_join(session: requests.Session, api: str, email: str) -> int:
    """The careers site's POST /joins (202 for any address; the confirmation goes by email)."""
    return session.post(f"{api}/joins", json={"email": email, "name": "Bench", "consent": True}, timeout=120).status_code


def press_link(session: requests.Session, link: str) -> int:
    """The emailed link's button: 200 for the press that joins, 410 for a link already used."""
    return session.post(link, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=120).status_code


def rss_mb() -> tuple[float, float]:
    me = psutil.Process(os.getpid())
    workers = sum(child.memory_info().rss for child in me.children(recursive=True))
    return me.memory_info().rss / 2**20, workers / 2**20


def run(api: str, clients: int, aws_endpoint: str) -> dict:
    """50 joins for 20 addresses: every submission, then every address's link pressed as often as it was submitted.

    The links are read from the emulator once between the two timed phases (its state dump is not what we measure).
    """
    emails = [f"bench-{uuid.uuid4().hex[:8]}@example.com" for _ in range(EMAILS)]
    latencies: list[float] = []
    statuses: list[int] = []
    peak = [0.0]
    done = threading.Event()

    def sample_memory() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], sum(rss_mb()))

    def phase(work: list, act) -> float:
        def client(index: int) -> None:
            session = requests.Session()
            for item in work[index::clients]:
                started = time.perf_counter()
                statuses.append(act(session, item))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    elapsed = phase([emails[i % EMAILS] for i in range(JOINS)], lambda session, email: submit_join(session, api, email))
    links = latest_confirm_links(aws_endpoint)
    elapsed += phase([links[emails[i % EMAILS]] for i in range(JOINS)], press_link)
    done.set()
    latencies.sort()
    return {"joins_per_s": JOINS / elapsed, "p50": statistics.median(latencies),
            "p95": latencies[int(0.95 * (len(latencies) - 1))], "max": latencies[-1],
            "statuses": sorted(set(statuses)), "peak_mb": peak[0]}


def fill_table(aws, count: int) -> None:
    """Items no join reads, as a long-lived table would hold (links, touches, members of past days)."""
    table = aws.refs["AttractTable"]
    client = aws.client("dynamodb")
    for start in range(0, count, 25):
        client.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"PK": {"S": f"FILL#{i}"}, "SK": {"S": "FILL"}, "pad": {"S": "x" * 200}}}}
            for i in range(start, min(start + 25, count))]})


def keepalive_ratio(api: str, requests_count: int = 200) -> float:
    """Per-request time on one keep-alive connection vs a new connection each time (Nagle showed here)."""
    session = requests.Session()
    session.get(f"{api}/t.js")
    started = time.perf_counter()
    for _ in range(requests_count):
        session.get(f"{api}/t.js")
    kept = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(requests_count):
        requests.get(f"{api}/t.js", headers={"Connection": "close"})
    fresh = time.perf_counter() - started
    return kept / fresh


def main() -> None:
    global FILLER
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filler", type=int, default=FILLER, help="extra items in the table for the last run")
    parser.add_argument("--moto-as-shipped", action="store_true",
                        help="skip attract_local.emulator's fixes, to see what they fix (slow, memory-hungry)")
    args = parser.parse_args()
    FILLER = args.filler
    if args.moto_as_shipped:
        import attract_local.emulator

        attract_local.emulator._PATCHED = True  # serialise_dynamodb() then believes it already ran
    with open(os.devnull, "w") as log:
        aws, gateway = start_local(port=0, log=log, parameters=LIMITS)
        try:
            api = gateway.url
            submit_join(requests.Session(), api, "warmup@example.com")
            idle = rss_mb()
            baseline = run(api, 1, aws.endpoint)
            cold = run(api, CLIENTS, aws.endpoint)  # the pool grows to its 4 workers: cold starts inside
            concurrent = run(api, CLIENTS, aws.endpoint)
            fill_started = time.perf_counter()
            fill_table(aws, FILLER)
            fill_s = time.perf_counter() - fill_started
            filled = run(api, CLIENTS, aws.endpoint)
            ratio = keepalive_ratio(api)
            after = rss_mb()
        finally:
            gateway.stop()
            aws.stop()
    print(f"local stack{' (moto as shipped)' if args.moto_as_shipped else ''}: {JOINS} joins for {EMAILS} emails"
          " over HTTP (50 submissions, then 50 presses of the emailed links: 20 join, 30 find them used); baseline = 1 client on a fresh table")
    print(f"  idle RSS: gateway+moto {idle[0]:.0f} MB, workers {idle[1]:.0f} MB")
    for name, result in (("1 client (baseline)", baseline), (f"{CLIENTS} clients, cold pool", cold),
                         (f"{CLIENTS} clients", concurrent),
                         (f"{CLIENTS} clients, +{FILLER:,} items", filled)):
        print(f"  {name:<28} {result['joins_per_s'] / baseline['joins_per_s']:5.2f} x baseline throughput"
              f"  ({result['joins_per_s']:.1f} joins/s)  p50 {result['p50'] / baseline['p50']:.2f} x"
              f"  p95 {result['p95'] / baseline['p50']:.2f} x  max {result['max'] / baseline['p50']:.2f} x baseline p50"
              f"  peak RSS {result['peak_mb']:.0f} MB  statuses {result['statuses']}")
    print(f"  table fill: {FILLER:,} items in {fill_s:.1f} s")
    print(f"  keep-alive request time / new-connection request time: {ratio:.2f}")
    print(f"  final RSS: gateway+moto {after[0]:.0f} MB, workers {after[1]:.0f} MB")


if __name__ == "__main__":
    main()
