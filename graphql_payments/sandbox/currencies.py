"""Currencies as Stripe treats them.

Amounts are integers in the currency's smallest unit. Zero-decimal currencies (JPY, KRW, ...)
have no minor unit, so `500` JPY is five hundred yen while `500` USD is five dollars. Stripe
refuses charges below a per-currency minimum with `amount_too_small`, and above 99,999,999 with
`amount_too_large`; the sandbox applies the same limits.
"""

from __future__ import annotations

ZERO_DECIMAL = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)

THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Smallest chargeable amount, in minor units, for the currencies Stripe lists; every other
# currency uses the equivalent of about 0.50 USD, approximated by `DEFAULT_MINIMUM`.
MINIMUM_AMOUNT: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "krw": 100,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}
DEFAULT_MINIMUM = 50
MAXIMUM_AMOUNT = 99_999_999

SUPPORTED = frozenset(
    set(MINIMUM_AMOUNT)
    | ZERO_DECIMAL
    | THREE_DECIMAL
    | {
        "afn",
        "all",
        "amd",
        "ang",
        "aoa",
        "ars",
        "awg",
        "azn",
        "bam",
        "bbd",
        "bdt",
        "bmd",
        "bnd",
        "bob",
        "bsd",
        "bwp",
        "byn",
        "bzd",
        "cdf",
        "cny",
        "cop",
        "crc",
        "cve",
        "dop",
        "dzd",
        "egp",
        "etb",
        "fjd",
        "fkp",
        "gel",
        "gip",
        "gmd",
        "gtq",
        "gyd",
        "hnl",
        "htg",
        "idr",
        "ils",
        "isk",
        "jmd",
        "kes",
        "kgs",
        "khr",
        "kyd",
        "kzt",
        "lak",
        "lbp",
        "lkr",
        "lrd",
        "lsl",
        "mad",
        "mdl",
        "mkd",
        "mmk",
        "mnt",
        "mop",
        "mur",
        "mvr",
        "mwk",
        "mzn",
        "nad",
        "ngn",
        "nio",
        "npr",
        "pab",
        "pen",
        "pgk",
        "php",
        "pkr",
        "qar",
        "rsd",
        "rub",
        "sar",
        "sbd",
        "scr",
        "shp",
        "sle",
        "sos",
        "srd",
        "std",
        "szl",
        "tjs",
        "top",
        "try",
        "ttd",
        "twd",
        "tzs",
        "uah",
        "uyu",
        "uzs",
        "wst",
        "xcd",
        "yer",
        "zar",
        "zmw",
    }
)


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def minimum_amount(currency: str) -> int:
    """Smallest amount Stripe lets a payment in this currency have, in minor units."""
    return MINIMUM_AMOUNT.get(currency.lower(), DEFAULT_MINIMUM)


def format_amount(amount: int, currency: str) -> str:
    """`1099, "usd"` -> `"10.99 USD"`; `500, "jpy"` -> `"500 JPY"`."""
    digits = exponent(currency)
    code = currency.upper()
    if digits == 0:
        return f"{amount:,} {code}"
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    return f"{sign}{major:,}.{minor:0{digits}d} {code}"
