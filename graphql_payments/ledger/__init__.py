"""The credit ledger: immutable entries, balances, and the invariants `ledger verify` checks.

Domains (payments, refunds, credits) import this package; it imports none of them.

* `models`      the `credit_entries` table and `EntryReason` (a new reason goes there)
* `repository`  append an entry (once per payment, reason and reference), balances
* `invariants`  the checks `graphql-payments ledger verify` runs (`verify`)
"""
