"""Re-scoring throughput and memory: members a second and peak RSS, walking 10,000 and 200,000 members.

The real walk (`attract.relevance.rescoring.rescore_page`, pages of 100) and the real scorer (`score`,
`member_facts`) against an in-memory store that hands out index pages as DynamoDB would (generated per page,
never the whole index at once) and keeps what the walk writes (scores and matches of the members whose
outcome changed). So the figures are the scorer's CPU and working set; DynamoDB's side is counted, not timed:
per page 2 GetItem + 1 Query + 1 BatchGetItem + 1 UpdateItem (+ 1 SQS message), and one TransactWriteItems per
member whose relevance changed (docs/data-model.md, "Sizes and costs"). Each size runs in a fresh interpreter
(its own peak RSS, VmHWM). Printed, never asserted.
"""

import argparse
import json
import random
import subprocess
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers/common/python")]

PROFILE = {"name": "Data engineering, Berlin", "skills": {"required": ["python", "sql"], "preferred": ["spark", "k8s"]},
           "places": [{"place": "Berlin", "radius_km": 50}, {"remote": True}], "min_score": 0.6}
SKILLS = ["python", "sql", "spark", "k8s", "js", "postgres", "Java", "Docker", "Data Mesh", "Rust", "Excel", "AWS"]
LOCATIONS = ["Potsdam", "Berlin", "Munich, Germany", "remote", "Germany", "Paris", "Frankfurt (Oder)", None,
             "London", "Hamburg", "berlin de"]
PAGE = 100


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PagedStore:
    """`ScoreStore` whose index is generated page by page (seeded per member); writes are kept."""

    def __init__(self, members: int):
        self.size = members
        self.scores: dict = {}
        self.transactions = 0

    def _member(self, n: int):
        from attract.relevance.records import IndexedMember

        rng = random.Random(n)
        return IndexedMember(email_hash=f"{n:064x}", joined_at=datetime(2026, 12, 1, tzinfo=timezone.utc),
                             skills=rng.sample(SKILLS, rng.randint(1, 5)), location=rng.choice(LOCATIONS),
                             reported={"channel": {"direct": [Decimal(1)] * 6}})

    def member_page(self, cursor: str, limit: int):
        start = int(cursor, 16) + 1 if cursor else 0
        page = [self._member(n) for n in range(start, min(start + limit, self.size))]
        return page, (page[-1].email_hash if start + limit < self.size else None)

    def scores_for(self, profile_id, hashes):
        return {h: self.scores[h] for h in hashes if h in self.scores}

    def apply(self, change, check_profile=True):
        from attract.relevance.records import StoredScore

        self.transactions += 1
        self.scores[change.member.email_hash] = StoredScore(profile_id=change.profile_id, version=change.version,
                                                            score=change.score, relevant=change.relevant)
        return "applied"


def run(members: int) -> dict:
    from attract.relevance.models import ProfileBody
    from attract.relevance.rescoring import ProfileVersion, rescore_page
    from attract.relevance.scoring import compile_profile, member_facts, score, warm

    warm()
    profile = ProfileVersion("prf_bench", 1, compile_profile(ProfileBody.model_validate(PROFILE)))
    store = PagedStore(members)
    started, cursor, pages = time.perf_counter(), "", 0
    while True:
        _, _, after = rescore_page(profile, cursor, store, score, member_facts, PAGE)  # type: ignore[arg-type]
        pages += 1
        if after is None:
            break
        cursor = after
    elapsed = time.perf_counter() - started
    return {"members": members, "seconds": round(elapsed, 2), "members_per_s": round(members / elapsed),
            "pages": pages, "relevant": store.transactions, "peak_rss_mb": round(_peak_rss_mb(), 1),
            "dynamodb_calls": pages * 5 + store.transactions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, nargs="*", default=[10_000, 200_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process: one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one)))
        return
    print(f"re-scoring one profile version, pages of {PAGE} (real scorer, in-memory store)")
    for size in args.members:
        out = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {figures['members']:>7,} members: {figures['members_per_s']:>7,} members/s ({figures['seconds']} s), "
              f"peak RSS {figures['peak_rss_mb']} MB, {figures['pages']:,} pages, {figures['relevant']:,} relevant "
              f"(one transaction each), {figures['dynamodb_calls']:,} DynamoDB calls in all")


if __name__ == "__main__":
    main()
