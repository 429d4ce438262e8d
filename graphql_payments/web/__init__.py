"""The pages the server shows to browsers, in every mode.

- `GET /`: what this server is, with links to GraphiQL, `/health`, the README's sections (at
  `/readme`), the sandbox and the demo when they are on.
- `GET /pay/success?session_id=...`, `/pay/cancel?session_id=...` and
  `/pay/return?payment_intent=...`: where Stripe sends a customer back after Checkout or 3-D
  Secure (the defaults of `successUrl`, `cancelUrl` and `returnUrl`). They show only what
  Stripe's own pages would (amount, credits, status) and follow the payment until it is final
  through `GET /pay/status` (JSON).
- `GET /demo` (sandbox mode, or `PAYMENTS_DEMO=true`): a storefront in plain HTML and
  JavaScript over the public GraphQL API; `POST /demo/session` signs in a made-up user.
- `/static/...`: the pages' CSS and JavaScript, and GraphiQL's assets at pinned versions
  (vendored with their licences), so GraphiQL works offline.
"""

from graphql_payments.web.pages import graphiql_html, routes

__all__ = ["graphiql_html", "routes"]
