"""`casevault`: the operator's command line (a stable contract; see docs/design.md).

Every command imports what it uses when it runs: `--help`, and a command that needs neither the
web stack nor the S3 client, start without loading them (bench/startup.py measures it). The
layout test still counts these imports in its cycle check, so none of them hides a cycle.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from access.policy import Context
    from archive.fixity import VerifyReport
    from portal.settings import Settings
    from portal.wiring import PublicWired, Wired


def _typer(help: str | None) -> typer.Typer:
    """A command group printing plain help and plain errors: the rich formatter costs more start-up
    than most commands' work, and a rich traceback would print local variables — passwords among
    them — where a plain one names the failing line only."""
    return typer.Typer(
        add_completion=False,
        no_args_is_help=True,
        help=help,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )


app = _typer(__doc__.split("\n\n", 1)[0] if __doc__ else None)
ledger_app = _typer("The access ledger.")
app.add_typer(ledger_app, name="ledger")
users_app = _typer("User accounts.")
app.add_typer(users_app, name="users")
audit_app = _typer("Fixity audits (定期检测).")
app.add_typer(audit_app, name="audit")
schedule_app = _typer("The retention schedule (保管期限表).")
app.add_typer(schedule_app, name="schedule")
holds_app = _typer("Legal holds (冻结): nothing held is destroyed.")
app.add_typer(holds_app, name="holds")
retention_app = _typer("Retention: what is due, and approved destructions.")
app.add_typer(retention_app, name="retention")
keys_app = _typer("The archive's keys: rotation.")
app.add_typer(keys_app, name="keys")

EXIT_REFUSED = 2
EXIT_UNAVAILABLE = 75  # EX_TEMPFAIL: try again later
EXIT_DENIED = 77  # EX_NOPERM: the policy refused


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"casevault: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """One clear line and an exit code for every error a person or an outage can cause."""
    from sqlalchemy.exc import OperationalError

    from access.policy import Denied
    from archive.errors import ArchiveError, Refused, StoreUnavailable
    from portal.db import DatabaseNotReady

    try:
        yield
    except DatabaseNotReady as exc:
        _fail(str(exc), EXIT_REFUSED)  # the operator's to fix, not an outage to wait out
    except Refused as exc:
        _fail(str(exc), EXIT_REFUSED)
    except Denied as exc:
        _fail(f"{exc} (the refusal is in the ledger)", EXIT_DENIED)
    except StoreUnavailable as exc:
        _fail(f"{exc}; nothing was archived — retry later", EXIT_UNAVAILABLE)
    except OperationalError as exc:
        _fail(f"database unavailable ({exc.orig.__class__.__name__}); retry later", EXIT_UNAVAILABLE)
    except ArchiveError as exc:
        _fail(str(exc), 1)
    except OSError as exc:
        _fail(f"{exc.filename or 'file system'}: {exc.strerror or exc}", 1)


W = TypeVar("W", bound="PublicWired")


def _settings() -> Settings:
    from pydantic import ValidationError

    from portal.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"CASEVAULT_{str(first['loc'][0]).upper()}: {first['msg']}", EXIT_REFUSED)


def _wired() -> Wired:
    """The archive as the settings wire it; a setting that makes no sense is a clear refusal."""
    from portal.wiring import wire

    return _wired_by(wire)


def _wired_by(wiring: Callable[[Settings], W]) -> W:
    settings = _settings()
    try:
        with _errors():
            return wiring(settings)
    except ValueError as exc:
        _fail(str(exc), EXIT_REFUSED)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextlib.contextmanager
def _progress(label: str) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None]]]:
    """A byte progress bar on a terminal; silent when output is piped."""
    if not sys.stderr.isatty():
        yield None, lambda _total: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
    )
    task = bar.add_task(label, total=None)
    with bar:
        yield (lambda n: bar.advance(task, n)), (lambda total: bar.update(task, total=total))


@contextlib.contextmanager
def _counting(label: str) -> Iterator[Callable[[int], None] | None]:
    """A running count of items done on a terminal; silent when output is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn(label), MofNCompleteColumn(), transient=True, console=Console(stderr=True))
    task = bar.add_task(label, total=None)
    with bar:
        yield lambda n: bar.advance(task, n)


def _emit(as_json: bool, data: Any, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in lines:
            typer.echo(line)


@app.command()
def migrate() -> None:
    """Create the database or bring its schema up to this version, as its owner
    (`CASEVAULT_MIGRATE_DATABASE_URL`, else the database URL): the only command that changes it."""
    from portal import db

    url = _settings().resolved_migration_database_url
    with _errors():
        revision = db.migrate(url)
    typer.echo(f"{db.shown_url(url)}: migrated to {revision}")


@app.command()
def deposit(
    folder: Annotated[Path, typer.Argument(help="Deposit folder with case.json")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Validate, store and seal a closed case; prints bundle id, case number, version, seal."""
    from portal.internal.archive import operations

    wired = _wired()
    with _errors(), _progress("sealing") as (advance, set_total):
        result = operations.deposit(
            wired, folder=folder, actor=_actor(), progress=advance, before_write=set_total
        )
    findings = result["findings"]
    articles = ", ".join(sorted({f"art. {f['article']}" for f in findings}))
    _emit(
        as_json,
        result,
        [
            f"bundle_id    {result['bundle_id']}",
            f"case_no      {result['case_no']}",
            f"version      {result['version']}",
            f"seal_digest  {result['seal_digest']}",
            f"findings     {len(findings)}" + (f" ({articles})" if findings else ""),
            *_supplement_line(result),
        ],
    )


def _supplement_line(result: dict[str, Any]) -> list[str]:
    """A deposit of a case already sealed makes a new version: say so (the portal and the API ask first)."""
    version = int(result["version"])
    if version < 2:
        return []
    return [
        f"supplement   made version {version} of {result['case_no']}; "
        f"version {version - 1} stays sealed as it was"
    ]


def _report_lines(reports: list[VerifyReport]) -> list[str]:
    """A line per bundle, and one per failing path under it."""
    lines = []
    for r in reports:
        state = "intact" if r.intact else "FAILED"
        lines.append(f"{state}  {r.bundle_id}  {r.case_no}  v{r.version}  ({r.files} files)")
        lines += [f"  {f.path}: {f.reason}" for f in r.failures]
    return lines


@app.command()
def verify(
    bundle_id: Annotated[str | None, typer.Argument(help="Bundle to verify")] = None,
    all_bundles: Annotated[bool, typer.Option("--all", help="Verify every bundle")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Re-read and re-hash a bundle (or all); exit 1 naming every failing path."""
    from portal.internal.archive import operations

    if (bundle_id is None) == (not all_bundles):
        _fail("give a BUNDLE_ID or --all (not both)", EXIT_REFUSED)
    wired = _wired()
    with _errors(), _progress("verifying") as (advance, _):
        gone = operations.verify_destroyed(wired, bundle_id=bundle_id, actor=_actor())
        skip = bundle_id is not None and bundle_id in gone
        reports = (
            [] if skip else operations.verify(wired, bundle_id=bundle_id, actor=_actor(), progress=advance)
        )
    intact = all(r.intact for r in reports)
    lines = [
        f"destroyed  {t.bundle_id}  {t.case_no}  v{t.version}: destroyed on {t.destroyed_at:%Y-%m-%d}"
        f" under certificate {t.certificate_no}"
        for t in gone.values()
    ]
    destroyed = [
        {
            "bundle_id": t.bundle_id,
            "case_no": t.case_no,
            "version": t.version,
            "destroyed_at": t.destroyed_at.isoformat(),
            "certificate_no": t.certificate_no,
        }
        for t in gone.values()
    ]
    _emit(
        as_json,
        {"intact": intact, "bundles": [r.as_json() for r in reports], "destroyed": destroyed},
        lines + _report_lines(reports),
    )
    raise typer.Exit(0 if intact else 1)


@audit_app.command("run")
def audit_run(
    all_bundles: Annotated[bool, typer.Option("--all", help="Audit every bundle, due or not")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Audit the bundles that are due (digests, seal, retention locks), verified longest ago
    first; exit 1 naming each failing bundle and path."""
    from portal.internal.retention import audit_rounds

    wired = _wired()
    with _errors():
        run = audit_rounds.run_audits(wired, actor=_actor(), everything=all_bundles)
    lines = _report_lines(run.reports)
    failed = sum(1 for r in run.reports if not r.intact)
    lines.append(f"audited {len(run.reports)} bundle(s), {failed} failed" if run.reports else "nothing due")
    _emit(as_json, run.as_json(), lines)
    raise typer.Exit(0 if run.intact else 1)


@app.command()
def export(
    bundle_id: Annotated[str, typer.Argument(help="Bundle to export")],
    dest: Annotated[Path, typer.Argument(help="New folder for the bag")],
) -> None:
    """Write a bundle as a BagIt bag with its seal and JWKS, verifiable offline."""
    from portal.internal.archive import operations

    wired = _wired()
    with _errors(), _progress("exporting") as (advance, _):
        path = operations.export(wired, bundle_id=bundle_id, dest=dest, actor=_actor(), progress=advance)
    typer.echo(f"exported {bundle_id} to {path}")


@app.command("verify-bag")
def verify_bag(
    folder: Annotated[Path, typer.Argument(help="An exported bag")],
    jwks: Annotated[
        Path | None, typer.Option(help="Published JWKS to trust instead of the bag's jwks.json")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Check an exported bag and its seal offline; exit 1 naming every failing path."""
    from archive.fixity import verify_bag_dir

    keys = None
    if jwks is not None:
        try:
            keys = json.loads(jwks.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _fail(f"{jwks}: not a readable JWKS ({exc})", EXIT_REFUSED)
    if not folder.is_dir():
        _fail(f"{folder}: not a folder", EXIT_REFUSED)
    report = verify_bag_dir(folder, jwks=keys)
    state = "intact" if report.intact else "FAILED"
    lines = [f"{state}  {report.bundle_id}  {report.case_no}  v{report.version}  ({report.files} files)"]
    lines += [f"  {f.path}: {f.reason}" for f in report.failures]
    lines.append(f"seal checked with {report.trust}")
    _emit(as_json, report.as_json(), lines)
    raise typer.Exit(0 if report.intact else 1)


@app.command()
def reconcile(
    grace_minutes: Annotated[
        int | None, typer.Option(help="Leave objects written more recently than this alone")
    ] = None,
) -> None:
    """Remove what interrupted deposits left in the store (never anything under retention)."""
    from portal.internal.archive import operations

    wired = _wired()
    grace = timedelta(
        minutes=wired.settings.reconcile_grace_minutes if grace_minutes is None else grace_minutes
    )
    with _errors():
        done = operations.reconcile(wired, grace=grace, actor=_actor())
    for key, action in done:
        typer.echo(f"{key}: {action}")
    typer.echo(f"{len(done)} leftover object(s) handled")


@app.command()
def trace(
    file: Annotated[Path, typer.Argument(help="A file suspected to be a casevault copy")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Say whose watermarked copy a file is (fingerprint, else SHA-256); exit 1 if none is found."""
    from access.models import department_name
    from access.policy import Context
    from access.watermarks import trace_copy
    from portal.wiring import operator

    if not file.is_file():
        _fail(f"{file}: not a file", EXIT_REFUSED)
    wired = _wired()
    with _errors(), wired.sessions() as session:
        subject = operator(wired, _actor())
        found = trace_copy(
            session, subject=subject, context=Context(now=wired.clock(), source="cli"), path=file
        )
        session.commit()
    if found is None:
        _emit(as_json, {"found": False}, ["no casevault fingerprint found"])
        raise typer.Exit(1)
    who = (
        f"{found.username} ({found.name})" if found.name and found.name != found.username else found.username
    )
    _emit(
        as_json,
        {"found": True, **found.as_json(), "department_name": department_name(found.department)},
        [
            f"copy of      {found.case_no}  bundle {found.bundle_id}  record {found.record_id}",
            f"made for     {who}",
            f"department   {department_name(found.department) or '-'}",
            f"grant        {found.grant_id if found.grant_id is not None else '- (by role)'}",
            f"delivered    {found.at.isoformat()}  (ledger entry {found.seq})",
            f"fingerprint  {found.fingerprint or '-'}  (matched by {found.matched_by})",
        ],
    )


@ledger_app.command("verify")
def ledger_verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Walk the hash chain, check every signed checkpoint and hold the database to the newest
    checkpoint locked in the archive store; exit 1 naming the first bad entry or missing range."""
    from portal.internal.ledger import operations

    wired = _wired()
    with _errors():
        report = operations.verify_ledger(wired)
    lines = []
    if report.first_bad_seq is not None:
        lines.append(f"ledger broken at entry {report.first_bad_seq}: {report.reason}")
    if report.first_bad_checkpoint is not None:
        lines.append(f"ledger {report.checkpoint_reason}")
    if not lines:
        lines.append(f"ledger intact: {report.entries} entries, {report.checkpoints} checkpoints")
    if report.locked_checkpoint is not None:
        lines.append(f"held to the checkpoint at {report.locked_checkpoint} entries locked in the store")
    if report.checkpoints and not report.signatures_checked:
        lines.append("checkpoint signatures were not checked (no JWKS given)")
    lines.extend(_cosignature_lines(report.cosignatures))
    _emit(as_json, report.as_json(), lines)
    bad_cosignature = any(not found["valid"] for found in report.cosignatures)
    raise typer.Exit(0 if report.intact and not bad_cosignature else 1)


def _cosignature_lines(cosignatures: Sequence[dict[str, Any]]) -> list[str]:
    """One line per witness (its newest valid cosignature), and one per cosignature that fails."""
    newest: dict[str, dict[str, Any]] = {}
    lines = []
    for found in cosignatures:
        if found["valid"]:
            newest[found["witness"]] = found
        else:
            lines.append(
                f"cosignature by {found['witness']} at {found['tree_size']} entries FAILS: {found['reason']}"
            )
    for witness, found in newest.items():
        count = sum(1 for c in cosignatures if c["witness"] == witness and c["valid"])
        lines.append(
            f"witness {witness}: {count} cosignature(s), "
            f"newest at {found['tree_size']} entries ({found['cosigned_at']})"
        )
    return lines


@ledger_app.command("checkpoint")
def ledger_checkpoint(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Sign a checkpoint (Merkle tree head) over every entry now; exit 1 if the ledger was tampered."""
    from portal.internal.ledger import operations

    wired = _wired()
    with _errors():
        made, answers = operations.checkpoint_and_witness(wired, force=True)
    witnessed = [
        f"witness {a.witness}: "
        + (a.message if a.cosigned else f"refused ({a.status or 'no answer'}): {a.message}")
        for a in answers
    ]
    answered = [
        {
            "witness": a.witness,
            "tree_size": a.tree_size,
            "cosigned": a.cosigned,
            "status": a.status,
            "message": a.message,
        }
        for a in answers
    ]
    if made is None:
        lines = ["no new entries since the last checkpoint", *witnessed]
        _emit(as_json, {"created": False, "checkpoint": None, "witnesses": answered}, lines)
        return
    line = f"checkpoint signed: {made.tree_size} entries, root {made.root_hash}, key {made.kid}"
    _emit(as_json, {"created": True, "checkpoint": made.as_json(), "witnesses": answered}, [line, *witnessed])


@ledger_app.command("key")
def ledger_key() -> None:
    """Print the checkpoint key's verifier key (C2SP note form), for witnesses, monitors and a
    separately deployed public portal (CASEVAULT_LEDGER_NOTE_VKEY)."""
    wired = _wired()
    typer.echo(wired.note_key.verifier.vkey)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return None


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option("--username", help="Login name")],
    role: Annotated[str, typer.Option("--role", help="archivist, archive_manager, supervisor, …")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    clearance: Annotated[
        str, typer.Option("--clearance", help="none, confidential, secret, top_secret")
    ] = "none",
    department: Annotated[
        str | None, typer.Option("--department", help="Supervisors: superior, supervision, legal, petition")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name")] = None,
) -> None:
    """Create a user (without --password-stdin the account signs in by SSO only)."""
    from access import identities

    wired = _wired()
    with _errors(), wired.sessions() as session:
        user = identities.create_user(
            session,
            username=username,
            role=role,
            actor=_actor(),
            now=wired.clock(),
            password=_read_password(password_stdin),
            display_name=name,
            clearance=clearance,
            department=department,
        )
        session.commit()
        typer.echo(f"created {user.username} ({user.role})")


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Option("--username")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = True,
) -> None:
    """Set a new password (read from stdin); the user's tokens and sessions stop working."""
    from access import identities

    wired = _wired()
    password = _read_password(password_stdin) or ""
    with _errors(), wired.sessions() as session:
        user = identities.set_password(
            session, username=username, password=password, actor=_actor(), now=wired.clock()
        )
        session.commit()
        typer.echo(f"password reset for {user.username}")


def _set_disabled(username: str, disabled: bool) -> None:
    from access import identities

    wired = _wired()
    with _errors(), wired.sessions() as session:
        user = identities.set_disabled(
            session, username=username, disabled=disabled, actor=_actor(), now=wired.clock()
        )
        session.commit()
        typer.echo(f"{user.username} {'disabled' if disabled else 'enabled'}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Option("--username")]) -> None:
    """Disable an account; its sessions and tokens stop working at once."""
    _set_disabled(username, True)


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Option("--username")]) -> None:
    """Re-enable a disabled account."""
    _set_disabled(username, False)


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every account: role, department, clearance, state."""
    from sqlalchemy import select

    from access.models import User, department_name

    wired = _wired()
    with _errors(), wired.sessions() as session:
        rows = [
            {
                "username": u.username,
                "role": u.role,
                "department": u.department,
                "clearance": u.clearance,
                "disabled": u.disabled,
                "sso": u.sso_subject is not None,
            }
            for u in session.scalars(select(User).order_by(User.username))
        ]
    _emit(
        as_json,
        rows,
        [
            f"{r['username']:<20} {r['role']:<20} {department_name(str(r['department'] or '')) or '-':<12} "
            f"{r['clearance']:<13}"
            f"{' disabled' if r['disabled'] else ''}"
            for r in rows
        ],
    )


def _passphrase(from_stdin: bool, *, confirm: bool) -> str:
    """The backup passphrase: one line of standard input, or asked for without echo on a terminal."""
    if not from_stdin:
        _fail(
            "--passphrase-stdin: required; the passphrase is read from standard input, "
            "never from the command line or the environment",
            EXIT_REFUSED,
        )
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    passphrase = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("passphrase again: ") != passphrase:
        _fail("passphrase: the two do not match", EXIT_REFUSED)
    return passphrase


# `backup` and `restore` read the passphrase the same way: from stdin only, never argv or env.
PassphraseStdin = Annotated[
    bool, typer.Option("--passphrase-stdin", help="Read the passphrase from stdin (required)")
]


def _backup_lines(manifest: dict[str, Any]) -> list[str]:
    from portal.backup import service as backups

    tables = [p for p in manifest["parts"] if p["part"].startswith("database/")]
    head = manifest["ledger_head"]
    return [
        f"revision     {manifest['alembic_revision']} ({manifest['engine']})",
        f"tables       {len(tables)} ({sum(p['rows'] for p in tables)} rows)",
        f"keys         {len(backups.key_parts(manifest))} file(s)",
        f"ledger head  entry {head['seq']}  {head['entry_hash']}",
    ]


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="The backup file to write")],
    passphrase_stdin: PassphraseStdin = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing DEST")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON")] = False,
) -> None:
    """Write the database (one consistent snapshot) and every key under keys/ to one file,
    encrypted with a passphrase; the object store is not in it (replicate it)."""
    from portal.backup import service as backups

    settings = _settings()
    passphrase = _passphrase(passphrase_stdin, confirm=True)
    with _errors(), _counting("rows") as progress:
        manifest = backups.backup(
            settings=settings, dest=dest, passphrase=passphrase, force=force, progress=progress
        )
    with _errors():
        try:
            backups.record(_wired(), action="backup.write", manifest=manifest, file=dest, actor=_actor())
        except BaseException:
            dest.unlink(missing_ok=True)  # a copy of everything that the ledger does not know of: none
            raise
    lines = [f"backup written to {dest}", *_backup_lines(manifest)]
    lines += [
        f"not in the backup: {name} is set in the configuration; keep it there"
        for name in manifest["configured_secrets"]
    ]
    _emit(as_json, manifest, lines)


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="A backup file written by `casevault backup`")],
    passphrase_stdin: PassphraseStdin = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Restore a backup into an empty database (as its owner) and the data dir's keys/: all of it,
    or nothing; a wrong passphrase or a damaged file writes nothing."""
    from portal.backup import service as backups
    from portal.wiring import wire

    settings = _settings()
    passphrase = _passphrase(passphrase_stdin, confirm=False)
    with _errors(), _counting("rows") as progress:
        done = backups.restore(settings=settings, source=src, passphrase=passphrase, progress=progress)
        # As the owner, like the restore itself: the app's role may have no grants here yet.
        owner = settings.model_copy(update={"database_url": settings.resolved_migration_database_url})
        as_owner = _wired_by(lambda _: wire(owner))
        backups.record(as_owner, action="backup.restore", manifest=done, file=src, actor=_actor())
    lines = [
        f"restored {src} into {done['database']}",
        *_backup_lines(done),
        f"keys written {done['keys_written']} ({done['keys_present']} already there, identical)",
        "next: run scripts/db_roles.sql as the owner (PostgreSQL), then `casevault ledger verify` "
        "and `casevault verify --all`",
    ]
    _emit(as_json, done, lines)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    which: Annotated[str, typer.Option("--app", help="both, internal or public")] = "both",
    grace: Annotated[
        int | None,
        typer.Option(
            "--timeout-graceful-shutdown",
            min=0,
            help="Seconds requests under way get to finish after SIGTERM "
            "(default: CASEVAULT_SHUTDOWN_GRACE_SECONDS)",
        ),
    ] = None,
) -> None:
    """Serve the internal portal at / and the public one at /public."""
    # The web stack loads only for `serve`.
    import logging.config

    import uvicorn

    from portal.app import create_app, create_public_only
    from portal.web import logs
    from portal.wiring import wire_public

    if which not in {"both", "internal", "public"}:
        _fail(f"--app: {which!r} is not one of both, internal, public", EXIT_REFUSED)
    settings = _settings()
    json_lines = settings.log_format == "json" or (settings.log_format == "auto" and not sys.stderr.isatty())
    logging.config.dictConfig(logs.config(json_lines=json_lines, level=settings.log_level))
    if which == "public":
        # The archive realm is never opened: the public host may not even hold its credentials.
        served = create_public_only(_wired_by(wire_public))
    else:
        # Never reconciles by itself: against the wrong database that would look like a store
        # full of leftovers. `casevault reconcile` is run on purpose, and checks first.
        served = create_app(_wired(), kind=which)  # type: ignore[arg-type]
    # SIGTERM is how an orchestrator stops a replica: uvicorn stops accepting, lets requests under
    # way finish (at most `grace` seconds), ends the serve loop's chores, then hands the signal
    # back; a stop asked for is a success, so the process exits 0 (also if asked before serving).
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        served,
        host=host,
        port=port,
        log_config=logs.config(json_lines=json_lines, level=settings.log_level),
        access_log=False,  # one line per request from portal.web.ops instead, without the query string
        proxy_headers=False,  # the peer is the client; see CASEVAULT_TRUSTED_PROXIES for /metrics
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds if grace is None else grace,
    )


def _stopped(_signal: int, _frame: object) -> NoReturn:
    raise SystemExit(0)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Copies prepared at once (one ffmpeg each)")] = 2,
) -> None:
    """Run queued jobs (copies, fixity rounds, retention runs, the periodic chores) until SIGTERM
    or Ctrl-C; the jobs in hand finish first. Any number may run, on any number of hosts."""
    from portal.worker import Worker

    wired = _wired()
    with _errors(), wired.engine.connect():
        pass  # a missing or unmigrated database is said now, not logged once a second
    running = Worker(wired, concurrency=concurrency, scheduling=True)

    def stop(signum: int, _frame: object) -> None:
        typer.echo(f"casevault worker: {signal.Signals(signum).name}: finishing the jobs in hand", err=True)
        running.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    typer.echo(f"casevault worker {running.name}: running ({concurrency} copy thread(s))", err=True)
    running.start()
    while any(thread.is_alive() for thread in running.threads):
        running.join(timeout=0.5)
    typer.echo(f"casevault worker {running.name}: stopped", err=True)


@app.command()
def demo() -> None:
    """Create the demo accounts and deposit the demo case, once (what `make run` does first)."""
    from sqlalchemy import select

    from access import applicants, identities
    from access.models import User
    from archive.service import latest_bundle
    from portal.cli import demo as demo_case
    from portal.internal.archive import operations

    wired = _wired()
    with _errors(), wired.sessions() as session:
        for account in demo_case.DEMO_USERS:
            if session.scalar(select(User.id).where(User.username == account["username"])) is None:
                identities.create_user(
                    session,
                    username=account["username"],
                    role=account["role"],
                    actor=_actor(),
                    now=wired.clock(),
                    password=demo_case.DEMO_PASSWORD,
                    display_name=account["name"],
                    clearance=account.get("clearance", "none"),
                    department=account.get("department"),
                )
        if (
            session.scalar(select(User.id).where(User.username == demo_case.DEMO_APPLICANT["username"]))
            is None
        ):
            applicants.register_applicant(
                session,
                **demo_case.DEMO_APPLICANT,
                password=demo_case.DEMO_PASSWORD,
                id_number_key=wired.id_number_key,
                now=wired.clock(),
            )
        session.commit()
        existing = latest_bundle(session, demo_case.DEMO_CASE_NO)
    with _errors():
        if existing is None:
            folder = wired.settings.data_dir / "demo-sip"
            shutil.rmtree(folder, ignore_errors=True)
            demo_case.write_sip(folder, demo_case.case_document(clip_seconds=demo_case.DEMO_CLIP_SECONDS))
            bundle_id = operations.deposit(wired, folder=folder, actor=_actor())["bundle_id"]
        else:
            bundle_id = existing.id
        report = operations.verify(wired, bundle_id=bundle_id, actor=_actor())[0]
        tracking_code = demo_case.file_demo_request(wired)
    typer.echo(
        f"demo case {demo_case.DEMO_CASE_NO}: bundle {bundle_id} ({'intact' if report.intact else 'FAILED'})"
    )
    if tracking_code is not None:
        filer = demo_case.DEMO_APPLICANT["username"]
        typer.echo(f"demo disclosure request {tracking_code}: filed by {filer}, taken by officer")
    typer.echo(f"demo accounts (password {demo_case.DEMO_PASSWORD}):")
    for account in demo_case.DEMO_USERS:
        typer.echo(f"  {account['username']:<11} {account['role']:<19} {account['name']}")
    who = demo_case.DEMO_APPLICANT
    typer.echo(f"  {who['username']:<11} {'applicant':<19} {who['name']} (public portal at /public)")


@app.command("id-number-key")
def id_number_key() -> None:
    """Print the public key that seals applicants' ID numbers, for a separately deployed public portal."""
    from access import id_numbers

    wired = _wired()
    typer.echo(id_numbers.public_key_text(wired.id_number_key))


# What the operator does after each kind of rotation.
_AFTER_ROTATION = {
    "seal": "old seals, checkpoints and exports verify against the JWKS, which lists the retired key",
    "checkpoint": "give the new verifier key to witnesses and monitors (and CASEVAULT_LEDGER_NOTE_VKEY "
    "of a public portal on its own host)",
    "token": "tokens signed with the old secret are accepted until they expire, then not",
    "public-token": "a public portal on its own host needs the same CASEVAULT_PUBLIC_TOKEN_SECRET "
    "if it is configured there",
    "id-number": "a public portal on its own host needs the new CASEVAULT_ID_NUMBER_PUBLIC_KEY",
}


@keys_app.command("rotate")
def keys_rotate(
    kind: Annotated[str, typer.Argument(help="seal, checkpoint, token or id-number")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Make a new current key; the old one is retired (its public half kept) and the rotation ledgered."""
    from portal.internal.system import rotation

    if kind not in rotation.KINDS:
        _fail(f"KIND: {kind!r} is not one of {', '.join(rotation.KINDS)}", EXIT_REFUSED)
    wired = _wired()
    with _errors():
        done = rotation.rotate(wired, kind=kind, actor=_actor())
    lines = []
    for r in done:
        lines.append(f"rotated {r.key} key: {r.old or '-'} -> {r.new} (ledgered)")
        lines += [f"  {name}: {value}" for name, value in r.detail.items()]
        lines.append(f"  next: {_AFTER_ROTATION[r.key]}")
    _emit(as_json, {"rotated": [r.as_json() for r in done]}, lines)


@schedule_app.command("locks")
def schedule_locks(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Extend the store locks that schedule changes lengthened (those a change could not extend at
    once) and renew permanent locks with less than five years left; one bundle at a time."""
    from portal.internal.archive import operations

    wired = _wired()
    with _errors(), _counting("bundles") as progress:
        done = operations.extend_retention_locks(wired, actor=_actor(), progress=progress)
    lines = [f"extended the locks of {done['extended']} bundle(s)"]
    lines += [f"renewed the permanent lock of {bundle_id}" for bundle_id in done["renewed"]]
    _emit(as_json, done, lines)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()


def _as_operator(wired: Any) -> tuple[Any, Context]:
    from access.policy import Context
    from portal.wiring import operator

    return operator(wired, _actor()), Context(now=wired.clock(), source="cli")


@holds_app.command("place")
def holds_place(
    case_no: Annotated[str, typer.Option("--case", help="Case number")],
    mandate: Annotated[
        str, typer.Option(help="行政复议, 行政诉讼, 信访 or 纪检监察 (or the English values)")
    ],
    reason: Annotated[str, typer.Option(help="Why the case is held")],
    title: Annotated[str, typer.Option(help="Title of the hold (default: the case's title)")] = "",
) -> None:
    """Place a legal hold on every version of a case (and the store's legal hold on its objects)."""
    from portal.internal.retention import service as dispositions

    wired = _wired()
    with _errors(), wired.sessions() as session:
        subject, context = _as_operator(wired)
        view = dispositions.place_hold(
            wired,
            session,
            subject=subject,
            context=context,
            case_no=case_no,
            mandate=mandate,
            reason=reason,
            title=title,
        )
        session.commit()
    typer.echo(f"hold {view.id} placed on {view.case_no} ({view.mandate})")


@holds_app.command("lift")
def holds_lift(
    hold_id: Annotated[int, typer.Argument(help="Hold id")],
    reason: Annotated[str, typer.Option(help="Why the hold is lifted")],
) -> None:
    """Lift a hold with a reason."""
    from portal.internal.retention import service as dispositions

    wired = _wired()
    with _errors(), wired.sessions() as session:
        subject, context = _as_operator(wired)
        view = dispositions.lift_hold(
            wired, session, subject=subject, context=context, hold_id=hold_id, reason=reason
        )
        session.commit()
    typer.echo(f"hold {view.id} on {view.case_no} lifted")


@holds_app.command("list")
def holds_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Every hold, active and lifted."""
    from portal.internal.retention import service as dispositions

    wired = _wired()
    with _errors(), wired.sessions() as session:
        subject, context = _as_operator(wired)
        rows = dispositions.list_holds(session, subject=subject, context=context)
        session.commit()
    lines = [
        f"{r['id']:>5} {'active' if r['active'] else 'lifted'}  {r['case_no']}  {r['mandate']}  {r['reason']}"
        for r in rows
    ]
    _emit(as_json, {"holds": rows}, lines or ["no holds"])


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due; carry out nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List every bundle whose retention has ended; carry out approved destructions whose locks expired."""
    from portal.internal.retention import service as dispositions

    wired = _wired()
    with _errors(), wired.sessions() as session:
        subject, context = _as_operator(wired)
        result = dispositions.run(wired, session, subject=subject, context=context, dry_run=dry_run)
    lines = [
        f"due        {d['bundle_id']}  {d['case_no']}  {d['retain_until'][:10]}"
        + (f"  held by {', '.join(map(str, d['held_by']))}" if d["held_by"] else "")
        for d in result["due"]
    ]
    lines += [
        f"open       list {o['id']}  {o['status']}  {o['action']}  {', '.join(o['case_nos'])}"
        for o in result["opened"]
    ]
    lines += [
        f"destroyed  list {d['disposition_id']}  {', '.join(d['case_nos'])}  ({d['certificate_no']})"
        for d in result["destroyed"]
    ]
    _emit(as_json, result, lines or ["nothing is due"])
