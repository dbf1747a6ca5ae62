"""The retention schedule pages (保管期限表): the rules in force, their versions and the bundles
each change moved; system administrators change it.

A change is decided by the policy, made by `retention.service.edit_schedule` and ledgered in one
transaction; the locks it lengthens are extended right after the commit (`extend_locks`, which
`casevault schedule locks` resumes after an interruption).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import policy
from access.policy import Action, Context, Decision, collection, permits
from archive.errors import ArchiveError, Refused
from archive.sip import DocType, EnforcementType
from portal.web import api as web_api
from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, Principal, wired_of
from portal.web.i18n import choose_lang, refusal, translate
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import whole_number
from retention import service as retention
from retention.models import RetentionRule
from retention.schedule import KINDS, Event, RuleSpec, Term

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])
SCHEDULE = collection("retention")
FIELDS = (
    "change",
    "code",
    "title",
    "enforcement_type",
    "kind",
    "doc_type",
    "evidence",
    "term",
    "count",
    "counts_from",
    "basis",
    "reason",
)
EVIDENCE = {"": None, "yes": True, "no": False}


def _allowed(
    request: Request, session: Session, caller: Principal, action: Action
) -> tuple[Decision, Context]:
    """The policy's decision on the schedule; a refusal is ledgered and answered 403."""
    context = auth.policy_context(request, session, caller)
    with web_api.service_errors():
        decision = policy.require(
            session, subject=caller.subject, action=action, resource=SCHEDULE, context=context
        )
    return decision, context


def _choice(value: str, allowed: Any, field: str) -> str | None:
    """A form choice: empty for "any", else one of `allowed`; a refusal names the field."""
    if not value:
        return None
    if value not in set(allowed):
        raise Refused(f"{field}: unknown value {value!r}", code="schedule.unknown_value", value=value)
    return value


def rule_of(form: dict[str, str]) -> RuleSpec:
    """The rule the form describes (its code is given by the change); refusals name the field."""
    if form["term"] not in set(Term):
        raise Refused("term: choose permanent, years, months or with the case file", code="schedule.term")
    if form["evidence"] not in EVIDENCE:
        raise Refused("evidence: yes, no, or any", code="schedule.evidence")
    if form["counts_from"] not in set(Event):
        raise Refused("counts_from: closing of the case or making of the record", code="schedule.counts_from")
    count = form["count"].strip()
    if count and whole_number(count) is None:
        raise Refused("count: a whole number of years or months", code="schedule.count")
    return RuleSpec(
        code="",
        title=form["title"],
        enforcement_type=_choice(form["enforcement_type"], EnforcementType, "enforcement_type"),
        kind=_choice(form["kind"], KINDS, "kind"),
        doc_type=_choice(form["doc_type"], DocType, "doc_type"),
        evidence=EVIDENCE[form["evidence"]],
        term=Term(form["term"]),
        count=int(count) if count else None,
        counts_from=Event(form["counts_from"]),
        basis=form["basis"],
    )


def _empty_form() -> dict[str, str]:
    return {name: "" for name in FIELDS} | {"change": "add", "term": "years", "counts_from": "closed_at"}


def _schedule_page(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    settings = wired_of(request).settings
    shown = retention.versions(session)
    return page(
        request,
        "retention/schedule.html",
        status=status,
        current=shown[0] if shown else None,
        versions=shown,
        default_years=settings.retention_years,
        permanent_years=retention.PERMANENT_LOCK_YEARS,
        may_edit=permits(caller.subject, Action.retention_schedule_edit),
        # administrators who may not list cases see bundle ids, not case numbers
        show_case_no=permits(caller.subject, Action.case_list),
        form=form or _empty_form(),
        error=error,
        terms=[t.value for t in Term],
        events=[e.value for e in Event],
        enforcement_types=[e.value for e in EnforcementType],
        kinds=KINDS,
        doc_types=[d.value for d in DocType],
        changes=retention.CHANGES,
    )


def _form_of(rule: RetentionRule) -> dict[str, str]:
    """The change form filled in with a rule in force, to change it."""
    evidence = {None: "", True: "yes", False: "no"}[rule.evidence]
    return _empty_form() | {
        "change": "change",
        "code": rule.code,
        "title": rule.title,
        "enforcement_type": rule.enforcement_type or "",
        "kind": rule.kind or "",
        "doc_type": rule.doc_type or "",
        "evidence": evidence,
        "term": rule.term,
        "count": "" if rule.count is None else str(rule.count),
        "counts_from": rule.counts_from,
        "basis": rule.basis,
    }


@router.get("/retention/schedule")
def schedule_page(request: Request, session: DB, caller: PageCaller, code: str = "") -> Response:
    """The rules in force, the default term, and every version with the bundles it moved;
    `?code=` fills the change form with that rule."""
    web_api.guard(request, session, caller, Action.retention_schedule_read, SCHEDULE)
    current = retention.current_version(session)
    chosen = next((r for r in current.rules if r.code == code), None) if current else None
    return _schedule_page(request, session, caller, form=_form_of(chosen) if chosen else None)


@router.post("/retention/schedule")
def change_schedule(
    request: Request,
    session: DB,
    caller: PageCaller,
    change: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    enforcement_type: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    doc_type: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    term: Annotated[str, Form()] = "",
    count: Annotated[str, Form()] = "",
    counts_from: Annotated[str, Form()] = "",
    basis: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Add, change or retire a rule as a new version (ledgered with the bundles it moves) → 303;
    a rule the regulations do not allow → the page again naming the field, 422."""
    decision, context = _allowed(request, session, caller, Action.retention_schedule_edit)
    wired = wired_of(request)
    lang, _ = choose_lang(request)
    form = dict(
        zip(
            FIELDS,
            (
                change,
                code,
                title,
                enforcement_type,
                kind,
                doc_type,
                evidence,
                term,
                count,
                counts_from,
                basis,
                reason,
            ),
            strict=True,
        )
    )
    try:
        edit = retention.edit_schedule(
            session=session,
            change=change,
            code=code.strip() or None,
            rule=None if change == "retire" else rule_of(form),
            actor=caller.user.username,
            reason=reason,
            now=context.now,
            default_years=wired.settings.retention_years,
        )
        policy.record(
            session,
            subject=caller.subject,
            action=Action.retention_schedule_edit,
            resource=SCHEDULE,
            context=context,
            decision=decision,
            outcome="ok",
            detail={
                "version": edit.version.id,
                "change": change,
                "code": edit.version.rule_code,
                "reason": edit.version.reason,
                "rule": None if change == "retire" else form,
                "moved": len(edit.moves),
                "bundles": [m.bundle_id for m in edit.moves][:200],
            },
        )
        session.commit()
    except Refused as exc:
        session.rollback()
        message = translate(lang, "retention.error", message=refusal(lang, exc))
        return _schedule_page(request, session, caller, form=form, error=message, status=422)
    except IntegrityError:  # another change of the same version committed first
        session.rollback()
        message = translate(lang, "retention.conflict")
        return _schedule_page(request, session, caller, form=form, error=message, status=409)
    try:
        retention.extend_locks(session=session, store=wired.store, now=wired.clock())
    except ArchiveError:
        session.rollback()  # the change stands; its locks show as pending until extended
    return RedirectResponse(f"/retention/schedule#version-{edit.version.id}", status_code=303)
