"""Spend sync logic and the report's spend columns, with an in-test AdsGateway and in-memory stores."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from attract.attribution.credit import AttributionModel
from attract.attribution.logic import ReportData, attribution_report
from attract.attribution.models import OTHER, GroupBy
from attract.campaigns.models import SpendRow
from attract.campaigns.ports import PlatformError, RateLimited
from attract.campaigns.spend import PlatformCampaign, day_spend, sync_all, sync_channel, sync_window

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)
YESTERDAY, TODAY = date(2026, 12, 1), date(2026, 12, 2)


class Platform:
    """An AdsGateway whose account holds fixed daily rows (or fails): only `spend` is used here."""

    def __init__(self, channel: str, rows: list[SpendRow] | None = None, error: Exception | None = None):
        self.channel, self.rows, self.error, self.asked = channel, rows or [], error, []

    def spend(self, start, end):
        self.asked.append((start, end))
        if self.error:
            raise self.error
        return list(self.rows)


class MemorySpend:
    """Keyed as the table is: one value per (channel, platform campaign, day), replaced by a put."""

    def __init__(self, *campaigns: PlatformCampaign):
        self.registry = {(c.channel, c.platform_campaign_id): c for c in campaigns}
        self.days: dict[tuple[str, str, date], tuple[SpendRow, PlatformCampaign]] = {}
        self.syncs: dict[str, object] = {}

    def platform_campaigns(self, channel, platform_ids):
        return {pid: self.registry[(channel, pid)] for pid in platform_ids if (channel, pid) in self.registry}

    def put_days(self, rows, synced_at):
        for row, campaign in rows:
            self.days[(row.channel, row.platform_campaign_id, row.day)] = (row, campaign)

    def record_sync(self, outcome, at):
        self.syncs[outcome.channel] = outcome


def row(pid: str, day: date, cost: str, currency: str = "EUR", channel: str = "google_search") -> SpendRow:
    return SpendRow(channel=channel, platform_campaign_id=pid, day=day, cost=Decimal(cost), currency=currency,
                    clicks=3, impressions=100)


DATA_ENG = PlatformCampaign("google_search", "111", "c1", "Data engineers Berlin")
DATA_ENG_META = PlatformCampaign("meta", "m-9", "c1", "Data engineers Berlin")


def test_the_window_is_yesterday_and_today_utc():
    assert sync_window(NOW) == (YESTERDAY, TODAY)
    assert sync_window(datetime(2027, 1, 1, 0, 5, tzinfo=timezone.utc)) == (date(2026, 12, 31), date(2027, 1, 1))


def test_launched_campaigns_are_stored_under_their_report_keys_and_others_counted():
    store = MemorySpend(DATA_ENG)
    platform = Platform("google_search", [row("111", YESTERDAY, "12.50"), row("111", TODAY, "3.10"),
                                          row("999", TODAY, "40.00"), row("998", TODAY, "1.00")])
    outcome = sync_channel(platform, store, YESTERDAY, TODAY, NOW)
    assert (outcome.ok, outcome.rows_stored, outcome.unknown_campaigns, outcome.unknown_rows) == (True, 2, 2, 2)
    assert sorted(store.days) == [("google_search", "111", YESTERDAY), ("google_search", "111", TODAY)]
    assert DATA_ENG.report_keys == {"channel": "paid_search", "campaign": "Data engineers Berlin"}
    assert DATA_ENG_META.report_keys["channel"] == "paid_social"
    assert store.syncs["google_search"] is outcome


def test_a_day_synced_again_carries_its_full_value_so_the_store_replaces_it():
    store = MemorySpend(DATA_ENG)
    sync_channel(Platform("google_search", [row("111", TODAY, "3.10")]), store, YESTERDAY, TODAY, NOW)
    sync_channel(Platform("google_search", [row("111", TODAY, "3.10")]), store, YESTERDAY, TODAY, NOW)
    assert store.days[("google_search", "111", TODAY)][0].cost == Decimal("3.10")  # not 6.20
    sync_channel(Platform("google_search", [row("111", TODAY, "7.25")]), store, YESTERDAY, TODAY, NOW)
    assert store.days[("google_search", "111", TODAY)][0].cost == Decimal("7.25")  # the day's new total



def test_the_day_spend_is_the_highest_day_per_currency_of_launched_campaigns_all_channels_added():
    # Given Google (EUR, two campaigns of ours and one not) and Meta (EUR and a USD account) synced for the window
    ours = PlatformCampaign("google_search", "112", "c2", "Analysts Paris")
    meta_usd = PlatformCampaign("meta", "m-10", "c3", "Data engineers Austin")
    store = MemorySpend(DATA_ENG, ours, DATA_ENG_META, meta_usd)
    google = sync_channel(Platform("google_search", [row("111", YESTERDAY, "40"), row("111", TODAY, "12.50"),
                                                     row("112", TODAY, "7.50"), row("999", TODAY, "900")]),
                          store, YESTERDAY, TODAY, NOW)
    meta = sync_channel(Platform("meta", [row("m-9", TODAY, "30", channel="meta"),
                                          row("m-10", TODAY, "5.25", "USD", channel="meta")]), store, YESTERDAY, TODAY, NOW)
    assert google.spend == {(YESTERDAY, "EUR"): Decimal("40"), (TODAY, "EUR"): Decimal("20.00")}
    # Then today's EUR is both channels added (50 > yesterday's 40), USD stands alone, nothing is converted, and
    # the account's campaigns Attract did not launch (999) never count
    assert day_spend([google, meta]) == {"EUR": Decimal("50.00"), "USD": Decimal("5.25")}
    # And a failed channel adds nothing; a resync (the day's new total) replaces, never adds
    failed = sync_channel(Platform("meta", error=RateLimited("meta", "busy", ["80004"], "t")), store, YESTERDAY, TODAY, NOW)
    assert failed.spend == {} and day_spend([google, failed]) == {"EUR": Decimal("40")}
    again = sync_channel(Platform("google_search", [row("111", TODAY, "12.50")]), store, YESTERDAY, TODAY, NOW)
    assert day_spend([again]) == {"EUR": Decimal("12.50")}

def test_rows_outside_the_window_are_not_stored():
    store = MemorySpend(DATA_ENG)
    outcome = sync_channel(Platform("google_search", [row("111", date(2026, 11, 1), "5")]), store, YESTERDAY, TODAY, NOW)
    assert outcome.rows_stored == 0 and store.days == {}


def test_a_platform_error_is_recorded_and_the_other_channel_still_syncs():
    store = MemorySpend(DATA_ENG, DATA_ENG_META)
    google = Platform("google_search", error=RateLimited("google_ads", "quota", ["RESOURCE_EXHAUSTED"], "req-1"))
    meta = Platform("meta", [row("m-9", TODAY, "9.99", "USD", channel="meta")])
    outcomes = sync_all({"google_search": lambda: google, "meta": lambda: meta}, store, NOW)
    assert [(o.channel, o.ok, o.error_codes, o.rows_stored) for o in outcomes] == [
        ("google_search", False, ["RESOURCE_EXHAUSTED"], 0), ("meta", True, [], 1)]
    assert google.asked == meta.asked == [(YESTERDAY, TODAY)]
    assert not store.syncs["google_search"].ok and store.syncs["meta"].ok


def test_a_gateway_that_cannot_be_built_fails_only_its_channel():
    store = MemorySpend(DATA_ENG)

    def broken():
        raise KeyError("developer_token")

    google = Platform("google_search", [row("111", TODAY, "1")])
    outcomes = sync_all({"meta": broken, "google_search": lambda: google}, store, NOW)
    assert [(o.channel, o.ok, o.error_codes) for o in outcomes] == [("meta", False, ["KeyError"]),
                                                                     ("google_search", True, [])]
    assert "developer_token" not in str(store.syncs["meta"])  # the type only, never the message


def test_a_platform_error_without_codes_is_still_named():
    store = MemorySpend()
    outcome = sync_channel(Platform("meta", error=PlatformError("meta", "boom")), store, YESTERDAY, TODAY, NOW)
    assert (outcome.ok, outcome.error_codes) == (False, ["platform_error"])


# ---- the report's spend columns


class Reader:
    def __init__(self, data: ReportData):
        self.data = data

    def read_report(self, model, start, end, dimension):
        return self.data


def report(data: ReportData, limit: int = 50):
    return attribution_report(AttributionModel.LINEAR, GroupBy.CAMPAIGN, YESTERDAY, TODAY, Reader(data), limit)


def test_cost_per_join_is_spend_over_credited_joins_per_currency_never_mixed():
    data = ReportData(per_key={"Data engineers Berlin": (Decimal("2.5"), 4), "alumni": (Decimal(1), 1)},
                      joins=Decimal("3.5"), touches=5,
                      spend={"Data engineers Berlin": {"EUR": Decimal("50.005"), "USD": Decimal("10")}},
                      total_spend={"EUR": Decimal("50.005"), "USD": Decimal("10")})
    result = report(data).model_dump(mode="json")
    rows = {r["key"]: r for r in result["rows"]}
    assert rows["Data engineers Berlin"]["spend"] == [
        {"currency": "EUR", "amount": "50.01", "cost_per_join": "20.00", "cost_per_relevant_join": None},  # 50.005 / 2.5
        {"currency": "USD", "amount": "10.00", "cost_per_join": "4.00", "cost_per_relevant_join": None}]
    assert rows["alumni"]["spend"] == []
    assert result["totals"]["spend"] == [{"currency": "EUR", "amount": "50.01", "cost_per_join": "14.29", "cost_per_relevant_join": None},
                                         {"currency": "USD", "amount": "10.00", "cost_per_join": "2.86", "cost_per_relevant_join": None}]


def test_a_campaign_that_spent_without_a_join_is_a_row_with_no_cost_per_join():
    data = ReportData(per_key={}, joins=Decimal(0), touches=0, spend={"Quiet campaign": {"EUR": Decimal("12")}},
                      total_spend={"EUR": Decimal("12")})
    result = report(data).model_dump(mode="json")
    assert result["rows"] == [{"key": "Quiet campaign", "joins": 0, "touches": 0, "relevant_joins": 0, "clicks": 0,
                               "join_rate": None, "relevance_rate": None,
                               "spend": [{"currency": "EUR", "amount": "12.00", "cost_per_join": None, "cost_per_relevant_join": None}]}]
    assert result["totals"]["spend"] == [{"currency": "EUR", "amount": "12.00", "cost_per_join": None, "cost_per_relevant_join": None}]


def test_the_other_row_carries_the_spend_of_every_key_folded_into_it():
    per_key = {f"c{i}": (Decimal(i), i) for i in range(1, 6)} | {OTHER: (Decimal(1), 1)}
    spend = {f"c{i}": {"EUR": Decimal(i)} for i in range(1, 6)} | {"no joins": {"EUR": Decimal(100), "GBP": Decimal(1)}}
    data = ReportData(per_key=per_key, joins=Decimal(16), touches=16, spend=spend,
                      total_spend={"EUR": Decimal(115), "GBP": Decimal(1)})
    rows = {r.key: r for r in report(data, limit=3).rows}
    assert set(rows) == {"c5", "c4", OTHER}
    other = {s.currency: s for s in rows[OTHER].spend}
    # (other) = c1 + c2 + c3 + the stored (other) + "no joins": joins 1+2+3+1 = 7, EUR 1+2+3+100 = 106
    assert rows[OTHER].joins == 7 and other["EUR"].amount == Decimal("106.00") and other["GBP"].amount == Decimal("1.00")
    assert other["EUR"].cost_per_join == Decimal("15.14")
    total_eur = sum(s.amount for r in rows.values() for s in r.spend if s.currency == "EUR")
    assert total_eur == Decimal(115)


@pytest.mark.parametrize("joins", [Decimal(0), Decimal("0.000")])
def test_no_cost_per_join_without_joins(joins):
    data = ReportData(per_key={"x": (joins, 0)}, joins=joins, touches=0, spend={"x": {"EUR": Decimal(5)}},
                      total_spend={"EUR": Decimal(5)})
    assert report(data).rows[0].spend[0].cost_per_join is None
