"""An in-memory emulator of the Stripe API subset graphql-payments uses.

The sandbox lets the whole product run, and be tested, with no network and no Stripe account,
through the real `stripe` SDK::

    import httpx
    from graphql_payments.gateway.http import stripe_client
    from graphql_payments.sandbox import Sandbox

    sandbox = Sandbox(public_url="http://127.0.0.1:8000/_sandbox")
    client = stripe_client(
        "sk_test_sandbox",
        api_base="http://sandbox.test",
        transport=httpx.ASGITransport(app=sandbox.app),
    )
    intent = await client.v1.payment_intents.create_async(
        params={"amount": 1099, "currency": "usd", "payment_method": "pm_card_visa",
                "confirm": True},
    )

What it emulates (each module's documentation has the details):

- customers, PaymentMethods (test cards, `pm_card_*` ids, SEPA test IBANs), PaymentIntents
  (confirm, manual capture, partial capture, cancel, 3-D Secure), charges, SetupIntents,
  Checkout Sessions in payment and setup mode with a hosted checkout page, refunds, connected
  accounts, transfers and reversals, disputes, balance, events and webhook endpoints;
- Stripe's error envelope and status codes, parameter validation against the SDK's own
  parameter types, idempotency keys, list pagination and `expand[]`;
- signed webhook delivery with retries, and controls to hold, reorder, duplicate, delay, fail
  or time out deliveries; API failures and latency on demand; a clock that can jump ahead.

The Python surface, for tests and for the product's sandbox mode:

- `Sandbox(public_url=..., *, api_keys=(), webhook_retry_delays=(0.05, 0.2, 1.0, 3.0),
  webhook_timeout=10.0, async_payment_delay=180)`
- `sandbox.app`: the ASGI app (`/v1/...`, hosted pages, `/control/...`; see `app`).
- Reading state: `sandbox.events` (event dicts, oldest first), `sandbox.events_of(type)`,
  `sandbox.objects(kind)` (copies of every object of a kind, oldest first; kinds are Stripe's
  object names: `"customer"`, `"payment_method"`, `"payment_intent"`, `"charge"`,
  `"refund"`, `"setup_intent"`, `"checkout.session"`, `"account"`, `"transfer"`,
  `"transfer_reversal"`, `"dispute"`, `"balance_transaction"`, `"event"`),
  `sandbox.get(object_id)`.
- Webhooks: `sandbox.add_webhook_endpoint(url, *, secret=None, transport=None,
  enabled_events=("*",))`, `sandbox.remove_webhook_endpoint(id)`, and `sandbox.webhooks`:
  `hold()`, `release(order="fifo"|"reverse")`, `duplicate(times=2)`, `delay(seconds)`,
  `fail_next(count, status=500, endpoint=None)`, `timeout_next(count, endpoint=None)`,
  `latency(seconds, endpoint=None)`, `clear()`, `attempts` (list of `DeliveryAttempt`),
  `await wait_idle(timeout=10.0)`.
- Faults: `sandbox.faults.fail_api(status=500, count=None, path_prefix=None)`,
  `api_latency(seconds, count=None)`, `clear()`.
- Time: `sandbox.clock.now()`, `await sandbox.advance_clock(seconds)` (also
  `POST /control/clock/advance`), `sandbox.on_clock_advance(listener)`: an async
  `listener(now)` awaited after each advance, as a test clock drives a platform's scheduler.
- What people and banks do: `await sandbox.pay_checkout_session(session_id,
  card="4242424242424242", *, email=None)` -> `CheckoutOutcome`,
  `await sandbox.cancel_checkout_session(session_id)` -> cancel URL,
  `await sandbox.complete_authentication(intent_id, succeed=True)`,
  `await sandbox.create_dispute(charge_id, *, amount=None, reason="fraudulent")`,
  `await sandbox.close_dispute(dispute_id, *, won)`,
  `await sandbox.fail_refund(refund_id, reason="expired_or_canceled_card")`,
  `await sandbox.complete_onboarding(account_id)` (a connected account's holder onboards).
- `sandbox.reset()`, `await sandbox.aclose()`.
- Running alone: `serve(host, port, *, webhook_url=None, webhook_secret=None,
  public_url=None, log_level="info")` (blocking), `serve_async(...)`, and
  `running(sandbox, host=..., port=0)` for end-to-end tests.

All state lives in the event loop that serves the app; serve it from that loop (an
`httpx.ASGITransport`, or uvicorn as a task of the same loop as `running` does), not from a
thread. `sandbox.events` hands out the live event dicts (their `pending_webhooks` drops as
deliveries succeed); treat them as read-only.

API version: the sandbox serves the shapes of one Stripe API release, `API_VERSION`
(`2026-10-28.endive`), the release stripe-python 16.x pins; pyproject.toml therefore allows
only `stripe>=16,<17`. Rather than model several releases' shapes, a request whose
`Stripe-Version` names another release answers 400 (`Invalid Stripe API version`), so a
`STRIPE_API_VERSION` the sandbox does not model fails loudly instead of passing tests with
shapes real Stripe would not send. `tests/sandbox/test_conformance.py` checks every call the
gateway makes and every webhook event against Stripe's OpenAPI description and current example
objects.

Where the sandbox knowingly differs from Stripe, each where the product cannot observe it:

- the `Stripe-Account` header is ignored: connected accounts receive transfers, but calls
  made on behalf of a connected account act on the platform (the product never sends it);
- Checkout takes `price_data` only (no Price or Product objects), and only `payment` and
  `setup` modes; PaymentMethods are `card` or `sepa_debit` (all the product uses);
- `capture_method` defaults to `automatic`; canceling an authorized payment (or its hold
  lapsing) leaves its charge as it was, where Stripe marks the uncaptured charge refunded (the
  product settles a reverted hold from the PaymentIntent, and counts refunds from Refund
  objects, never from a charge's `amount_refunded`);
- connected accounts onboard against a fixed list of requirements (`connect.ONBOARDING_FIELDS`),
  met at once through the API or `complete_onboarding`: there are no Account Links or hosted
  onboarding pages, no verification delays, no `capability.updated` events, and an
  `external_account` given is accepted but not listed (the product only reads an account's
  `capabilities`);
- a PaymentMethod used without a customer can be used again;
- processing fees are a flat simulation (2.9% + 30 minor units) and funds are available at
  once;
- an error's `request_log_url` points into the sandbox, which serves no request logs;
- operations complete without yielding to the event loop, so an idempotency key is "in flight"
  (409 for a duplicate) only while injected API latency delays its request.
"""

from graphql_payments.sandbox.checkout import CheckoutOutcome
from graphql_payments.sandbox.errors import SandboxError
from graphql_payments.sandbox.sandbox import Sandbox
from graphql_payments.sandbox.server import running, serve, serve_async
from graphql_payments.sandbox.webhooks import DeliveryAttempt, WebhookEndpoint, signature_header

__all__ = [
    "CheckoutOutcome",
    "DeliveryAttempt",
    "Sandbox",
    "SandboxError",
    "WebhookEndpoint",
    "running",
    "serve",
    "serve_async",
    "signature_header",
]
