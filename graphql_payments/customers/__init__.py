"""Stripe customers of our users: one per user, created once and reused."""
