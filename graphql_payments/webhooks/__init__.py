"""Stripe webhooks: a durable inbox, verified on arrival and processed once per event."""
