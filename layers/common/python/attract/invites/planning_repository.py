"""The planner's lookups: why each person may not be invited, read in one BatchGetItem per 25 people.

Four keys a person, built by their owners: the member (attract.joins.repository), the suppression, the
cooldown and this campaign's claim (attract.invites.repository). The planner's own module: the public
unsubscribe function, which uses attract.invites.repository, never loads the joins' repository.
"""

from datetime import datetime

from attract.aws import Repository, batch_get
from attract.invites.repository import claim_key, cooldown_key, suppression_key
from attract.joins.repository import member_key

# In order of precedence: the first found is the reason (a member is never invited, whatever else holds).
REASONS = ("member", "suppressed", "already_invited", "cooldown")


class PlanningLookups(Repository):
    """Why each person may not be invited by a campaign: member, suppressed, cooldown, already_invited (or None).

    Eventually consistent reads would do for members and suppressions, but the claim decides
    already_invited on a redelivered plan: strongly consistent, at twice the read units.
    """

    def __init__(self, table_name: str, dynamodb=None, sleep=None):
        super().__init__(table_name, dynamodb)
        self._sleep = sleep  # None: attract.retry's default

    def reasons(self, campaign_id: str, email_hashes: list[str], now: datetime,
                cooldown_days: int) -> dict[str, str | None]:
        wanted: dict[tuple[str, str], tuple[str, str]] = {}  # (PK, SK) -> (email hash, reason it stands for)
        keys = []
        for digest in email_hashes:
            for reason, key in (("member", member_key(digest, "MEMBER")), ("suppressed", suppression_key(digest)),
                                ("cooldown", cooldown_key(digest)), ("already_invited", claim_key(campaign_id, digest))):
                wanted[(key["PK"]["S"], key["SK"]["S"])] = (digest, reason)
                keys.append(key)
        items = self._batch_get(keys)  # 100 keys (25 people) a call
        cutoff = int(now.timestamp()) - cooldown_days * 86400
        found: dict[str, set[str]] = {digest: set() for digest in email_hashes}
        for item in items:
            digest, reason = wanted[(item["PK"]["S"], item["SK"]["S"])]
            if reason == "cooldown" and not (item.get("campaign_id", {}).get("S") != campaign_id
                                             and int(item.get("invited_at", {}).get("N", "0")) >= cutoff):
                continue  # this campaign's own, or run out: the sender's hold_cooldown would take it
            found[digest].add(reason)
        return {digest: next((reason for reason in REASONS if reason in found[digest]), None)
                for digest in email_hashes}

    def _batch_get(self, keys: list[dict]) -> list[dict]:
        return batch_get(self.dynamodb, self.table, keys, sleep=self._sleep, ConsistentRead=True,
                         ProjectionExpression="PK, SK, invited_at, campaign_id")
