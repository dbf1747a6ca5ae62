"""The ledger's pages (访问台账): search with 30 days of activity and the chain's status, one
entry in full, and verifying the chain now."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import checkpoints
from access.ledger import LedgerEntry, LedgerHead
from access.policy import Action, collection, permits
from portal.internal.ledger import api
from portal.web import charts
from portal.web.api import guard
from portal.web.auth import DB, PAGE_CSRF, Principal, wired_of
from portal.web.i18n import CST, choose_lang, translate
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import Seq, SeqBelow

ACTIVITY_DAYS = 30
LEDGER_PAGE = 100
OUTCOMES = ("allowed", "denied", "ok", "failed", "damaged", "unavailable")
LEDGER_ACTIONS = (
    *(a.value for a in Action),
    "auth.login",
    "auth.session_start",
    "user.change",
    "user.disable",
    "user.enable",
    "user.reset_password",
)

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])


def _day_bound(value: str, *, end: bool) -> datetime:
    """A form date (YYYY-MM-DD, China time) as the start of that day, or of the next for `end`."""
    text = value.strip()
    try:
        moment = datetime.combine(date.fromisoformat(text), time(), CST)
    except ValueError:
        moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=CST)
        return moment
    return moment + timedelta(days=1) if end else moment


def _ledger_filters(values: dict[str, str], lang: str) -> tuple[dict[str, Any], list[str]]:
    """The API's search filters from the form, and a message for each value that does not parse."""
    filters: dict[str, Any] = {
        k: (values[k].strip() or None) for k in ("actor", "action", "outcome", "case_no")
    }
    errors = []
    for name in ("since", "until"):
        raw = values[name]
        filters[name] = None
        if raw.strip():
            try:
                filters[name] = _day_bound(raw, end=name == "until")
            except ValueError:
                errors.append(translate(lang, "ledger.bad_date", value=raw))
    return filters, errors


def activity(session: Session, *, now: datetime, days: int = ACTIVITY_DAYS) -> list[charts.DayCount]:
    """Ledger entries per China-time day for the last `days` days, allowed vs refused."""
    last_day = now.astimezone(CST).date()
    start = datetime.combine(last_day - timedelta(days=days - 1), time(), CST)
    rows = session.execute(select(LedgerEntry.at, LedgerEntry.outcome).where(LedgerEntry.at >= start))
    return charts.count_days(((at, outcome) for at, outcome in rows), last_day=last_day, days=days)


def last_verification(session: Session) -> dict[str, Any] | None:
    """The most recent full verification of the chain, as its ledger entry recorded it.

    `api.ledger_verify` ledgers each one when it ends (outcome ok or failed, the report under
    `result`); the (action, seq) index finds the newest without walking anything.
    """
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.action == Action.ledger_verify.value, LedgerEntry.outcome.in_(("ok", "failed")))
        .order_by(LedgerEntry.seq.desc())
        .limit(1)
    )
    entry = session.scalars(query).first()
    if entry is None:
        return None
    result = entry.detail.get("result")
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "result": result if isinstance(result, dict) else None,
        "error": entry.detail.get("error"),
        "duration_ms": entry.detail.get("duration_ms"),
    }


def _duration(lang: str, ms: Any) -> str:
    """How long a verification took, in milliseconds below a second, else in seconds."""
    if not isinstance(ms, int):
        return ""
    if ms < 1000:
        return translate(lang, "ledger.duration_ms", ms=ms)
    seconds = f"{ms / 1000:.1f}"
    return translate(lang, "ledger.duration_s", s=seconds)


def chain_status(request: Request, session: Session, caller: Principal) -> dict[str, Any]:
    """What the page says about the chain without walking it: the latest signed checkpoint, the
    ledger's head, the last full verification, and whether the caller may run one."""
    lang, _ = choose_lang(request)
    checkpoint = checkpoints.latest(session)
    head = session.get(LedgerHead, 1)
    verified = last_verification(session)
    if verified is not None:
        verified["duration"] = _duration(lang, verified["duration_ms"])
    return {
        "checkpoint": checkpoint,
        "head": head.seq if head else 0,
        "verified": verified,
        "may_verify": permits(caller.subject, Action.ledger_verify),
    }


@router.get("/ledger")
def ledger_page(
    request: Request,
    session: DB,
    caller: PageCaller,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    case_no: str = "",
    since: str = "",
    until: str = "",
    admins: str = "",
    before: SeqBelow = None,
) -> Response:
    """Search the ledger (security auditors), with 30 days of activity and the chain's status as
    last checked (latest signed checkpoint, last full verification): loading it walks no chain.
    `admins=1` keeps the administrators' actions and every account change."""
    lang, _ = choose_lang(request)
    form = {
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "case_no": case_no,
        "since": since,
        "until": until,
        "admins": "1" if admins else "",
    }
    filters, errors = _ledger_filters(form, lang)
    filters["admins"] = bool(admins)
    if errors:
        guard(request, session, caller, Action.ledger_read, collection("ledger"))
        found: dict[str, Any] = {"entries": [], "next_before": None}
    else:
        found = api.ledger_search(request, session, caller, **filters, before=before, limit=LEDGER_PAGE)
    chain = chain_status(request, session, caller)
    counts = activity(session, now=wired_of(request).clock())
    older = None
    if found["next_before"]:
        older = "?" + urlencode({**{k: v for k, v in form.items() if v}, "before": found["next_before"]})
    return page(
        request,
        "ledger/ledger.html",
        status=422 if errors else 200,
        form=form,
        errors=errors,
        entries=found["entries"],
        older=older,
        chain=chain,
        activity=charts.activity_drawing(counts, partial(translate, lang)),
        outcomes=OUTCOMES,
        actions=LEDGER_ACTIONS,
    )


@router.post("/ledger/verify")
def ledger_verify_now(
    request: Request, session: DB, caller: PageCaller
) -> Response:
    """Walk the whole chain now, as `GET /api/v1/ledger/verify` does (policy-checked and ledgered
    as `ledger.verify`, result included) → 303 to the ledger page, which shows that result."""
    api.ledger_verify(request, session, caller)
    return RedirectResponse("/ledger#verification", status_code=303)


@router.get("/ledger/{seq}")
def ledger_entry_page(request: Request, session: DB, caller: PageCaller, seq: Seq) -> Response:
    """One ledger entry in full, with its place in the hash chain."""
    found = api.ledger_search(request, session, caller, before=seq + 1, limit=1)["entries"]
    if not found or found[0]["seq"] != seq:
        raise HTTPException(404, "no such ledger entry")
    return page(request, "ledger/entry.html", entry=found[0])
