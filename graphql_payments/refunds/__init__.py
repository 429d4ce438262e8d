"""Refunds: money given back, recorded before Stripe is asked and reconciled by webhooks."""
