"""Stripe's test cards, test PaymentMethod ids and test IBANs, and what each one does.

A card number, or one of Stripe's `pm_card_*` shortcuts, decides how a payment behaves:

==========================  ================================  ===================================
number                      shortcut                          behaviour
==========================  ================================  ===================================
4242 4242 4242 4242         pm_card_visa                      succeeds
5555 5555 5555 4444         pm_card_mastercard                succeeds
4000 0000 0000 0002         pm_card_chargeDeclined            card_declined / generic_decline
4000 0000 0000 9995         pm_card_chargeDeclinedInsuff...   card_declined / insufficient_funds
4000 0000 0000 9987         pm_card_chargeDeclinedLostCard    card_declined / lost_card
4000 0000 0000 9979         pm_card_chargeDeclinedStolenCard  card_declined / stolen_card
4000 0000 0000 0069         pm_card_chargeDeclinedExpiredCard expired_card
4000 0000 0000 0127         pm_card_chargeDeclinedIncorr...   incorrect_cvc
4000 0000 0000 0119         pm_card_chargeDeclinedProcess...  processing_error
4100 0000 0000 0019         pm_card_radarBlock                card_declined / fraudulent
4000 0000 0000 0341         pm_card_chargeCustomerFail        saves fine, every charge declines
4000 0025 0000 3155         pm_card_authenticationRequired... 3-D Secure on session
4000 0000 0000 3220         pm_card_threeDSecure2Required     3-D Secure on session
4000 0027 6000 3184         pm_card_authenticationRequired    3-D Secure on session
4000 0000 0000 0259         pm_card_createDispute             succeeds, then disputed (fraudulent)
==========================  ================================  ===================================

Declining cards also fail when saved (attached to a customer or set up with a SetupIntent),
except 4000 0000 0000 0341 which exists to save fine and decline later. A card that needs
3-D Secure answers `requires_action` on session; charged off session it fails with
`authentication_required`. Any other number that passes the Luhn check succeeds, with the brand
read from its prefix.

For delayed payment methods (SEPA Direct Debit) the test IBANs `DE89370400440532013000`
(succeeds later) and `DE62370400440532013001` (fails later) put the payment in `processing`
until the sandbox clock passes the settlement delay.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass


class Behaviour(enum.Enum):
    SUCCEED = "succeed"
    DECLINE = "decline"
    DECLINE_ON_CHARGE = "decline_on_charge"
    AUTHENTICATE = "authenticate"
    DISPUTE = "dispute"


@dataclass(frozen=True)
class Decline:
    """How Stripe reports a refused card."""

    code: str
    decline_code: str
    message: str
    param: str | None = None
    network_status: str = "declined_by_network"
    outcome_type: str = "issuer_declined"

    @property
    def advice_code(self) -> str | None:
        """Stripe's advice on retrying (`advice_code` of the error and the charge outcome)."""
        return NETWORK_ADVICE.get(self.decline_code, (None, None))[0]

    @property
    def network_decline_code(self) -> str | None:
        """The issuer's own decline code, as the card network reported it."""
        return NETWORK_ADVICE.get(self.decline_code, (None, None))[1]


# Per decline code of a card refused by its issuer: (advice_code, network_decline_code).
NETWORK_ADVICE: dict[str, tuple[str, str]] = {
    "generic_decline": ("try_again_later", "05"),
    "insufficient_funds": ("try_again_later", "51"),
    "lost_card": ("do_not_try_again", "41"),
    "stolen_card": ("do_not_try_again", "43"),
    "expired_card": ("confirm_card_data", "54"),
    "incorrect_cvc": ("confirm_card_data", "N7"),
}


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")
AUTHENTICATION_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    behaviour: Behaviour = Behaviour.SUCCEED
    decline: Decline | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.number)


_DECLINES = {
    "4000000000000002": GENERIC_DECLINE,
    "4000000000009995": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": Decline("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": Decline("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": Decline(
        "expired_card", "expired_card", "Your card has expired.", param="exp_month"
    ),
    "4000000000000127": Decline(
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", param="cvc"
    ),
    "4000000000000119": Decline(
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4100000000000019": Decline(
        "card_declined",
        "fraudulent",
        "Your card was declined.",
        network_status="not_sent_to_network",
        outcome_type="blocked",
    ),
}

TEST_CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard("4242424242424242", "visa"),
    "4000056655665556": TestCard("4000056655665556", "visa", funding="debit"),
    "5555555555554444": TestCard("5555555555554444", "mastercard"),
    "378282246310005": TestCard("378282246310005", "amex"),
    "6011111111111117": TestCard("6011111111111117", "discover"),
    "3566002020360505": TestCard("3566002020360505", "jcb", country="JP"),
    "6200000000000005": TestCard("6200000000000005", "unionpay", country="CN"),
    "4000000000000077": TestCard("4000000000000077", "visa"),
    "4000000000000341": TestCard(
        "4000000000000341",
        "visa",
        behaviour=Behaviour.DECLINE_ON_CHARGE,
        decline=GENERIC_DECLINE,
    ),
    "4000002500003155": TestCard("4000002500003155", "visa", behaviour=Behaviour.AUTHENTICATE),
    "4000000000003220": TestCard("4000000000003220", "visa", behaviour=Behaviour.AUTHENTICATE),
    "4000002760003184": TestCard("4000002760003184", "visa", behaviour=Behaviour.AUTHENTICATE),
    "4000000000000259": TestCard("4000000000000259", "visa", behaviour=Behaviour.DISPUTE),
    **{
        number: TestCard(number, "visa", behaviour=Behaviour.DECLINE, decline=decline)
        for number, decline in _DECLINES.items()
    },
}

TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_jcb": "3566002020360505",
    "pm_card_unionpay": "6200000000000005",
    "pm_card_bypassPending": "4000000000000077",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeDeclinedFraudulent": "4100000000000019",
    "pm_card_radarBlock": "4100000000000019",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_createDispute": "4000000000000259",
}

# Test IBANs: number -> whether the debit eventually succeeds.
TEST_IBANS: dict[str, bool] = {
    "DE89370400440532013000": True,
    "DE62370400440532013001": False,
    "AT611904300234573201": True,
    "AT861904300235473202": False,
}

# What the hosted checkout page offers, in order: (value, label).
CHECKOUT_CHOICES: tuple[tuple[str, str], ...] = (
    ("4242424242424242", "Visa 4242: succeeds"),
    ("5555555555554444", "Mastercard 4444: succeeds"),
    ("4000002500003155", "Visa 3155: 3-D Secure (you approve it)"),
    ("4000000000000002", "Visa 0002: declined (generic_decline)"),
    ("4000000000009995", "Visa 9995: declined (insufficient_funds)"),
    ("4000000000000069", "Visa 0069: declined (expired_card)"),
    ("4000000000000259", "Visa 0259: succeeds, then disputed"),
    ("DE89370400440532013000", "SEPA Direct Debit: succeeds later"),
    ("DE62370400440532013001", "SEPA Direct Debit: fails later"),
)


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    """Card network from the number's prefix, with Stripe's brand names."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number.startswith(("6011", "65", "644", "645", "646", "647", "648", "649")):
        return "discover"
    if number.startswith("35"):
        return "jcb"
    if number.startswith(("36", "30", "38")):
        return "diners"
    if number.startswith("62"):
        return "unionpay"
    return "unknown"


def card_for(number: str) -> TestCard | None:
    """The behaviour of a card number, or None when the number is not a valid card number."""
    number = number.replace(" ", "").replace("-", "")
    known = TEST_CARDS.get(number)
    if known is not None:
        return known
    if not luhn_valid(number):
        return None
    return TestCard(number, brand_of(number))


def fingerprint(value: str) -> str:
    """A stable 16-character fingerprint, the same for the same card or account number."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256(value.encode()).digest()
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:16])


def normalize_iban(value: str) -> str:
    return value.replace(" ", "").upper()
