"""Money as Meta's Marketing API counts it: each currency's offset, and amounts in that unit.

Meta sends and takes budgets "at ad account currencies minimum denomination level, such as cents for USD"
(https://developers.facebook.com/docs/marketing-api/bidding/overview/budgets), and its currency table
gives each currency's offset: 100 for most, 1 for the currencies Meta counts in whole units
(https://developers.facebook.com/docs/marketing-api/currencies). So EUR 50.00 is sent as 5000 and
JPY 5000 as 5000, never 500000. A currency missing from the table is one Meta's ad accounts do not have.

Shared by the policy (a draft's amount may not be more precise than its currency) and the Meta adapter
(the conversion); nothing here imports an SDK.
"""

from decimal import Decimal

# Meta's "Currency Codes" table, Offset column: the currencies with offset 1; every other code listed there is 100.
META_WHOLE_UNIT_CURRENCIES = frozenset({"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"})
META_HUNDREDTHS_CURRENCIES = frozenset({
    "DZD", "ARS", "AUD", "BHD", "BDT", "BOB", "BGN", "BRL", "GBP", "CAD", "CNY", "HRK", "CZK", "DKK", "EGP",
    "EUR", "GTQ", "HNL", "HKD", "INR", "ILS", "JOD", "KES", "LVL", "LTL", "MOP", "MYR", "MXN", "NZD", "NIO",
    "NGN", "NOK", "PKR", "PEN", "PHP", "PLN", "QAR", "RON", "RUB", "SAR", "RSD", "SGD", "SKK", "ZAR", "SEK",
    "CHF", "THB", "TRY", "AED", "UAH", "USD", "UYU", "VEF", "FBZ", "VES",
})


class UnknownCurrencyError(ValueError):
    """A currency Meta's table does not list: no ad account has it."""


def meta_offset(currency: str) -> int:
    """How many of Meta's units make one of the currency (100: cents; 1: whole units)."""
    if currency in META_WHOLE_UNIT_CURRENCIES:
        return 1
    if currency in META_HUNDREDTHS_CURRENCIES:
        return 100
    raise UnknownCurrencyError(currency)


def meta_decimals(currency: str) -> int:
    """Decimal places an amount may have in this currency at Meta (0 or 2)."""
    return 0 if meta_offset(currency) == 1 else 2


def meta_units(amount: Decimal, currency: str) -> int:
    """`amount` in Meta's unit for `currency`; ValueError when it is more precise than that unit (JPY 0.5)."""
    units = amount * meta_offset(currency)
    if units != units.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {meta_decimals(currency)} decimals at Meta")
    return int(units)
