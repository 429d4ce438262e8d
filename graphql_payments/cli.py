"""The `graphql-payments` command.

graphql-payments serve [--host H] [--port P]   run the server (migrates a SQLite database)
graphql-payments db upgrade                    apply migrations to PAYMENTS_DATABASE_URL
graphql-payments db revision -m MESSAGE        autogenerate a migration from the models
graphql-payments export-schema                 print the GraphQL schema (SDL)
graphql-payments sandbox [--host H] [--port P] run the Stripe sandbox alone
graphql-payments ledger verify                 check the credit ledger's invariants
graphql-payments autopay run                   one autopay sweep (for cron or a CronJob)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from graphql_payments import __version__
from graphql_payments.config import Settings
from graphql_payments.errors import SettingsConflict

log = logging.getLogger("graphql_payments")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return Settings.load(**overrides)


def _logging(settings: Settings | None = None) -> None:
    level = settings.log_level.upper() if settings else "INFO"
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _migrate_or_check(settings: Settings) -> None:
    from graphql_payments.db import is_sqlite
    from graphql_payments.migrations import current_revision, head_revision, upgrade

    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
        return
    current = asyncio.run(current_revision(settings.database_url))
    if current != head_revision():
        raise SettingsConflict(
            f"The database is at migration {current or 'none'}, the code needs "
            f"{head_revision()}: run 'graphql-payments db upgrade' first."
        )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from graphql_payments.app import create_app

    settings = _settings(args)
    _logging(settings)
    _migrate_or_check(settings)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from graphql_payments.migrations import upgrade

    settings = _settings(args)
    _logging(settings)
    upgrade(settings.database_url)
    print(f"database at {args.revision if hasattr(args, 'revision') else 'head'}")  # noqa: T201
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    from graphql_payments.migrations import revision

    path = revision(args.message, database_url=args.database_url)
    print(f"wrote {path}; read it, edit it, then commit it")  # noqa: T201
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from graphql_payments.graphql.schema import sdl

    sys.stdout.write(sdl())
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from graphql_payments.sandbox import serve

    _logging()
    serve(
        args.host or "127.0.0.1",
        args.port or 12111,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from graphql_payments.db import Database
    from graphql_payments.ledger import invariants

    settings = _settings(args)

    async def verify() -> list[str]:
        db = Database(settings.database_url)
        try:
            return await invariants.verify(db)
        finally:
            await db.dispose()

    problems = asyncio.run(verify())
    for problem in problems:
        print(f"FAIL {problem}")  # noqa: T201
    print("ledger ok" if not problems else f"{len(problems)} problem(s)")  # noqa: T201
    return 1 if problems else 0


def cmd_autopay_run(args: argparse.Namespace) -> int:
    from graphql_payments.app import build_services

    settings = _settings(args)
    _logging(settings)
    _migrate_or_check(settings)
    if settings.sandbox_mode:
        log.warning(
            "sandbox mode: this process has a sandbox of its own, empty; to sweep a server's "
            "sandbox, run 'graphql-payments sandbox' and point STRIPE_API_BASE at it"
        )

    async def sweep() -> str:
        services = build_services(settings)
        try:
            report = await services.autopay.sweep()
            await services.autopay.wait_idle()
        finally:
            await services.aclose()
        return (
            f"autopay sweep: {report.due} due, {report.charged} charged, {report.succeeded} "
            f"succeeded, {report.declined} declined, {report.requires_action} need the customer"
        )

    print(asyncio.run(sweep()))  # noqa: T201
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="graphql-payments", description="GraphQL payment API server")
    top.add_argument("--version", action="version", version=__version__)
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (PAYMENTS_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (PAYMENTS_PORT, default 8000)")
    serve.set_defaults(run=cmd_serve)

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate to the latest version").set_defaults(
        run=cmd_db_upgrade
    )
    revision = db_commands.add_parser("revision", help="autogenerate a migration")
    revision.add_argument("-m", "--message", required=True, help="what the migration changes")
    revision.add_argument(
        "--database-url", help="compare with this database (default: a scratch SQLite at head)"
    )
    revision.set_defaults(run=cmd_db_revision)

    commands.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(
        run=cmd_export_schema
    )

    sandbox = commands.add_parser("sandbox", help="run the Stripe sandbox alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=12111)
    sandbox.add_argument("--webhook-url", help="deliver events to this endpoint")
    sandbox.add_argument("--webhook-secret", help="signing secret for --webhook-url")
    sandbox.set_defaults(run=cmd_sandbox)

    ledger = commands.add_parser("ledger", help="the credit ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    ledger_commands.add_parser("verify", help="check every invariant").set_defaults(
        run=cmd_ledger_verify
    )

    autopay = commands.add_parser("autopay", help="automatic top-ups")
    autopay_commands = autopay.add_subparsers(dest="autopay_command", required=True)
    autopay_commands.add_parser(
        "run", help="charge every autopay that is due, once (for cron)"
    ).set_defaults(run=cmd_autopay_run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SettingsConflict as exc:
        print(f"graphql-payments: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
