"""Payments of every kind: the record, its state machine, status and history."""
