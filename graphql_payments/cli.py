"""The `graphql-payments` command.

graphql-payments serve [--host H] [--port P]   run the server (migrates a SQLite database)
graphql-payments db upgrade                    apply migrations to PAYMENTS_DATABASE_URL
graphql-payments db revision -m MESSAGE        autogenerate a migration from the models
graphql-payments export-schema                 print the GraphQL schema (SDL)
graphql-payments export-event-schemas [DIR]    write the JSON Schema of each event (schemas/events)
graphql-payments sandbox [--host H] [--port P] run the Stripe sandbox alone
graphql-payments autopay run                   one autopay sweep (for cron or a CronJob)
graphql-payments ledger verify [--stripe]      check the ledger's invariants (and against Stripe)
graphql-payments reconcile [--since DATE]      one reconciliation pass; prints what it changed
graphql-payments webhooks replay EVENT_ID | --failed   process stored webhook events again

Exit codes: 0 done, 1 a check found problems or a repair failed, 2 bad configuration or usage.
In sandbox mode the commands that talk to Stripe use the running server's sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from graphql_payments import __version__
from graphql_payments.config import Settings
from graphql_payments.errors import SettingsConflict

if TYPE_CHECKING:
    from graphql_payments.operations.audit import Actor
    from graphql_payments.services import Services

log = logging.getLogger("graphql_payments")
T = TypeVar("T")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return Settings.load(**overrides)


def _logging(settings: Settings | None = None) -> None:
    from graphql_payments.logs import configure

    if settings is None:
        configure()
    else:
        configure(settings.log_level, settings.log_format)


def _print(line: str) -> None:
    print(line)  # noqa: T201


def _with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run `work` with the services of an operator command, then close them."""
    from graphql_payments.app import command_services

    async def run() -> T:
        services = command_services(settings)
        try:
            return await work(services)
        finally:
            await services.aclose()

    return asyncio.run(run())


def _since(value: str) -> dt.datetime:
    """A date or ISO date-time from the command line; UTC unless it says otherwise."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (YYYY-MM-DD) or ISO date-time"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _operator() -> Actor:
    from graphql_payments.operations.audit import Actor

    try:
        user = getpass.getuser()
    except Exception:
        user = None
    return Actor(user_id=user, role="operator", authenticated_by="cli")


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
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )
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


def cmd_export_event_schemas(args: argparse.Namespace) -> int:
    from graphql_payments.events.catalogue import export

    for path in export(Path(args.directory)):
        print(path)  # noqa: T201
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
    from graphql_payments.ledger import invariants
    from graphql_payments.operations.verify import verify_with_stripe

    settings = _settings(args)
    _logging(settings)

    async def verify(services: Services) -> list[str]:
        problems = await invariants.verify(services.db)
        if args.stripe:
            problems += await verify_with_stripe(services.db, services.gateway, since=args.since)
        return problems

    problems = _with_services(settings, verify)
    for problem in problems:
        _print(f"FAIL {problem}")
    scope = "ledger and Stripe" if args.stripe else "ledger"
    _print(f"{scope} ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_autopay_run(args: argparse.Namespace) -> int:
    from graphql_payments.autopay.service import SweepReport

    settings = _settings(args)
    _logging(settings)
    _migrate_or_check(settings)

    async def sweep(services: Services) -> SweepReport:
        report = await services.autopay.sweep()
        await services.autopay.wait_idle()
        return report

    report = _with_services(settings, sweep)
    _print(
        f"autopay sweep: {report.due} due, {report.charged} charged, {report.succeeded} "
        f"succeeded, {report.declined} declined, {report.requires_action} need the customer"
    )
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from graphql_payments.operations.reconcile import Report

    settings = _settings(args)
    _logging(settings)

    async def reconcile(services: Services) -> Report:
        report = await services.reconciler.run(since=args.since, force=True)
        actor = _operator()
        if report.repairs:
            await services.audit.record(
                actor,
                action="reconcile",
                input={"since": args.since.isoformat() if args.since else None},
                result={
                    "repairs": [str(r) for r in report.repairs],
                    "errors": [str(e) for e in report.errors],
                },
            )
        return report

    report = _with_services(settings, reconcile)
    for repair in report.repairs:
        _print(f"REPAIRED {repair}")
    for error in report.errors:
        _print(f"ERROR {error}")
    _print(
        f"{len(report.repairs)} repair(s), {len(report.errors)} error(s); "
        f"{report.events_seen} Stripe event(s) checked"
    )
    return 1 if report.errors else 0


def cmd_webhooks_replay(args: argparse.Namespace) -> int:
    from graphql_payments.webhooks.models import EventStatus

    if bool(args.event_id) == bool(args.failed):
        _print("graphql-payments webhooks replay: give one EVENT_ID or --failed")
        return 2
    settings = _settings(args)
    _logging(settings)

    async def replay(services: Services) -> dict[str, EventStatus | None]:
        if args.failed:
            outcome = await services.inbox.replay_failed()
        else:
            outcome = {args.event_id: await services.inbox.replay(args.event_id)}
        actor = _operator()
        await services.audit.record(
            actor,
            action="webhooks.replay",
            input={"event_id": args.event_id, "failed": args.failed},
            result={k: v.value if v else "NOT_FOUND" for k, v in outcome.items()},
        )
        return outcome

    outcome = _with_services(settings, replay)
    failed = 0
    for event_id, status in outcome.items():
        shown = status.value if status is not None else "NOT FOUND"
        if status in (None, EventStatus.FAILED, EventStatus.PENDING):
            failed += 1
        _print(f"{event_id} {shown}")
    _print(f"{len(outcome)} event(s) replayed, {failed} not handled")
    return 1 if failed else 0


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

    event_schemas = commands.add_parser(
        "export-event-schemas", help="write the JSON Schema of each event"
    )
    event_schemas.add_argument("directory", nargs="?", default="schemas/events")
    event_schemas.set_defaults(run=cmd_export_event_schemas)
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
    verify = ledger_commands.add_parser("verify", help="check every invariant")
    verify.add_argument(
        "--stripe", action="store_true", help="also compare every payment with Stripe"
    )
    verify.add_argument(
        "--since", type=_since, help="with --stripe: only payments created since this date"
    )
    verify.set_defaults(run=cmd_ledger_verify)

    reconcile = commands.add_parser(
        "reconcile", help="run one reconciliation pass with Stripe and print what it changed"
    )
    reconcile.add_argument(
        "--since", type=_since, help="list Stripe events from this date (default: caught up)"
    )
    reconcile.set_defaults(run=cmd_reconcile)

    webhooks = commands.add_parser("webhooks", help="stored webhook events")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    replay = webhook_commands.add_parser("replay", help="process stored events again")
    replay.add_argument("event_id", nargs="?", help="the Stripe event id (evt_...)")
    replay.add_argument("--failed", action="store_true", help="every event that exhausted retries")
    replay.set_defaults(run=cmd_webhooks_replay)

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
