"""Autopay: monthly and low-balance top-ups charged to a saved card."""
