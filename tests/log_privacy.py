"""What must never be in a log line (issue 15): an email address, a person's name, a token, a secret.

`findings(text, ...)` lists every such thing in a text, each as (kind, what matched); the demo test reads the
demo's log with it, and the unit tests plant each kind to show it is found. The people's names and the
secrets come from what the run itself used (the sample ATS database, the demo's sources, the stack's
secrets), not from a hand-typed list.
"""

import ast
import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

# Any address, any domain (the demo's are example.com/.org/.net; a log line must hold none at all).
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# attract.signing's tokens (join confirmation, invitation `tc_inv`, unsubscribe, cursors):
# "<field>.….<expires_at>.<43-character MAC>".
SIGNED_TOKEN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.\d{9,11}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
# A bare MAC (43) or a signed visitor/click id (`tc_vid`, `tc_click`: 22 random + 22 MAC characters), standing
# alone. A keyed email hash (64 hex characters) is longer, a uuid or request id shorter: neither matches.
SIGNED_PART = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43,44}(?![A-Za-z0-9_-])")
# A JWT (a Cognito bearer token, a local one): base64url JSON, which starts with '{"'.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}")
# The landing page's query parameters that carry a person's token or signed id, with a value (not a
# placeholder such as {token}, as route keys name it).
TOKEN_PARAMETER = re.compile(r"\b(?:tc_inv|tc_vid|tc_click)=(?!\{)[^&\s\"'>]+")
# Fields of a JSON secret that are credentials (the rest are account and pixel ids and endpoints, not secret).
SECRET_FIELD = re.compile(r"secret|token|password|key", re.IGNORECASE)
MIN_NAME = 3  # a one- or two-letter "name" (the demo's "M") cannot be told apart from any text


def findings(text: str, *, names: Iterable[str | re.Pattern] = (), secrets: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Each email address, name, token and secret value in `text`, as (kind, the match)."""
    found: list[tuple[str, str]] = [("email address", m) for m in EMAIL.findall(text)]
    found += [("signed token", m) for m in SIGNED_TOKEN.findall(text)]
    found += [("signed id or MAC", m) for m in SIGNED_PART.findall(text) if _mixed(m)]
    found += [("JWT", m[:16] + "…") for m in JWT.findall(text)]
    found += [("token parameter", m) for m in TOKEN_PARAMETER.findall(text)]
    for name in names:
        pattern = name if isinstance(name, re.Pattern) else re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        found += [("name", m) for m in pattern.findall(text)]
    found += [("secret", value[:4] + "…") for value in set(secrets) if value and value in text]
    return found


def _mixed(value: str) -> bool:
    """Random base64url has letters and digits; a run of one word character class (a long rule, a path) is no id."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def sample_ats_names(database: Path) -> set[str]:
    """Every first and last name in the demo's sample ATS (attract_local.sample_ats), as the demo left it."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT first_name, last_name FROM candidates").fetchall()
    connection.close()
    return {part for row in rows for part in row if part and len(part) >= MIN_NAME}


def typed_names(sources: Iterable[Path]) -> set[str | re.Pattern]:
    """The names the demo types into join forms: `"name"` beside `"email"` in a dict literal, and the `name`
    argument of the demo's own helpers (e.g. invitee.follow_invitation(api, aws, email, "Invited person")).

    An f-string ("Person {who}") becomes a pattern, its formatted parts any word."""
    trees = [ast.parse(path.read_text()) for path in sources]
    parameters = {node.name: [a.arg for a in node.args.args] for tree in trees for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef)}
    values: list[ast.expr] = []
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant)}
                if "email" in keys and "name" in keys:
                    values.append(keys["name"])
            elif isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                names = parameters.get(called or "", [])
                values += [arg for name, arg in zip(names, node.args, strict=False) if name == "name"]
                values += [kw.value for kw in node.keywords if kw.arg == "name" and "name" in names]
    found: set[str | re.Pattern] = set()
    for value in values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and len(value.value) >= MIN_NAME:
            found.add(value.value)
        elif isinstance(value, ast.JoinedStr):
            pattern = "".join(re.escape(part.value) if isinstance(part, ast.Constant) else r"\w+"
                              for part in value.values)
            found.add(re.compile(rf"(?<!\w){pattern}(?!\w)"))
    return found


def secret_values(stack_secrets: dict[str, str], pem: Path | None = None) -> set[str]:
    """The values to look for: each secret whole; a JSON secret's credential fields; the local JWT key's body."""
    values: set[str] = set()
    for value in stack_secrets.values():
        values.add(value)
        try:
            fields = json.loads(value)
        except ValueError:
            continue
        if isinstance(fields, dict):
            values |= {str(v) for k, v in fields.items()
                       if SECRET_FIELD.search(k) and not k.endswith(("_uri", "_url")) and v}
    if pem is not None and pem.exists():
        # Each line of the key's base64 body: 64 characters no log line could hold by chance.
        values |= {line for line in pem.read_text().splitlines() if line and not line.startswith("-----")}
    return values
