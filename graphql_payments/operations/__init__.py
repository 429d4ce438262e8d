"""Self-healing and operations: reconciliation with Stripe, repairs, audit trail."""
