"""The archive's JSON API (`/api/v1`): the catalogue, a bundle's metadata, a record's content —
the contract in docs/design.md, every access through the policy."""

from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from access import discovery
from access.policy import (
    Action,
    above_clearance,
    collection,
    decide,
    enforce,
    resource_of,
)
from archive import catalogue
from archive.errors import UnknownBundle
from archive.models import Bundle, CaseRecord
from archive.service import get_bundle
from portal.internal.archive.delivery import deliver_record
from portal.internal.archive.schemas import BundleDetail, CaseList, CaseSearch, CopyPreparing
from portal.internal.retention import service as dispositions
from portal.web.api import Denied, guard, service_errors
from portal.web.auth import (
    API_CSRF,
    DB,
    Caller,
    Principal,
    policy_context,
    wired_of,
)
from portal.web.i18n import translate
from portal.web.schemas import ARCHIVED, PARTIAL, api_router, errors, file_answer
from retention import service as retention

router = api_router(prefix="/api/v1", tag="internal", dependencies=[API_CSRF])
# What stands for a title above the caller's clearance; pages show it in the reader's language.
WITHHELD_TITLE = translate("zh", "withheld.title")


def bundle_or_404(session: Session, bundle_id: str) -> Bundle:
    """A sealed bundle, or 404 for unknown and malformed ids alike."""
    try:
        return get_bundle(session, bundle_id)
    except UnknownBundle as exc:
        raise HTTPException(404, "no such bundle") from exc


def visible_records(
    request: Request, session: Session, caller: Principal, bundle: Bundle
) -> list[CaseRecord]:
    """Records whose metadata the caller may see (same rules as viewing, not ledgered one by one)."""
    context = policy_context(request, session, caller)
    return [
        r
        for r in bundle.records
        if decide(caller.subject, Action.bundle_read, resource_of(bundle, r), context).allowed
    ]


@router.get("/cases", response_model=CaseList, responses=errors(401, 403, 422))
def cases(request: Request, session: DB, caller: Caller, q: str | None = None) -> dict[str, Any]:
    """Cases the caller may know of: metadata only."""
    guard(request, session, caller, Action.case_list, collection("catalogue"))
    context = policy_context(request, session, caller)
    found, destroyed = [], []
    rows = catalogue.search_cases(session, q=q)
    stones = dispositions.destroyed(session, [bundle.id for _case, bundle in rows])
    for case, bundle in rows:
        resource = resource_of(bundle)
        decision = decide(caller.subject, Action.bundle_read, resource, context)
        withheld = above_clearance(caller.subject, resource, context, decision)
        if not decision.allowed and not withheld:
            continue
        if withheld and q and q.strip().lower() not in case.case_no.lower():
            continue  # matched by its title: listing it would answer what the title says
        if (stone := stones.get(bundle.id)) is not None:  # reported apart: nothing of it is left to read
            destroyed.append(
                {
                    "case_no": case.case_no,
                    "title": WITHHELD_TITLE if withheld else case.title,
                    "bundle_id": bundle.id,
                    "version": bundle.version,
                    "destroyed_at": stone.destroyed_at.isoformat(),
                    "certificate_no": stone.certificate_no,
                }
            )
            continue
        found.append(
            {
                "case_no": case.case_no,
                "title": WITHHELD_TITLE if withheld else case.title,
                "withheld": withheld,
                "enforcement_type": case.enforcement_type,
                "closed_at": case.closed_at.isoformat(),
                "bundle_id": bundle.id,
                "version": bundle.version,
                "classification": bundle.classification,
                "grade": bundle.grade,
            }
        )
    return {"cases": found, "destroyed": destroyed}


def search(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    case_no: str | None,
    party: str | None,
    closed_from: date | None,
    closed_to: date | None,
) -> list[discovery.FoundCase]:
    """Search the catalogue as the caller (ledgered, committed); a policy refusal is 403."""
    with service_errors():
        found = discovery.search_cases(
            session,
            subject=caller.subject,
            context=policy_context(request, session, caller),
            case_no=case_no,
            party=party,
            closed_from=closed_from,
            closed_to=closed_to,
        )
    session.commit()
    return found


@router.get("/cases/search", response_model=CaseSearch, responses=errors(401, 403, 422))
def case_search(
    request: Request,
    session: DB,
    caller: Caller,
    case_no: str | None = None,
    party: str | None = None,
    closed_from: Annotated[date | None, Query(alias="from")] = None,
    closed_to: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Find a case to ask for (检索) by case number, party or closing date (`from`, `to`, inclusive):
    case metadata only, never a record; each search is ledgered. 422 names the field."""
    found = search(
        request, session, caller, case_no=case_no, party=party, closed_from=closed_from, closed_to=closed_to
    )
    return {"cases": [f.as_json() for f in found], "limited": len(found) >= discovery.MAX_RESULTS}


@router.get("/bundles/{bundle_id}", response_model=BundleDetail, responses=errors(401, 403, 404, 422))
def bundle_detail(request: Request, session: DB, caller: Caller, bundle_id: str) -> dict[str, Any]:
    """Bundle metadata, the records the caller may see with their classification, and findings."""
    bundle = bundle_or_404(session, bundle_id)
    resource, context = resource_of(bundle), policy_context(request, session, caller)
    decision = enforce(
        session, subject=caller.subject, action=Action.bundle_read, resource=resource, context=context
    )
    session.commit()
    withheld = above_clearance(caller.subject, resource, context, decision)
    if not decision.allowed and not withheld:
        raise Denied(decision)
    records = visible_records(request, session, caller, bundle)
    shown = {r.record_id for r in records}
    disposition = retention.bundle_disposition(
        session=session, bundle=bundle, default_years=wired_of(request).settings.retention_years
    )
    return {
        "bundle_id": bundle.id,
        "case_no": bundle.case.case_no,
        "title": WITHHELD_TITLE if withheld else bundle.case.title,
        "withheld": withheld,
        "version": bundle.version,
        "previous_bundle_id": bundle.previous_id,
        "sealed_at": bundle.sealed_at.isoformat(),
        "sealed_by": bundle.sealed_by,
        "seal_digest": bundle.seal_digest,
        "classification": bundle.classification,
        "grade": bundle.grade,
        "retain_until": bundle.retain_until.isoformat(),
        # the bundle's own date (the schedule's, or an appraisal's); None: kept permanently
        "disposition_date": None if disposition.permanent else bundle.retain_until.isoformat(),
        "retention_rule": disposition.as_json(),
        "records": [
            {
                "record_id": r.record_id,
                "title": r.title,
                "kind": r.kind,
                "doc_type": r.doc_type,
                "stage": r.stage,
                "created_at": r.created_at.isoformat(),
                "classification": r.classification,
                "grade": r.grade,
                "file_name": PurePosixPath(r.path).name,
                "av": r.av,
            }
            for r in records
        ],
        "withheld_records": len(bundle.records) - len(records),
        # a finding quotes what it is about: none above clearance, none on a record not shown
        "findings": []
        if withheld
        else [f for f in bundle.findings if not f.get("record_id") or f["record_id"] in shown],
    }


@router.get(
    "/bundles/{bundle_id}/records/{record_id}/content",
    response_class=Response,
    responses={
        200: file_answer("The record's bytes: the original, a stamped PDF or a rendition", *ARCHIVED),
        202: {"model": CopyPreparing, "description": "Accepted: the rendition is being prepared"},
        206: PARTIAL,
        **errors(401, 403, 404, 409, 416, 422, 429),
    },
)
def record_content(
    request: Request,
    session: DB,
    caller: Caller,
    bundle_id: str,
    record_id: str,
    download: bool = False,
) -> Response:
    """The record's bytes as the caller may have them (portal.delivery): the original streamed
    with a single Range (206, 416 past the end), a stamped PDF, or footage's watermarked rendition
    (202 with a status URL until it is ready).

    The policy decides (and the ledger records) before the record's existence, size or Range is
    looked at: whoever may not read it learns nothing of it, not even from a 416."""
    bundle = bundle_or_404(session, bundle_id)
    found = catalogue.find_record(bundle, record_id)
    if found is None:  # whether a record exists is the bundle's metadata
        guard(request, session, caller, Action.bundle_read, resource_of(bundle))
        raise HTTPException(404, "no such record in this bundle")
    record, stored = found
    with service_errors():
        return deliver_record(
            request,
            session,
            caller,
            bundle=bundle,
            record_=record,
            stored=stored,
            resource=resource_of(bundle, record),
            download=download,
        )
