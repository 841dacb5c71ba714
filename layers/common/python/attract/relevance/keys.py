"""Keys of the relevance items (target profiles, the member index, scores and matches): their one owner.

Profile:       PK=PROFILES,               SK=PROFILE#<profile id>   (ids sort by creation: newest first is a
                                                                     backward Query of one partition)
Member index:  PK=MEMBERIDX#all,          SK=<email_hash>           (written by the join's confirmation; what
                                                                     re-scoring walks, page by page, never a Scan)
Score:         PK=MEMBER#<email_hash>,    SK=SCORE#<profile id>     (the member's score for a profile version:
                                                                     the at-most-once fence of re-scoring)
Match:         PK=MATCH#<profile id>,     SK=<rank>#<email_hash>    (a relevant member; rank = 10000 - score x 10000,
                                                                     zero-padded: a forward Query is best first)
"""

from attract.joins.repository import member_key

PROFILES_PARTITION = "PROFILES"
PROFILE_PREFIX = "PROFILE#"
INDEX_PARTITION = "MEMBERIDX#all"
SCORE_PREFIX = "SCORE#"
MATCH_PREFIX = "MATCH#"
RANK_SCALE = 10_000  # scores have 4 decimals (attract.relevance.models.Score)


def profile_key(profile_id: str) -> dict:
    return {"PK": {"S": PROFILES_PARTITION}, "SK": {"S": f"{PROFILE_PREFIX}{profile_id}"}}


def profile_id_of(sort_key: str) -> str:
    return sort_key.removeprefix(PROFILE_PREFIX)


def index_key(email_hash: str) -> dict:
    return {"PK": {"S": INDEX_PARTITION}, "SK": {"S": email_hash}}


def score_key(email_hash: str, profile_id: str) -> dict:
    return member_key(email_hash, f"{SCORE_PREFIX}{profile_id}")


def match_partition(profile_id: str) -> str:
    return f"{MATCH_PREFIX}{profile_id}"


def rank(score: float) -> str:
    """Sort-key prefix ordering higher scores first: 1.0 -> 00000, 0.6 -> 04000, 0 -> 10000."""
    return f"{RANK_SCALE - round(score * RANK_SCALE):05d}"


def match_key(profile_id: str, score: float, email_hash: str) -> dict:
    return {"PK": {"S": match_partition(profile_id)}, "SK": {"S": f"{rank(score)}#{email_hash}"}}


def index_put(table: str, email_hash: str, joined_at: str, skills: list[str], location: str | None,
              reported: dict) -> dict:
    """The member index entry, as a TransactWriteItems Put of the join's confirmation (attract.joins.repository).

    Plain types only (no pydantic, no scoring library): the public joins function builds it."""
    from decimal import Decimal

    from attract.aws import to_item

    # Plain digits: a credit like Decimal("0E-12") is written as "0E-12" by boto3's serializer, which moto stores
    # and returns as text that later fails its own arithmetic (docs/decisions.md, "moto: numbers").
    plain = {dimension: {key: [Decimal(format(Decimal(value), "f")) for value in values] for key, values in keys.items()}
             for dimension, keys in reported.items()}
    return {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(PK)", "Item": {
        **index_key(email_hash), **to_item({"type": "member_index", "email_hash": email_hash, "joined_at": joined_at,
                                             "skills": list(skills), "location": location, "reported": plain})}}}
