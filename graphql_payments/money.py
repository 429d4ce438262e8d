"""Money as an integer of minor units plus an ISO 4217 currency code.

Stripe counts amounts in the currency's smallest unit: cents for USD, yen for JPY (a
zero-decimal currency), fils for KWD (three decimals). Nothing here uses float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from graphql_payments.errors import ValidationError

# Currencies Stripe charges without minor units.
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
     "XAF", "XOF", "XPF"}
)  # fmt: skip
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

# ISO 4217 codes of currencies in circulation.
ISO_4217 = frozenset({
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
})  # fmt: skip


def normalize_currency(code: str, *, field: str = "currency") -> str:
    """The upper-case ISO 4217 code, or a ValidationError naming the field."""
    upper = code.strip().upper()
    if upper not in ISO_4217:
        raise ValidationError(f"Unknown currency {code!r}: expected an ISO 4217 code.", field=field)
    return upper


def exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (JPY 0, USD 2, KWD 3)."""
    upper = currency.upper()
    if upper in ZERO_DECIMAL:
        return 0
    if upper in THREE_DECIMAL:
        return 3
    return 2


def to_minor(major: str | Decimal | int, currency: str) -> int:
    """Minor units from a decimal amount given as text, e.g. ("10.00", "USD") -> 1000."""
    try:
        value = Decimal(str(major))
    except InvalidOperation:
        raise ValidationError(f"Not an amount: {major!r}.") from None
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValidationError(f"{major} has more decimals than {currency.upper()} allows.")
    return int(scaled)


def format_amount(amount: int, currency: str) -> str:
    """A display form like "1,234.50 USD" or "1,000 JPY"."""
    places = exponent(currency)
    value = Decimal(amount).scaleb(-places)
    quant = Decimal(1).scaleb(-places)
    return f"{value.quantize(quant, rounding=ROUND_HALF_EVEN):,} {currency.upper()}"


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    @property
    def formatted(self) -> str:
        return format_amount(self.amount, self.currency)
