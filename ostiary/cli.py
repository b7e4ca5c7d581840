"""The ``ostiary`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ostiary.errors import InvalidInput, OstiaryError
from ostiary.runtime import Runtime
from ostiary.settings import Settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Ostiary identity and access server."
)
out = Console()
err = Console(stderr=True)


def _runtime() -> Runtime:
    return Runtime.from_settings(Settings())


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def prepare(runtime: Runtime) -> None:
    """Migrate the database and create the defaults; tell how to become the first admin."""
    from ostiary.bootstrap import ensure_defaults
    from ostiary.db.migrate import upgrade

    upgrade(runtime.engine)
    try:
        with runtime.sessions() as session:
            first = ensure_defaults(runtime, session)
    except InvalidInput as exc:
        problems = "; ".join(p.message for p in exc.problems)
        raise _fail(f"OSTIARY_BOOTSTRAP_ADMIN_PASSWORD {problems}") from None
    if first is None:
        return
    if first.setup_link:
        out.print(
            f"\n[bold]First administrator:[/bold] open this link once to choose the password "
            f"of '{first.username}' (it works once and expires):\n  {first.setup_link}\n",
            highlight=False,
            soft_wrap=True,
        )
    elif first.created:
        out.print(
            f"First administrator '{first.username}' created with the password given in "
            "OSTIARY_BOOTSTRAP_ADMIN_PASSWORD.",
            highlight=False,
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Migrate the database if needed and serve Ostiary."""
    import uvicorn

    from ostiary.server import HTTP_PROTOCOL

    runtime = _runtime()
    prepare(runtime)
    settings = runtime.settings
    runtime.close()
    out.print(
        f"Ostiary on http://{host}:{port}  (API documentation: /api/v1/docs)", highlight=False
    )
    trusted = settings.forwarded_allow_ips
    uvicorn.run(
        "ostiary.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HTTP_PROTOCOL,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        log_level="info",
        log_config=_log_config(),
    )


def _log_config() -> dict[str, object]:
    """Uvicorn's logging, and Ostiary's own loggers (the message worker, the outbox) beside it."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ostiary"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@app.command()
def migrate() -> None:
    """Bring the database to the latest schema and create the defaults."""
    from ostiary.db.migrate import current_revision

    runtime = _runtime()
    prepare(runtime)
    out.print(f"database at revision {current_revision(runtime.engine)}", highlight=False)


@app.command()
def config() -> None:
    """Print the effective configuration, secrets masked."""
    out.print_json(json.dumps(Settings().masked(), default=str))


@app.command()
def apply(
    files: Annotated[
        list[Path], typer.Argument(help="Provisioning files (YAML)", exists=True, dir_okay=False)
    ],
) -> None:
    """Bring the database to the state the provisioning files describe."""
    from ostiary.provisioning.apply import Provisioner
    from ostiary.provisioning.document import load_documents

    runtime = _runtime()
    prepare(runtime)
    try:
        document = load_documents(files)
        with runtime.sessions() as session:
            report = Provisioner(runtime, session).apply(document)
    except InvalidInput as exc:
        for problem in exc.problems:
            # Problems and report lines quote names from the file; brackets there are no markup.
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        raise _fail(f"nothing applied: {len(exc.problems)} problem(s) in the file") from None
    except OstiaryError as exc:
        raise _fail(f"nothing applied: {exc}") from None
    for line in report.lines():
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    out.print("unchanged" if report.unchanged else report.summary(), highlight=False)


@app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout)")
    ] = None,
    with_password_hashes: Annotated[
        bool, typer.Option(help="Include password and client secret hashes (for a full move)")
    ] = False,
) -> None:
    """Write the current state as a provisioning file."""
    from ostiary.provisioning.export import export_document

    runtime = _runtime()
    prepare(runtime)
    with runtime.sessions() as session:
        text = export_document(session, with_secrets=with_password_hashes)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@app.command()
def bench(
    users: Annotated[int, typer.Option(min=1, help="Users to create")] = 100_000,
    contexts: Annotated[int, typer.Option(min=4, help="Contexts, the root included")] = 1_000,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="An empty database, or one a run of the same size filled "
            "(default: a temporary SQLite file, removed afterwards)"
        ),
    ] = None,
    repetitions: Annotated[int, typer.Option(min=1, help="Timed runs per query")] = 200,
) -> None:
    """Fill a database with users and time user search and reads (docs/benchmarks.md)."""
    from contextlib import nullcontext

    from ostiary.benchmark import (
        BenchmarkError,
        BenchSize,
        bench_settings,
        render_report,
        run_benchmark,
        temporary_sqlite_url,
    )

    place = nullcontext((database_url, Path("."))) if database_url else temporary_sqlite_url()
    try:
        with place as (url, data_dir):
            report = run_benchmark(
                bench_settings(url, data_dir),
                BenchSize(users, contexts),
                repetitions=repetitions,
                progress=lambda message: err.print(message, highlight=False),
            )
    except BenchmarkError as exc:
        raise _fail(str(exc)) from None
    out.print(render_report(report), highlight=False, soft_wrap=True)


users_app = typer.Typer(no_args_is_help=True, help="Users in bulk.")
app.add_typer(users_app, name="users")


@users_app.command("import")
def users_import(
    file: Annotated[Path, typer.Argument(help="CSV file of users", exists=True, dir_okay=False)],
    dry_run: Annotated[bool, typer.Option(help="Validate and count, write nothing")] = False,
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the good rows and report the bad ones")
    ] = False,
) -> None:
    """Import users from a CSV file (docs/import.md): validated first, idempotent, resumable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from ostiary.audit.actor import Actor
    from ostiary.imports.problems import InvalidFile
    from ostiary.imports.services import ImportOptions, UserImportService

    runtime = _runtime()
    prepare(runtime)
    options = ImportOptions(dry_run=dry_run, skip_invalid=skip_invalid)
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    try:
        with runtime.sessions() as session:
            service = UserImportService(session, Actor(label="cli", via="cli"))
            validated = service.validate(file.read_bytes(), options)
            with bar:
                task = bar.add_task("importing", total=len(validated.rows))
                report = service.run(
                    validated,
                    options,
                    progress=lambda done, total: bar.update(task, completed=done),
                )
    except InvalidFile as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        lines = len({problem.line for problem in exc.problems})
        raise _fail(f"nothing imported: {lines} bad row(s) in the file") from None
    except KeyboardInterrupt:
        raise _fail("interrupted; run the same command again to continue", 130) from None
    except OstiaryError as exc:
        raise _fail(f"import stopped: {exc}") from None
    finally:
        runtime.close()
    for problem in report.problems:
        err.print(f"skipped {problem}", markup=False, highlight=False, soft_wrap=True)
    out.print(report.summary(), highlight=False, soft_wrap=True)


keys_app = typer.Typer(no_args_is_help=True, help="Signing keys of the OpenID provider.")
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(
    alg: Annotated[
        str | None, typer.Option(help="ES256 or RS256 (default: a new key for each)")
    ] = None,
    publish_ahead_minutes: Annotated[
        int,
        typer.Option(min=0, help="The new key is published now and signs only after this long"),
    ] = 60,
    max_token_lifetime_minutes: Annotated[
        int,
        typer.Option(min=1, help="The old key stays published this long after it stops signing"),
    ] = 24 * 60,
) -> None:
    """Publish new signing keys now; they take over once relying parties had time to see them."""
    from datetime import timedelta

    from ostiary.audit.actor import Actor
    from ostiary.keys.services import KeyRing

    runtime = _runtime()
    prepare(runtime)
    ring = KeyRing(runtime.settings.effective_secret_key)
    try:
        with runtime.sessions() as session:
            rotated = ring.rotate(
                session,
                alg=alg.upper() if alg else None,
                publish_ahead=timedelta(minutes=publish_ahead_minutes),
                max_token_lifetime=timedelta(minutes=max_token_lifetime_minutes),
                actor=Actor(label="cli", via="cli"),
            )
    except OstiaryError as exc:
        raise _fail(str(exc)) from None
    finally:
        runtime.close()
    for key in rotated:
        line = f"{key.alg}: new key {key.kid} published, signs from {key.active_from.isoformat()}"
        if key.retired_kids:
            until = key.unpublish_at.isoformat() if key.unpublish_at else "never"
            line += f"; {', '.join(key.retired_kids)} stops signing then, published until {until}"
        out.print(line, markup=False, highlight=False, soft_wrap=True)


messages_app = typer.Typer(no_args_is_help=True, help="The outbox of e-mail and SMS messages.")
app.add_typer(messages_app, name="messages")


@messages_app.command("send-pending")
def messages_send_pending(
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most this many")] = None,
) -> None:
    """Send the messages that are due now, once (what the server's worker does all along)."""
    from ostiary.messages.delivery import ConfigurationError
    from ostiary.messages.outbox import MessageWorker

    runtime = _runtime()
    prepare(runtime)
    try:
        report = MessageWorker(runtime).run_once(limit)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    finally:
        runtime.close()
    out.print(
        f"sent {report.sent}, to retry {report.retrying}, failed {report.failed}", highlight=False
    )


contracts_app = typer.Typer(no_args_is_help=True, help="Contracts and the accounts they keep open.")
app.add_typer(contracts_app, name="contracts")


@contracts_app.command("check")
def contracts_check(
    today: Annotated[
        str | None, typer.Option(help="Check as of this day (YYYY-MM-DD) instead of today")
    ] = None,
) -> None:
    """Start due contracts, suspend accounts without one past the grace period, reactivate
    those with one again (what the server does all along); print each change."""
    from datetime import date

    from ostiary.contracts.lifecycle import ContractLifecycle, utc_today

    try:
        day = date.fromisoformat(today) if today is not None else utc_today()
    except ValueError:
        raise _fail(f"--today: '{today}' is not a date like 2026-12-31") from None
    runtime = _runtime()
    prepare(runtime)
    try:
        changes = ContractLifecycle(runtime.sessions, runtime.settings.contract_grace_days).run(day)
    finally:
        runtime.close()
    for change in changes:
        out.print(str(change), markup=False, highlight=False, soft_wrap=True)
    out.print(f"{len(changes)} change(s) as of {day.isoformat()}", highlight=False)


registrations_app = typer.Typer(
    no_args_is_help=True, help="Organizations and people who registered themselves."
)
app.add_typer(registrations_app, name="registrations")


@registrations_app.command("expire")
def registrations_expire(
    now: Annotated[
        str | None,
        typer.Option(help="Expire as of this moment (ISO 8601, UTC when no offset) instead of now"),
    ] = None,
) -> None:
    """Delete registrations whose address or phone was never verified, with the draft account
    and pending organization they made (what the server does all along); print each."""
    from datetime import UTC, datetime

    from ostiary.registrations.expiry import RegistrationExpiry

    try:
        moment = datetime.fromisoformat(now) if now is not None else datetime.now(UTC)
    except ValueError:
        raise _fail(f"--now: '{now}' is not a moment like 2026-12-31T08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    runtime = _runtime()
    prepare(runtime)
    try:
        changes = RegistrationExpiry.of(runtime).run(moment)
    finally:
        runtime.close()
    for change in changes:
        out.print(str(change), markup=False, highlight=False, soft_wrap=True)
    out.print(f"{len(changes)} registration(s) expired", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
