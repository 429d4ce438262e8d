"""The `graphql-payments` command.

graphql-payments serve [--host H] [--port P] [--workers N]
                                               run the server (migrates a SQLite database)
graphql-payments db upgrade                    apply migrations to PAYMENTS_DATABASE_URL
graphql-payments db revision -m MESSAGE        autogenerate a migration from the models
graphql-payments export-schema                 print the GraphQL schema (SDL)
graphql-payments export-event-schemas [DIR]    write the JSON Schema of each event (schemas/events)
graphql-payments sandbox [--host H] [--port P] run the Stripe sandbox alone
graphql-payments sandbox account create        create a Connect test account in a sandbox
graphql-payments autopay run                   one autopay sweep (for cron or a CronJob)
graphql-payments ledger verify [--stripe]      check the ledger's invariants (and against Stripe)
graphql-payments reconcile [--since DATE]      one reconciliation pass; prints what it changed
graphql-payments webhooks replay EVENT_ID | --failed   process stored webhook events again
graphql-payments hasura metadata [--url URL] [--prefix P] [--namespace N] [--out DIR]
                                               Hasura actions and remote schema metadata

Exit codes: 0 done, 1 a check found problems or a repair failed, 2 bad configuration or usage.
In sandbox mode the commands that talk to Stripe use the running server's sandbox.
An expected failure (no database, a database not migrated or unreachable, a missing driver,
bad settings) prints one line saying what to do. Only bugs print a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from graphql_payments import __version__
from graphql_payments.config import Settings
from graphql_payments.errors import SettingsConflict

if TYPE_CHECKING:
    from graphql_payments.operations.audit import Actor
    from graphql_payments.services import Services

log = logging.getLogger("graphql_payments")
T = TypeVar("T")

EXIT_CHECK_FAILED = 1
EXIT_CONFIGURATION = 2

EXIT_CODES = """exit codes:
  0  done
  1  a check failed (ledger verify found a problem)
  2  configuration: bad settings, no database, a database not migrated or unreachable,
     a missing database driver (the message says what to do)"""

SERVE_ENV = """environment (also read from .env and PAYMENTS_SECRETS_DIR; see the README):
  PAYMENTS_HOST, PAYMENTS_PORT, PAYMENTS_WORKERS, PAYMENTS_ACCESS_LOG, PAYMENTS_PUBLIC_URL,
  PAYMENTS_DATABASE_URL, PAYMENTS_LOG_LEVEL,
  STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_VERSION, STRIPE_API_BASE,
  PAYMENTS_SANDBOX, PAYMENTS_DEMO, PAYMENTS_STRIPE_TIMEOUT, PAYMENTS_STRIPE_MAX_RETRIES,
  PAYMENTS_WEBHOOK_*, PAYMENTS_JWT_*, PAYMENTS_SHARED_SECRET, PAYMENTS_CURRENCY,
  PAYMENTS_CREDIT_PACKAGES, PAYMENTS_CREDITS_PER_UNIT, PAYMENTS_MIN_PAYMENT_AMOUNT,
  PAYMENTS_MAX_PAYMENT_AMOUNT, PAYMENTS_PLATFORM_FEE_BPS, PAYMENTS_CHECKOUT_ALLOWED_HOSTS"""

DATABASE_ENV = """environment:
  PAYMENTS_DATABASE_URL  default sqlite+aiosqlite:///./payments.db
                         (postgresql://... means postgresql+asyncpg://...)
  PAYMENTS_LOG_LEVEL     default INFO"""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "workers", None):
        overrides["workers"] = args.workers
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


@contextlib.contextmanager
def _database(url: str) -> Iterator[None]:
    """Turn the known ways a database is unusable into a SettingsConflict saying what to do."""
    from graphql_payments.db import database_problem

    try:
        yield
    except SettingsConflict:
        raise
    except Exception as exc:
        problem = database_problem(exc, url)
        if problem is None:
            raise
        raise SettingsConflict(problem) from exc


def _migrate_or_check(settings: Settings) -> None:
    from graphql_payments.db import is_sqlite, sqlite_path
    from graphql_payments.migrations import require_current, upgrade

    with _database(settings.database_url):
        if is_sqlite(settings.database_url):
            path = sqlite_path(settings.database_url)
            if path is not None and not path.parent.is_dir():
                raise SettingsConflict(
                    f"The folder of the SQLite file {path} does not exist: create it, or fix "
                    "PAYMENTS_DATABASE_URL."
                )
            upgrade(settings.database_url)
            return
        asyncio.run(require_current(settings.database_url))


def cmd_serve(args: argparse.Namespace) -> int:
    """Run `workers` server processes (uvicorn with httptools) on one socket.

    Each process builds the app from the environment, so the command line's choices are put
    there first. No access log line per request unless PAYMENTS_ACCESS_LOG=true. The event
    loop is asyncio's own: under 32 busy connections uvloop served requests out of turn (a
    `paymentHistory` p99 of 400-850 ms against 83 ms, for the same throughput).
    """
    import uvicorn

    settings = _settings(args)
    _logging(settings)
    _migrate_or_check(settings)
    os.environ["PAYMENTS_HOST"] = settings.host
    os.environ["PAYMENTS_PORT"] = str(settings.port)
    os.environ["PAYMENTS_WORKERS"] = str(settings.workers)
    uvicorn.run(
        "graphql_payments.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="asyncio",
        http="httptools",
        log_level=None,  # the levels logs.configure set stand
        access_log=settings.access_log,
        server_header=False,
        log_config=None,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from graphql_payments.db import display_url
    from graphql_payments.migrations import head_revision, upgrade

    settings = _settings(args)
    _logging(settings)
    with _database(settings.database_url):
        upgrade(settings.database_url)
    print(f"{display_url(settings.database_url)} is at migration {head_revision()}")  # noqa: T201
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
        args.host,
        args.port,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    return 0


def cmd_sandbox_account_create(args: argparse.Namespace) -> int:
    """Create a Connect account that can receive transfers: the sandbox's Stripe API creates it,
    its control API completes the onboarding."""
    import httpx

    url = args.url
    if url is None:
        url = Settings.load().server_url + "/_sandbox"
    params = {"type": "express", "country": args.country}
    if args.email:
        params["email"] = args.email
    try:
        response = httpx.post(
            url.rstrip("/") + "/v1/accounts", auth=("sk_test_sandbox", ""), data=params, timeout=10
        )
    except httpx.HTTPError as exc:
        raise SettingsConflict(
            f"Cannot reach a sandbox at {url} ({exc}): start the server in sandbox mode "
            "(make run), or pass --url."
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    account = body.get("id") if isinstance(body, dict) else None
    if response.status_code != 200 or not str(account).startswith("acct_"):
        error = body.get("error", {}).get("message", "") if isinstance(body, dict) else ""
        raise SettingsConflict(
            f"{url} did not create an account (HTTP {response.status_code}) {error} Is it a "
            "sandbox? Pass --url http://HOST:PORT/_sandbox for a server in sandbox mode, or "
            "http://HOST:PORT for 'graphql-payments sandbox'."
        )
    # Its onboarding is done at once (the sandbox's control API), so transfers are active.
    onboarded = httpx.post(
        f"{url.rstrip('/')}/control/accounts/{account}/onboard",
        auth=("sk_test_sandbox", ""),
        json={},
        timeout=10,
    )
    if onboarded.status_code != 200:
        raise SettingsConflict(
            f"{url} created {account} but did not onboard it (HTTP {onboarded.status_code}): "
            "call its control API from this machine, or with the sandbox's secret key."
        )
    print(account)  # noqa: T201
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    from graphql_payments.ledger import invariants
    from graphql_payments.migrations import require_current
    from graphql_payments.operations.verify import verify_with_stripe

    settings = _settings(args)
    _logging(settings)

    async def verify(services: Services) -> list[str]:
        problems = await invariants.verify(services.db)
        if args.stripe:
            problems += await verify_with_stripe(services.db, services.gateway, since=args.since)
        return problems

    with _database(settings.database_url):
        asyncio.run(require_current(settings.database_url))
        problems = _with_services(settings, verify)
    for problem in problems:
        _print(f"FAIL {problem}")
    scope = "ledger and Stripe" if args.stripe else "ledger"
    _print(f"{scope} ok" if not problems else f"{len(problems)} problem(s)")
    return EXIT_CHECK_FAILED if problems else 0


def _command(
    commands: Any, name: str, summary: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="\n\n".join(part for part in (epilog, EXIT_CODES) if part),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def cmd_autopay_run(args: argparse.Namespace) -> int:
    from graphql_payments.autopay.service import SweepReport

    settings = _settings(args)
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


def cmd_hasura_metadata(args: argparse.Namespace) -> int:
    from pathlib import Path

    from graphql_payments.hasura import metadata

    settings = _settings(args)
    found = metadata.files(
        settings, url=args.url, prefix=args.prefix, namespace=args.namespace or None
    )
    if args.out:
        directory = Path(args.out)
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in found.items():
            (directory / name).write_text(text)
            print(f"wrote {directory / name}")  # noqa: T201
        return 0
    for name, text in found.items():
        sys.stdout.write(f"# ---- {name} ----\n{text}\n")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="graphql-payments",
        description="GraphQL payment API server",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=__version__)
    commands = top.add_subparsers(dest="command", required=True)

    serve = _command(
        commands,
        "serve",
        "run the server (migrates a SQLite database first; PostgreSQL needs 'db upgrade')",
        SERVE_ENV,
    )
    serve.add_argument(
        "--host", help="address to listen on (default: PAYMENTS_HOST, else 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, help="port (default: PAYMENTS_PORT, else 8000)")
    serve.add_argument(
        "--workers", type=int, help="server processes (default: PAYMENTS_WORKERS, else 1)"
    )
    serve.set_defaults(run=cmd_serve)

    db = _command(commands, "db", "database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    _command(
        db_commands, "upgrade", "migrate PAYMENTS_DATABASE_URL to the latest version", DATABASE_ENV
    ).set_defaults(run=cmd_db_upgrade)
    revision = _command(
        db_commands, "revision", "autogenerate a migration from the models (for developers)"
    )
    revision.add_argument("-m", "--message", required=True, help="what the migration changes")
    revision.add_argument(
        "--database-url", help="compare with this database (default: a scratch SQLite at head)"
    )
    revision.set_defaults(run=cmd_db_revision)

    event_schemas = _command(
        commands,
        "export-event-schemas",
        "write the JSON Schema of each event (reads no environment)",
    )
    event_schemas.add_argument(
        "directory", nargs="?", default="schemas/events", help="default: %(default)s"
    )
    event_schemas.set_defaults(run=cmd_export_event_schemas)
    _command(
        commands, "export-schema", "print the GraphQL SDL (reads no environment)"
    ).set_defaults(run=cmd_export_schema)

    sandbox = _command(
        commands,
        "sandbox",
        "run the Stripe sandbox alone, a Stripe stand-in for other programs (reads no environment)",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    sandbox.add_argument("--port", type=int, default=12111, help="default: %(default)s")
    sandbox.add_argument("--webhook-url", help="deliver events to this endpoint (default: none)")
    sandbox.add_argument(
        "--webhook-secret", help="signing secret for --webhook-url (default: generated)"
    )
    sandbox.set_defaults(run=cmd_sandbox)
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command")
    account = _command(sandbox_commands, "account", "Connect test accounts")
    account_commands = account.add_subparsers(dest="account_command", required=True)
    create = _command(
        account_commands,
        "create",
        "create a Connect account that can receive transfers (a runner) and print its id",
        "environment:\n  PAYMENTS_PUBLIC_URL, PAYMENTS_HOST, PAYMENTS_PORT  where the server is, "
        "when --url is not given",
    )
    create.add_argument(
        "--url",
        help="the sandbox (default: the server's PAYMENTS_PUBLIC_URL + /_sandbox, else "
        "http://127.0.0.1:8000/_sandbox; for 'graphql-payments sandbox': http://127.0.0.1:12111)",
    )
    create.add_argument("--email", help="the account's email (default: none)")
    create.add_argument("--country", default="US", help="default: %(default)s")
    create.set_defaults(run=cmd_sandbox_account_create)

    ledger = _command(commands, "ledger", "the credit ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = _command(
        ledger_commands,
        "verify",
        "check every invariant of the credit ledger; never creates a database",
        DATABASE_ENV,
    )
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

    autopay = _command(commands, "autopay", "automatic top-ups")
    autopay_commands = autopay.add_subparsers(dest="autopay_command", required=True)
    _command(
        autopay_commands, "run", "charge every autopay that is due, once (for cron)", SERVE_ENV
    ).set_defaults(run=cmd_autopay_run)

    hasura = commands.add_parser("hasura", help="Hasura integration")
    hasura_commands = hasura.add_subparsers(dest="hasura_command", required=True)
    hasura_metadata = hasura_commands.add_parser(
        "metadata", help="print actions.graphql, actions.yaml and remote_schemas.yaml"
    )
    hasura_metadata.add_argument(
        "--url",
        help="this server's base URL as Hasura reaches it (default: Hasura's PAYMENTS_URL and "
        "PAYMENTS_GRAPHQL_URL environment variables)",
    )
    hasura_metadata.add_argument(
        "--prefix", default="Payments_", help="type-name prefix (default Payments_)"
    )
    hasura_metadata.add_argument(
        "--namespace",
        default="payments_api",
        help="root-field namespace of the remote schema (default payments_api; '' for none)",
    )
    hasura_metadata.add_argument("--out", help="write the three files into this directory")
    hasura_metadata.set_defaults(run=cmd_hasura_metadata)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SettingsConflict as exc:
        message = " ".join(str(exc).split())
        print(f"graphql-payments: {message}", file=sys.stderr)  # noqa: T201
        return EXIT_CONFIGURATION
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
