"""What a viewer receives of a sealed record (查阅): the original, or a copy marked for them.

Only those the policy lets have the original (`record.original`: archive staff cleared for the
record) receive the sealed bytes, with Range. Everyone else who may view — supervisors inside a
retrieval grant, disclosure officers — receives a copy marked on the server: a PDF stamped for
this view (grant, viewer, time and fingerprint on every page; `Accept-Ranges: none`), or footage
from a watermarked rendition made once per grant and record by a copy job (202 with a status
URL while it is prepared, then Range and seeking on the rendition). Other types cannot be
marked, and are refused to them. The decision comes before any byte, size or range is looked
at, and every delivery is ledgered as what it was.
"""

from __future__ import annotations

import contextlib
import functools
import mimetypes
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from access import copy_jobs
from access import watermarks as copies
from access.copy_jobs import Busy, CopyJob
from access.ledger import LedgerEntry
from access.policy import Action, Context, Decision, Resource, decide, record, require
from access.renditions import Renditions, holder_key
from access.watermarks import Copy, Source, Stamp
from archive.errors import ArchiveError, ObjectMissing, StoreUnavailable
from archive.models import Bundle, BundleFile, CaseRecord
from portal import worker
from portal.web.auth import Principal, policy_context, wired_of
from portal.web.ranges import content_headers, stream_object, wanted_range

# A rendition made for a viewer acting by role (no grant to end it) is kept this long.
ROLE_RENDITION_DAYS = 1
CHUNK = 1 << 20
_registry_lock = threading.Lock()
_rendition_lock = threading.Lock()


def copies_root(request: Request) -> Path:
    """The copies folder every host shares (made on first use): copies are prepared there."""
    root = wired_of(request).settings.resolved_copies_dir
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def renditions_of(request: Request) -> Renditions:
    """This app's viewing renditions (in the shared copies folder), made on first use."""
    state = request.app.state
    with _registry_lock:
        if getattr(state, "renditions", None) is None:
            state.renditions = Renditions(copies_root(request) / copy_jobs.RENDITIONS)
    return state.renditions


def queued(request: Request) -> None:
    """A copy job was committed: have a worker look for it now."""
    worker.kick(request.app.state, wired_of(request))


def stamp_for(request: Request, caller: Principal, decision: Decision) -> Stamp:
    """A fresh stamp naming the caller, the grant the decision used, and now."""
    return Stamp.of(
        caller.subject,
        name=caller.user.display_name,
        grant_id=decision.grant_id,
        at=wired_of(request).clock(),
        fingerprint=copies.new_fingerprint(),
    )


def gets_original(caller: Principal, resource: Resource, context: Context) -> bool:
    """Whether the policy lets the caller have the sealed bytes themselves."""
    return decide(caller.subject, Action.record_original, resource, context).allowed


def markable(record: CaseRecord, stored: BundleFile) -> bool:
    """Whether a marked copy of the record can be made for viewing (footage and PDFs)."""
    return record.kind == "av" or stored.path.lower().endswith(".pdf")


def _refuse_unmarkable(stored: BundleFile) -> HTTPException:
    return HTTPException(
        403,
        {
            "rule": "watermarked-view",
            "reason": f"{PurePosixPath(stored.path).name} cannot be watermarked, so it is shown only "
            "to archive staff cleared for the original (只有可加水印的 PDF 和音像记录可供调阅)",
        },
    )


def _asked(
    request: Request, size: int
) -> tuple[tuple[int, int] | None, HTTPException | None, dict[str, Any]]:
    """The range asked for, the 416 to answer instead (ledgered first), and the ledger's note."""
    try:
        wanted = wanted_range(request.headers.get("range"), size)
    except HTTPException as exc:
        return None, exc, {"range": (request.headers.get("range") or "")[:40]}
    return wanted, None, {"range": f"{wanted[0]}-{wanted[1]}"} if wanted else {}


def _original(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    bundle: Bundle,
    record_: CaseRecord,
    stored: BundleFile,
    resource: Resource,
    action: Action,
    decision: Decision,
    context: Context,
    download: bool,
) -> Response:
    wanted, unsatisfiable, noted = _asked(request, stored.size)
    name = PurePosixPath(stored.path).name
    media_type, shown = content_headers(
        mimetypes.guess_type(name)[0] or "application/octet-stream", name, download=download
    )
    store = wired_of(request).store
    with _ledgered_read(
        session,
        subject=caller.subject,
        action=action,
        resource=resource,
        context=context,
        decision=decision,
        detail={"original": True, **noted},
    ) as outcome:
        if unsatisfiable:
            outcome[0] = "unsatisfiable"
            raise unsatisfiable
        return stream_object(  # opens the object, so a damaged or absent store is ledgered as such
            functools.partial(store.read, stored.key, version_id=stored.version_id),
            size=stored.size,
            wanted=wanted,
            media_type=media_type,
            headers={
                "ETag": f'"{bundle.seal_digest}.{record_.record_id}"',
                "Cache-Control": "private, no-store",
                **shown,
            },
        )


def _store_outcome(exc: BaseException) -> str:
    """How a read of the store went wrong, as the ledger says it."""
    if isinstance(exc, ObjectMissing):
        return "damaged"
    return "unavailable" if isinstance(exc, StoreUnavailable) else "failed"


@contextlib.contextmanager
def _ledgered_read(session: Session, **entry: Any) -> Iterator[list[str]]:
    """Ledger an allowed read with its true outcome — `allowed`, `damaged` (the store lacks the
    object), `unavailable` (the store is down) or `failed` — committed before a byte leaves. The
    body may set another outcome in the list it is given."""
    outcome = ["allowed"]
    try:
        yield outcome
    except Exception as exc:
        if outcome[0] == "allowed":
            outcome[0] = _store_outcome(exc)
        raise
    finally:
        record(session, outcome=outcome[0], **entry)
        session.commit()


def known_bad(session: Session, *, bundle: Bundle, stored: BundleFile) -> bool:
    """Whether the bundle's most recent verify failed naming this file (a later intact one clears it)."""
    # Walks ix_ledger_entries_action_seq backwards over verify entries only: reads never pass here.
    # A refused verify looked at nothing, so it neither finds nor clears damage.
    last = session.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.action == Action.bundle_verify.value,
            LedgerEntry.bundle_id == bundle.id,
            LedgerEntry.outcome.in_(("intact", "failed")),
        )
        .order_by(LedgerEntry.seq.desc())
        .limit(1)
    ).first()
    return last is not None and last.outcome == "failed" and stored.path in last.detail.get("failures", [])


def _file_chunks(path: Path, start: int = 0, length: int | None = None) -> Iterator[bytes]:
    left = path.stat().st_size - start if length is None else length
    with path.open("rb") as handle:
        handle.seek(start)
        while left > 0 and (chunk := handle.read(min(CHUNK, left))):
            left -= len(chunk)
            yield chunk


def stamped_copy(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    record_: CaseRecord,
    stored: BundleFile,
    resource: Resource,
    decision: Decision,
    context: Context,
    action: Action,
    outcome: str,
) -> tuple[Copy, Path]:
    """A copy stamped for the caller now, and ledgered; the working folder it lies in is the
    caller's to remove once sent. A sealed file the store cannot give is ledgered as such."""
    stamp = stamp_for(request, caller, decision)
    session.commit()  # hold no transaction open while the copy is made
    workdir = Path(tempfile.mkdtemp(prefix="copy-", dir=copies_root(request)))
    facts: dict[str, Any] = {"subject": caller.subject, "resource": resource, "decision": decision}
    try:
        copy = copies.make_copy(
            store=wired_of(request).store, source=Source.of(record_, stored), stamp=stamp, workdir=workdir
        )
        copies.ledger_copy(
            session,
            context=context,
            outcome=outcome,
            fingerprint=stamp.fingerprint,
            copy=copy,
            action=action,
            **facts,
        )
        session.commit()
    except BaseException as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(exc, ObjectMissing | StoreUnavailable):
            record(session, action=action, outcome=_store_outcome(exc), context=context, **facts)
            session.commit()
        raise
    return copy, workdir


def _stamped_pdf(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    record_: CaseRecord,
    stored: BundleFile,
    resource: Resource,
    decision: Decision,
    context: Context,
) -> Response:
    copy, workdir = stamped_copy(
        request,
        session,
        caller,
        record_=record_,
        stored=stored,
        resource=resource,
        decision=decision,
        context=context,
        action=Action.record_view,
        outcome="allowed",
    )
    media_type, shown = content_headers(copy.media_type, PurePosixPath(stored.path).name, download=False)
    headers = {
        "Accept-Ranges": "none",  # every view is stamped anew: there is no stable body to seek in
        "Content-Length": str(copy.size),
        "Cache-Control": "private, no-store",
        "X-Casevault-Fingerprint": copy.fingerprint,
        **shown,
    }
    return StreamingResponse(
        _file_chunks(copy.path),
        media_type=media_type,
        headers=headers,
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )


def rendition_or_job(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    bundle: Bundle,
    record_: CaseRecord,
    stored: BundleFile,
    resource: Resource,
    decision: Decision,
    context: Context,
) -> Copy | CopyJob:
    """The caller's finished rendition of the footage, or the job preparing it (queued if none
    is); a view that has to wait is ledgered as `preparing`, one whose job failed as `failed`."""
    renditions = renditions_of(request)
    holder = f"grant-{decision.grant_id}" if decision.grant_id else f"user-{caller.user.id}"
    key = holder_key(bundle_id=bundle.id, record_id=record_.record_id, holder=holder)
    ready = renditions.get(key, now=context.now)
    if ready is not None:
        return ready
    with _rendition_lock:  # two first views at once queue one job, not two (the key does so across hosts)
        job = copy_jobs.preparing_rendition(
            session, key=key, owner_id=caller.user.id, now=context.now, root=copies_root(request)
        )
        # A job this view queues is answered as preparing whatever a worker has done meanwhile:
        # the first view waits, the next one learns how it ended.
        known = job is not None
        if job is None:  # none yet, or forgotten: an hour after it started, or after it failed
            job = _start_rendition(
                request,
                session,
                caller,
                key=key,
                bundle=bundle,
                record_=record_,
                stored=stored,
                decision=decision,
                context=context,
            )
        if known and job.status == "ready" and job.copy is not None:
            return job.copy  # published a moment ago, or about to expire with its grant
        failed = known and job.status == "failed"
        if failed:
            copy_jobs.forget(session, job_id=job.id)  # say why once; the next view tries again
        copies.ledger_copy(
            session,
            subject=caller.subject,
            context=context,
            resource=resource,
            decision=decision,
            outcome="failed" if failed else "preparing",
            fingerprint=job.fingerprint,
            job=job.id,
            action=Action.record_view,
        )
        session.commit()  # the job, if queued now, with its ledger entry
    if failed:
        raise ArchiveError(f"the watermarked footage could not be made: {job.error}")
    if not known:
        queued(request)
    return job


def _start_rendition(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    key: str,
    bundle: Bundle,
    record_: CaseRecord,
    stored: BundleFile,
    decision: Decision,
    context: Context,
) -> CopyJob:
    grant = next((g for g in context.grants if g.grant_id == decision.grant_id), None)
    expires_at = grant.expires_at if grant else context.now + timedelta(days=ROLE_RENDITION_DAYS)
    try:
        job_id = copy_jobs.start(
            session,
            owner_id=caller.user.id,
            bundle_id=bundle.id,
            record_id=record_.record_id,
            source=Source.of(record_, stored),
            stamp=stamp_for(request, caller, decision),
            now=context.now,
            view_url=str(
                request.app.url_path_for("record_content", bundle_id=bundle.id, record_id=record_.record_id)
            ),
            rendition=key,
            expires_at=expires_at,
        )
    except Busy as exc:
        session.rollback()
        raise HTTPException(429, str(exc), headers={"Retry-After": "30"}) from exc
    if job_id is None:  # another view queued it a moment ago, on another host
        job_id = copy_jobs.rendition_job_id(session, key=key)
    found = job_id and copy_jobs.get(
        session, job_id, owner_id=caller.user.id, now=context.now, root=copies_root(request)
    )
    if not found:
        raise HTTPException(
            429, "copies: this footage is being prepared; try again", headers={"Retry-After": "5"}
        )
    return found


def _preparing(job: CopyJob) -> JSONResponse:
    status_url = f"/api/v1/copies/{job.id}"
    return JSONResponse(
        job.as_json() | {"status_url": status_url},
        status_code=202,
        headers={"Location": status_url, "Retry-After": "2", "Cache-Control": "no-store"},
    )


def _rendition(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    rendition: Copy,
    stored: BundleFile,
    resource: Resource,
    decision: Decision,
    context: Context,
) -> Response:
    wanted, unsatisfiable, noted = _asked(request, rendition.size)
    copies.ledger_copy(
        session,
        subject=caller.subject,
        context=context,
        resource=resource,
        decision=decision,
        outcome="unsatisfiable" if unsatisfiable else "allowed",
        fingerprint=rendition.fingerprint,
        copy=rendition,
        action=Action.record_view,
        extra=noted,
    )
    session.commit()
    if unsatisfiable:
        raise unsatisfiable
    name = PurePosixPath(stored.path).with_suffix(".mp4").name
    media_type, shown = content_headers(rendition.media_type, name, download=False)
    return stream_object(
        functools.partial(_file_chunks, rendition.path),
        size=rendition.size,
        wanted=wanted,
        media_type=media_type,
        headers={
            "ETag": f'"{rendition.sha256}"',
            "Cache-Control": "private, no-store",
            "X-Casevault-Fingerprint": rendition.fingerprint,
            **shown,
        },
    )


def deliver_record(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    bundle: Bundle,
    record_: CaseRecord,
    stored: BundleFile,
    resource: Resource,
    download: bool,
) -> Response:
    """A record's bytes for this caller, decided first: the original (Range honoured) only with
    `record.original`; otherwise a stamped PDF, the watermarked rendition (202 until it is ready),
    or a refusal. Raises `policy.Denied` (already ledgered) when the policy refuses, and
    `ObjectMissing` (ledgered `damaged`) when the last verify found the file bad."""
    context = policy_context(request, session, caller)
    action = Action.record_original if download else Action.record_view
    decision = require(session, subject=caller.subject, action=action, resource=resource, context=context)
    facts: dict[str, Any] = {"resource": resource, "decision": decision, "context": context}
    if known_bad(session, bundle=bundle, stored=stored):  # no copy or rendition of bytes known bad
        record(session, subject=caller.subject, action=action, outcome="damaged", **facts)
        session.commit()
        raise ObjectMissing(f"{stored.path} failed the last verify of bundle {bundle.id}")
    if download or gets_original(caller, resource, context):
        return _original(
            request,
            session,
            caller,
            bundle=bundle,
            record_=record_,
            stored=stored,
            action=action,
            download=download,
            **facts,
        )
    if not markable(record_, stored):
        record(session, subject=caller.subject, action=action, outcome="unmarkable", **facts)
        session.commit()
        raise _refuse_unmarkable(stored)
    if record_.kind != "av":
        return _stamped_pdf(request, session, caller, record_=record_, stored=stored, **facts)
    found = rendition_or_job(request, session, caller, bundle=bundle, record_=record_, stored=stored, **facts)
    if isinstance(found, CopyJob):
        return _preparing(found)
    return _rendition(request, session, caller, rendition=found, stored=stored, **facts)
