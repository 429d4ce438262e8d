"""Errors the sandbox API answers with, in Stripe's envelope.

Every failure of a `/v1` call is a JSON body `{"error": {...}}` with Stripe's fields (`type`,
`code`, `decline_code`, `message`, `param`, `doc_url`, `request_log_url`, and for card errors
`advice_code`, `network_decline_code` and the `payment_intent` or `setup_intent`, `charge` and
`payment_method` involved; fields without a value are left out, as Stripe does) and Stripe's
status codes, so the official SDK raises the same exception classes it raises against Stripe.
A missing object named in the path answers 404; named in a parameter, 400 with that `param`.

======  ==========================  =================================
status  `type`                      SDK exception
======  ==========================  =================================
400     invalid_request_error       stripe.InvalidRequestError
400     idempotency_error           stripe.IdempotencyError
409     idempotency_error           stripe.APIError (SDK retries)
401     invalid_request_error       stripe.AuthenticationError
402     card_error                  stripe.CardError
404     invalid_request_error       stripe.InvalidRequestError
429     invalid_request_error       stripe.RateLimitError
5xx     api_error                   stripe.APIError
======  ==========================  =================================

`SandboxError` is raised by the Python helpers (`Sandbox.fail_refund` on a refund that did not
succeed, for example) when a request makes no sense; it carries the same fields.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

DOCS = "https://stripe.com/docs/error-codes/"


class SandboxError(Exception):
    """A Stripe API error: HTTP status plus the fields of Stripe's `error` object."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra: JSON = dict(extra or {})

    def to_dict(self) -> JSON:
        """The `error` object, without Stripe's null fields."""
        error: JSON = {}
        if "charge" in self.extra:
            error["charge"] = self.extra["charge"]
        if self.code is not None:
            error["code"] = self.code
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if self.code is not None:
            error["doc_url"] = DOCS + self.code.replace("_", "-")
        error["message"] = self.message
        if self.param is not None:
            error["param"] = self.param
        for key, value in self.extra.items():
            if key != "charge":
                error[key] = value
        error["type"] = self.type
        return error

    def body(self) -> JSON:
        return {"error": self.to_dict()}


def not_found(kind: str, object_id: str, *, param: str = "id") -> SandboxError:
    """A missing object: 404 when the path names it, 400 when a parameter does (Stripe's way)."""
    return SandboxError(
        f"No such {kind}: '{object_id}'",
        status=404 if param == "id" else 400,
        code="resource_missing",
        param=param,
    )


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> SandboxError:
    return SandboxError(message, param=param, code=code)


def at_least_one(value: int, *, param: str) -> None:
    """Refuse an amount or quantity below 1, as Stripe does."""
    if value < 1:
        raise invalid(
            "This value must be greater than or equal to 1.",
            param=param,
            code="parameter_invalid_integer",
        )


def unexpected_state(message: str, *, code: str, param: str | None = None) -> SandboxError:
    return SandboxError(message, code=code, param=param)


def authentication(message: str) -> SandboxError:
    return SandboxError(message, status=401)


def api_error(status: int) -> SandboxError:
    if status == 429:
        return SandboxError(
            "Too many requests hit the API too quickly. Slow down and retry.",
            status=429,
            code="rate_limit",
        )
    return SandboxError(
        "An unknown error occurred while processing this request.",
        status=status,
        type="api_error",
    )
