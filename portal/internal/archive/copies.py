"""Watermarked download copies over HTTP: prepared as a job with progress, fetched once.

    POST /api/v1/bundles/{bundle_id}/records/{record_id}/copies   → 202 {job_id, status, status_url}
    GET  /api/v1/copies/{job_id}                                  → {status, progress, download_url}
                                                                    (or view_url, for a viewing rendition)
    GET  /api/v1/copies/{job_id}/file                             → the copy, once, to the same user
    GET  /api/v1/bundles/{bundle_id}/records/{record_id}/copy     → the copy in one blocking request

Each step is decided as `record.download` (supervisors need a live grant allowing download)
and ledgered; the delivery's entry carries the fingerprint and the copy's SHA-256.
"""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from access import copy_jobs, policy
from access import watermarks as copies
from access.copy_jobs import Busy, CopyJob
from access.watermarks import Copy, Source
from archive import catalogue
from archive.models import Bundle, BundleFile, CaseRecord
from portal.internal.archive.api import bundle_or_404
from portal.internal.archive.delivery import copies_root, queued, stamp_for, stamped_copy
from portal.internal.archive.schemas import CopyStarted, CopyStatus
from portal.web.api import service_errors
from portal.web.auth import API_CSRF, DB, Caller, Principal, policy_context, wired_of
from portal.web.schemas import ARCHIVED, api_router, errors, file_answer

router = api_router(prefix="/api/v1", tag="copies", dependencies=[API_CSRF])
COPY = file_answer("The watermarked copy, as an attachment", *ARCHIVED)


def _record(session: Session, bundle_id: str, record_id: str) -> tuple[Bundle, CaseRecord, BundleFile]:
    bundle = bundle_or_404(session, bundle_id)
    found = catalogue.find_record(bundle, record_id)
    if found is None:
        raise HTTPException(404, "no such record in this bundle")
    return bundle, *found


def _authorize(
    request: Request, session: Session, caller: Principal, bundle: Bundle, record: CaseRecord
) -> Any:
    context = policy_context(request, session, caller)
    resource = policy.resource_of(bundle, record)
    with service_errors():
        decision = policy.require(
            session,
            subject=caller.subject,
            action=policy.Action.record_download,
            resource=resource,
            context=context,
        )
    return decision, context, resource


def _file(copy: Copy, cleanup: BackgroundTask) -> FileResponse:
    return FileResponse(
        copy.path,
        media_type=copy.media_type,
        filename=copy.file_name,
        headers={"Cache-Control": "private, no-store", "X-Casevault-Fingerprint": copy.fingerprint},
        background=cleanup,
    )


@router.get(
    "/bundles/{bundle_id}/records/{record_id}/copy",
    response_class=FileResponse,
    responses={200: COPY, **errors(401, 403, 404, 409, 422)},
)
def record_copy(
    request: Request, session: DB, caller: Caller, bundle_id: str, record_id: str
) -> FileResponse:
    """Make and send a watermarked copy in one request (blocks while footage is re-encoded)."""
    bundle, record, stored = _record(session, bundle_id, record_id)
    decision, context, resource = _authorize(request, session, caller, bundle, record)
    copy, workdir = stamped_copy(
        request,
        session,
        caller,
        record_=record,
        stored=stored,
        resource=resource,
        decision=decision,
        context=context,
        action=policy.Action.record_download,
        outcome="delivered",
    )
    return _file(copy, BackgroundTask(shutil.rmtree, workdir, ignore_errors=True))


@router.post(
    "/bundles/{bundle_id}/records/{record_id}/copies",
    status_code=202,
    response_model=CopyStarted,
    responses=errors(401, 403, 404, 413, 422, 429),
)
def start_copy(request: Request, session: DB, caller: Caller, bundle_id: str, record_id: str) -> JSONResponse:
    """Start preparing a watermarked copy → 202 {job_id, status, status_url}."""
    bundle, record, stored = _record(session, bundle_id, record_id)
    decision, context, resource = _authorize(request, session, caller, bundle, record)
    stamp = stamp_for(request, caller, decision)
    try:
        job_id = copy_jobs.start(
            session,
            owner_id=caller.user.id,
            bundle_id=bundle.id,
            record_id=record.record_id,
            source=Source.of(record, stored),
            stamp=stamp,
            now=context.now,
        )
    except Busy as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": "30"}) from exc
    assert job_id is not None, "only renditions are keyed"
    copies.ledger_copy(
        session,
        subject=caller.subject,
        context=context,
        resource=resource,
        decision=decision,
        outcome="preparing",
        fingerprint=stamp.fingerprint,
        job=job_id,
    )
    session.commit()  # the job with its ledger entry, or neither
    queued(request)
    status_url = f"/api/v1/copies/{job_id}"
    return JSONResponse(
        {"job_id": job_id, "status": "queued", "status_url": status_url},
        status_code=202,
        headers={"Location": status_url},
    )


def _job(request: Request, session: Session, caller: Principal, job_id: str) -> CopyJob:
    now = wired_of(request).clock()
    job = copy_jobs.get(session, job_id, owner_id=caller.user.id, now=now, root=copies_root(request))
    session.commit()
    if job is None:
        raise HTTPException(
            404, "no such copy job (they are kept for an hour, for the user who started them)"
        )
    return job


@router.get("/copies/{job_id}", response_model=CopyStatus, responses=errors(401, 404, 422))
def copy_status(request: Request, session: DB, caller: Caller, job_id: str) -> dict[str, Any]:
    """How far a copy is: {status, progress 0..1, download_url once ready}."""
    job = _job(request, session, caller, job_id)
    ready = job.status == "ready" and job.view_url is None  # a rendition is watched, not downloaded
    return job.as_json() | {"download_url": f"/api/v1/copies/{job.id}/file" if ready else None}


@router.get(
    "/copies/{job_id}/file",
    response_class=FileResponse,
    responses={200: COPY, **errors(401, 403, 404, 409, 410, 422)},
)
def copy_file(request: Request, session: DB, caller: Caller, job_id: str) -> FileResponse:
    """The prepared copy, once, to the user who asked for it; the grant is checked again."""
    job = _job(request, session, caller, job_id)
    if job.view_url is not None:
        raise HTTPException(409, f"this job prepares footage for viewing at {job.view_url}, not a copy")
    if job.status == "delivered":
        raise HTTPException(410, "this copy was already downloaded; prepare a new one")
    if job.status != "ready" or job.copy is None:
        raise HTTPException(409, f"the copy is {job.status}, not ready")
    bundle, record, _stored = _record(session, job.bundle_id, job.record_id)
    decision, context, resource = _authorize(request, session, caller, bundle, record)
    if not copy_jobs.deliver(session, job_id=job.id):
        session.rollback()
        raise HTTPException(410, "this copy was already downloaded; prepare a new one")
    copies.ledger_copy(
        session,
        subject=caller.subject,
        context=context,
        resource=resource,
        decision=decision,
        outcome="delivered",
        fingerprint=job.fingerprint,
        copy=job.copy,
        job=job.id,
    )
    session.commit()
    return _file(job.copy, BackgroundTask(copy_jobs.discard, job))
