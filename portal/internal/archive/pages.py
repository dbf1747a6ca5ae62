"""The archive's pages (案卷): the catalogue, a case with its timeline, a record in the viewer."""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import PurePosixPath

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from access import discovery
from access.copy_jobs import CopyJob
from access.policy import Action, decide, permits, resource_of
from archive import catalogue
from archive.errors import Refused
from archive.models import Bundle
from portal.internal.archive import api, delivery
from portal.web import api as web_api
from portal.web import auth, charts
from portal.web.api import Denied, guard
from portal.web.auth import DB, PAGE_CSRF, Principal, wired_of
from portal.web.i18n import choose_lang, finding_message, label, local_time, refusal, translate
from portal.web.pages import PageCaller, PageRoute, error_page, page, start_page
from retention import audits

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])


SEARCH_FIELDS = ("case_no", "party", "from", "to")


def _search_page(request: Request, session: Session, caller: Principal) -> Response:
    """Find a case to ask for (检索): by number, party or closing dates; metadata only, ledgered.
    Below it, the cases the caller may open now (under a grant)."""
    lang, _ = choose_lang(request)
    form = {name: request.query_params.get(name, "").strip() for name in SEARCH_FIELDS}
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        try:
            days[name] = date.fromisoformat(form[name]) if form[name] else None
        except ValueError:
            errors[name] = translate(lang, "discovery.err.date", value=form[name])
    found: list[discovery.FoundCase] | None = None
    if not errors and any(form.values()):
        try:
            found = api.search(
                request,
                session,
                caller,
                case_no=form["case_no"],
                party=form["party"],
                closed_from=days["from"],
                closed_to=days["to"],
            )
        except Refused as exc:
            session.rollback()
            name, message = web_api.refused_field(exc, known=SEARCH_FIELDS, default="case_no")
            errors[name] = refusal(lang, exc, message)
    listed = api.cases(request, session, caller)
    return page(
        request,
        "archive/search.html",
        status=422 if errors else 200,
        form=form,
        errors=errors,
        found=found,
        limited=found is not None and len(found) >= discovery.MAX_RESULTS,
        granted=listed["cases"],
    )


@router.get("/")
def catalogue_page(request: Request, session: DB, caller: PageCaller, q: str = "") -> Response:
    """The cases the caller may know of, searchable; supervisors find cases to ask for; a role that
    lists no cases goes to its own start page instead."""
    if not permits(caller.subject, Action.case_list):
        return RedirectResponse(start_page(caller.user.role), status_code=303)
    if permits(caller.subject, Action.case_search):
        return _search_page(request, session, caller)
    listed = api.cases(request, session, caller, q=q.strip() or None)
    found = listed["cases"]
    lang, _ = choose_lang(request)
    for case in found:
        if case["withheld"]:
            case["title"] = translate(lang, "withheld.title")
    return page(request, "archive/catalogue.html", cases=found, destroyed=listed["destroyed"], q=q)


def _record_path(bundle_id: str, record_id: str) -> str:
    """The page of one record."""
    return f"/bundles/{bundle_id}/records/{record_id}"


def viewable(request: Request, session: Session, caller: Principal, bundle: Bundle) -> set[str]:
    """Ids of the records the caller may open (the policy's answer, not ledgered until opened)."""
    context = auth.policy_context(request, session, caller)
    return {
        r.record_id
        for r in bundle.records
        if decide(caller.subject, Action.record_view, resource_of(bundle, r), context).allowed
    }


@router.get("/bundles/{bundle_id}")
def bundle_page(request: Request, session: DB, caller: PageCaller, bundle_id: str) -> Response:
    """A case: header, timeline picture and table, records, findings."""
    detail = api.bundle_detail(request, session, caller, bundle_id)
    bundle = api.bundle_or_404(session, bundle_id)
    openable = viewable(request, session, caller, bundle)
    lang, _ = choose_lang(request)
    if detail["withheld"]:
        detail["title"] = translate(lang, "withheld.title")
    detail["findings"] = [{**f, "message": finding_message(lang, f)} for f in detail["findings"]]
    picture = charts.build(
        detail["case_no"],
        detail["records"],
        detail["findings"],
        href=lambda rid: _record_path(bundle.id, rid) if rid in openable else None,
        article=lambda n: translate(lang, "finding.article", n=n),
    )
    return page(
        request,
        "archive/bundle.html",
        detail=detail,
        openable=openable,
        picture=picture,
        drawing=charts.timeline_drawing(picture, partial(translate, lang)),
        stages=charts.STAGES,
        record_path=_record_path,
        audit=audits.last_audit(session, bundle_id=bundle.id),
    )


@router.get("/bundles/{bundle_id}/records/{record_id}")
def record_page(
    request: Request, session: DB, caller: PageCaller, bundle_id: str, record_id: str
) -> Response:
    """Open a record (ledgered): PDF inline or video streamed, under a watermark naming the viewer."""
    bundle = api.bundle_or_404(session, bundle_id)
    found = catalogue.find_record(bundle, record_id)
    if found is None:  # whether a record exists is the bundle's metadata
        guard(request, session, caller, Action.bundle_read, resource_of(bundle))
        raise HTTPException(404, "no such record in this bundle")
    record, stored = found
    resource = resource_of(bundle, record)
    try:
        decision = guard(request, session, caller, Action.record_view, resource)
    except Denied as exc:
        return error_page(request, 403, exc.detail, retrieval=True, bundle_id=bundle_id, record_id=record_id)
    lang, _ = choose_lang(request)
    user = caller.user
    unit = label(lang, "department", user.department) if user.department else label(lang, "role", user.role)
    content = request.app.url_path_for("record_content", bundle_id=bundle.id, record_id=record.record_id)
    context = auth.policy_context(request, session, caller)
    # Without the original the viewer sees a copy marked on the server: footage waits for its
    # rendition (this starts it); what cannot be marked is not shown at all.
    original = delivery.gets_original(caller, resource, context)
    preparing = None
    if not original and record.kind == "av":
        prepared = delivery.rendition_or_job(
            request,
            session,
            caller,
            bundle=bundle,
            record_=record,
            stored=stored,
            resource=resource,
            decision=decision,
            context=context,
        )
        preparing = prepared if isinstance(prepared, CopyJob) else None
    return page(
        request,
        "archive/record.html",
        bundle=bundle,
        record=record,
        file_name=PurePosixPath(stored.path).name,
        is_pdf=stored.path.lower().endswith(".pdf"),
        content_url=str(content),
        viewable=original or delivery.markable(record, stored),
        preparing=preparing,
        can_download=original,
        can_copy=decide(caller.subject, Action.record_download, resource, context).allowed,
        watermark=translate(
            lang,
            "record.watermark",
            user=user.username,
            unit=unit,
            time=local_time(wired_of(request).clock(), seconds=True),
        ),
    )
