"""The package's shape: domains import each other one way, the ledger imports no domain.

The rule is for the domain code (models, repositories, services, states). The GraphQL modules
of a domain (`types`, `queries`, `mutations`) describe the schema, which is a graph
(`Payment.refunds`, `RefundSuccess.payment`), and may refer to another domain's GraphQL types.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import Table

from graphql_payments import models
from graphql_payments.ledger import invariants
from graphql_payments.payments.states import PAID_STATUSES

PACKAGE = Path(__file__).resolve().parent.parent / "graphql_payments"
DOMAINS = ("autopay", "credits", "customers", "escrow", "payments", "refunds")
LEVEL = ("ledger", *DOMAINS)
GRAPHQL_MODULES = frozenset({"types.py", "queries.py", "mutations.py", "loaders.py"})


def imported_packages(package: str) -> set[str]:
    """The `graphql_payments.<x>` packages that modules of `package` import (not itself)."""
    found: set[str] = set()
    for path in (PACKAGE / package).rglob("*.py"):
        if path.name in GRAPHQL_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "graphql_payments" and len(parts) > 1 and parts[1] != package:
                    found.add(parts[1])
    return found


def graph() -> dict[str, set[str]]:
    return {package: imported_packages(package) & set(LEVEL) for package in LEVEL}


def test_the_ledger_imports_no_domain() -> None:
    assert graph()["ledger"] == set()


def test_domain_packages_import_each_other_without_cycles() -> None:
    # given
    edges = graph()
    # when
    cycles = []
    for start in LEVEL:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            package = todo.pop()
            if package == start:
                cycles.append(start)
                break
            if package not in seen:
                seen.add(package)
                todo.extend(edges[package])
    # then
    assert cycles == [], f"import cycles through {cycles}: {edges}"


@pytest.mark.parametrize("plain", [invariants.payments, invariants.refunds, invariants.disputes])
def test_the_tables_the_ledger_reads_match_the_models(plain: Table) -> None:
    table = models.metadata.tables[plain.name]
    assert {c.name for c in plain.columns} <= {c.name for c in table.columns}


def test_the_ledger_knows_the_paid_statuses() -> None:
    assert set(invariants.PAID) == {status.value for status in PAID_STATUSES}
