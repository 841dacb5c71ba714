"""A synthetic SQLite "ATS" for the demo: a few hundred candidates with the flaws real exports have.

`build(path)` writes the table `candidates` and returns what a first invite campaign over it must
report: rows read, skips per reason, invitations planned, and the one address the demo makes an
existing member first. Every address is at example.com / example.org / example.net (RFC 2606: no
real inbox). Deterministic: the same seed gives the same rows.

The flaws, each counted under the planner's skip reason:
- `invalid_email`: malformed addresses and NULLs;
- `no_consent`: marketing_consent 0 or NULL (also on a second record of someone who did consent);
- `duplicate`: the same address again in other case or with stray spaces (equal once normalised);
- `member`: one consenting address the demo joins to the talent community before the campaign runs.
"""

import random
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

TABLE = "candidates"
DOMAINS = ("example.com", "example.org", "example.net")
FIRST_NAMES = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Dennis",
               "Margaret", "Ken", "Radia", "Tim", "Hedy", "Linus", "Sophie", "Guido", "Shafi", "Leslie",
               "Mary", "Niklaus", "Anita", "Bjarne", "Jean", "Claude", "Evelyn", "Yukihiro", "Karen", "Whitfield")
LAST_NAMES = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Johnson",
              "Ritchie", "Hamilton", "Thompson", "Perlman", "Berners-Lee", "Lamarr", "Torvalds", "Wilson",
              "van Rossum", "Goldwasser", "Lamport", "Jackson", "Wirth", "Borg", "Stroustrup", "Sammet", "Shannon",
              "Boyd", "Matsumoto", "Sparck Jones", "Diffie")
CITIES = ("Berlin", "Hamburg", "Munich", "Cologne", "Leipzig", "Vienna", "Zurich", "Amsterdam", "Lisbon", "Remote")
SKILLS = ("python", "sql", "go", "kubernetes", "react", "typescript", "java", "terraform", "spark", "dbt",
          "aws", "rust", "kotlin", "figma", "airflow")
# Malformed the way exports are: each is refused by attract.identity.normalise_email.
BAD_EMAILS = ("{first}.{last}", "{first}.{last}@", "@{domain}", "{first}@@{domain}", "{first} {last}@{domain}",
              "{first}.{last}@{domain}.", "{first}..{last}@{domain}", "{first}.{last}@localhost", "{first}<{last}>@{domain}",
              None)
CANONICAL = re.compile(r"[a-z]+\.[a-z]+[0-9]+@example\.(com|org|net)")
UPDATED_FROM = datetime(2026, 1, 5, tzinfo=timezone.utc)
UPDATED_SPAN_DAYS = 300

# Shares of `people` rows (the rest are distinct, consenting, valid candidates).
BAD_EMAIL_SHARE = 0.05
NO_CONSENT_SHARE = 0.10
DUPLICATE_SHARE = 0.06
WITHDRAWN_SHARE = 0.01  # a second record without consent of someone who consented: no_consent, not duplicate


def _local_part(first: str, last: str, number: int) -> str:
    return f"{first}.{last}".lower().replace(" ", "").replace("-", "") + str(number)


def _variant(email: str, rng: random.Random) -> str:
    """The same address as another system typed it: other case, stray spaces, or both."""
    local, domain = email.split("@")
    shapes = (
        f"{local.capitalize()}@{domain.upper()}",
        f"  {email}",
        f"{email.upper()} ",
        f" {local.title()}@{domain.capitalize()}  ",
    )
    return rng.choice(shapes)


def _stamp(rng: random.Random) -> str:
    """updated_at as SQLAlchemy stores a SQLite DATETIME (naive UTC text): the planner's `since` compares as text."""
    moment = UPDATED_FROM + timedelta(seconds=rng.randrange(UPDATED_SPAN_DAYS * 86400))
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def build(path: str | Path, *, seed: int = 7, people: int = 300) -> dict:
    """Write the `candidates` table to a new SQLite file at `path` (replaced if present); the expected report.

    Returns `{"path", "table", "rows", "planned", "skipped": {reason: n}, "member_email", "mapping"}`:
    what a first campaign run over the whole table plans and skips once `member_email` has joined.
    """
    if people < 50:
        raise ValueError("people must be at least 50: every flaw needs a few rows")
    rng = random.Random(seed)
    bad = round(people * BAD_EMAIL_SHARE)
    no_consent = round(people * NO_CONSENT_SHARE)
    duplicates = round(people * DUPLICATE_SHARE)
    withdrawn = max(1, round(people * WITHDRAWN_SHARE))
    unique = people - bad - no_consent - duplicates - withdrawn

    def person(number: int) -> dict:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        return {"first_name": first, "last_name": last, "city": rng.choice(CITIES),
                "skills": ", ".join(rng.sample(SKILLS, rng.randint(1, 4))),
                "email": f"{_local_part(first, last, number)}@{rng.choice(DOMAINS)}", "marketing_consent": 1}

    rows: list[dict] = []
    consenting = [person(n) for n in range(1, unique + 1)]
    rows += consenting
    rows += [{**person(unique + n), "marketing_consent": rng.choice((0, 0, None))} for n in range(1, no_consent + 1)]
    for n in range(bad):
        shape = BAD_EMAILS[n % len(BAD_EMAILS)]
        values = person(0)
        email = None if shape is None else shape.format(first=values["first_name"].lower(),
                                                        last=values["last_name"].lower(), domain=rng.choice(DOMAINS))
        rows.append({**values, "email": email})
    member = consenting[0]  # has no second record below: exactly one `member` skip
    originals = consenting[1:]
    rows += [{**original, "email": _variant(original["email"], rng), "city": rng.choice(CITIES)}
             for original in rng.sample(originals, duplicates)]
    rows += [{**original, "email": _variant(original["email"], rng), "marketing_consent": 0}
             for original in rng.sample(originals, withdrawn)]
    rng.shuffle(rows)
    for number, row in enumerate(rows, start=1):
        row["id"] = number
        row["updated_at"] = _stamp(rng)

    target = Path(path)
    target.unlink(missing_ok=True)
    with sqlite3.connect(target) as connection:
        connection.execute(
            f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, skills TEXT, "
            "city TEXT, marketing_consent INTEGER, updated_at TEXT NOT NULL)")
        connection.executemany(
            f"INSERT INTO {TABLE} VALUES (:id, :email, :first_name, :last_name, :skills, :city, :marketing_consent, "
            ":updated_at)", rows)
    connection.close()
    skipped = Counter({"invalid_email": bad, "no_consent": no_consent + withdrawn, "duplicate": duplicates,
                       "member": 1})
    return {
        "path": str(target), "table": TABLE, "rows": people, "planned": people - sum(skipped.values()),
        "skipped": dict(skipped), "member_email": member["email"],
        # The campaign's `mapping` for this table (issue 7's shape).
        "mapping": {"email": "email", "first_name": "first_name", "last_name": "last_name", "skills": "skills",
                    "location": "city", "consent": "marketing_consent", "updated_at": "updated_at",
                    "external_id": "id"},
    }


def change(connection: sqlite3.Connection, now: datetime | None = None, spare: Iterable[str] = ()) -> str:
    """What happens in an ATS between two runs: one new candidate, and an already-invited person's row edited.

    Both rows get `updated_at` = now, after every stamp `build` wrote: an incremental run reads exactly these
    two, invites the new person and sends nothing to the edited one (this campaign invited them already).
    `spare`: addresses not to edit, e.g. invitees who have since joined or unsubscribed (who would be skipped
    as a member or as suppressed, which the order of sending decides, not as already invited).
    """
    spared = {address.lower() for address in spare}
    stamp = (now or datetime.now(timezone.utc)).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    rows = connection.execute(f"SELECT id, email FROM {TABLE} WHERE marketing_consent = 1 ORDER BY id").fetchall()
    # A canonical, valid address (not a typed variant, not a planted bad one), past the first rows (the member).
    edited = [number for number, email in rows
              if email and CANONICAL.fullmatch(email) and email.lower() not in spared][5]
    connection.execute(f"UPDATE {TABLE} SET city = 'Remote', updated_at = ? WHERE id = ?", (stamp, edited))
    next_id = connection.execute(f"SELECT max(id) + 1 FROM {TABLE}").fetchone()[0]
    connection.execute(
        f"INSERT INTO {TABLE} VALUES (?, ?, 'Barbara', 'Newcomer', 'python, sql', 'Berlin', 1, ?)",
        (next_id, f"barbara.newcomer{next_id}@example.org", stamp))
    connection.commit()
    return "1 new candidate, 1 edited row of someone invited already"


if __name__ == "__main__":  # python -m attract_local.sample_ats [path]
    import json
    import sys

    print(json.dumps(build(sys.argv[1] if len(sys.argv) > 1 else "sample_ats.db"), indent=2))
