"""Meta's currency offsets (attract.campaigns.currencies): budgets in the unit Meta counts them in."""

from decimal import Decimal

import pytest

from attract.campaigns.currencies import UnknownCurrencyError, meta_decimals, meta_offset, meta_units


@pytest.mark.parametrize(("amount", "currency", "units"), [
    ("50.00", "EUR", 5000), ("50", "USD", 5000), ("0.01", "GBP", 1),
    ("5000", "JPY", 5000), ("5000", "KRW", 5000), ("300", "TWD", 300), ("20000", "CLP", 20000),
    ("25000", "COP", 25000), ("1000", "HUF", 1000), ("150000", "VND", 150000),
])
def test_amounts_are_sent_in_meta_s_unit_for_the_currency(amount, currency, units):
    assert meta_units(Decimal(amount), currency) == units


def test_more_precision_than_the_unit_is_refused_not_rounded():
    with pytest.raises(ValueError, match="at most 0 decimals"):
        meta_units(Decimal("5000.5"), "JPY")
    with pytest.raises(ValueError, match="at most 2 decimals"):
        meta_units(Decimal("1.001"), "EUR")


def test_every_currency_of_meta_s_table_has_an_offset_and_others_none():
    assert (meta_offset("EUR"), meta_offset("JPY"), meta_decimals("ISK"), meta_decimals("CHF")) == (100, 1, 0, 2)
    with pytest.raises(UnknownCurrencyError):
        meta_offset("XYZ")
