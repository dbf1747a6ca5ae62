"""The anomalies page (异常行为), the security auditor's start page: today's flags, 30 days of
flags as a picture (open above, acknowledged below), the flags still open, a form to acknowledge
each with a note, and the rules with their thresholds, each tunable by the auditor.

Loading the page evaluates only the entries the rules have not seen yet (at most
`api.PAGE_BUDGET`); the serve loop keeps the cursor near the head between visits.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from access import anomalies
from access.anomalies import DEFAULTS, AnomalyFlag, AnomalyKind
from access.errors import Conflict, NotFound
from access.policy import REASONS, Action, Denied, collection, permits
from archive.errors import Refused
from portal.internal.anomalies import api
from portal.web import charts
from portal.web.api import Denied as PageDenied
from portal.web.api import guard
from portal.web.auth import DB, PAGE_CSRF, Principal, policy_context, wired_of
from portal.web.i18n import CST, Translate, choose_lang, label, local_time, policy_reason, translate
from portal.web.labels import LABELS, N_
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import RowId

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])

CHART_DAYS = 30
OPEN_SHOWN = 100
# The ledger activity chart's messages, said of flags: acknowledged below (blue), open on top (red).
CHART_KEYS = {
    "ledger.activity": N_("anomalies.chart"),
    "ledger.activity_desc": N_("anomalies.chart_desc"),
    "ledger.day": N_("anomalies.chart_day"),
    "ledger.allowed": N_("anomalies.acknowledged"),
    "ledger.refused": N_("anomalies.open"),
}
# Each rule's parameters, by name: the label of the field.
PARAM_LABELS = {
    "count": N_("anomalies.param.count"),
    "minutes": N_("anomalies.param.minutes"),
    "start": N_("anomalies.param.start"),
    "end": N_("anomalies.param.end"),
    "records": N_("anomalies.param.records"),
    "megabytes": N_("anomalies.param.megabytes"),
    "days": N_("anomalies.param.days"),
}
RULE_HINTS = {
    AnomalyKind.denial_burst: N_("anomalies.rule.denial_burst"),
    AnomalyKind.after_hours: N_("anomalies.rule.after_hours"),
    AnomalyKind.bulk: N_("anomalies.rule.bulk"),
    AnomalyKind.state_secret: N_("anomalies.rule.state_secret"),
    AnomalyKind.outside_grant: N_("anomalies.rule.outside_grant"),
    AnomalyKind.new_address: N_("anomalies.rule.new_address"),
    AnomalyKind.dormant: N_("anomalies.rule.dormant"),
    AnomalyKind.admin_action: N_("anomalies.rule.admin_action"),
}


def _action_name(lang: str, action: str) -> str:
    """An action's name; a code with no name (none should be) stays the code."""
    return label(lang, "action", action) if action in LABELS["action"] else action


def what_happened(lang: str, flag: AnomalyFlag) -> str:
    """What a flag says, in the page's language, from the detail its rule kept."""
    d, t = flag.detail, partial(translate, lang)
    kind = flag.kind
    if kind == AnomalyKind.denial_burst:
        key = (
            N_("anomalies.what.burst_source") if d.get("by") == "source" else N_("anomalies.what.burst_actor")
        )
        return t(key, count=d.get("count"), minutes=d.get("minutes"), who=flag.actor, source=flag.source)
    if kind == AnomalyKind.after_hours:
        key = N_("anomalies.what.after_hours") if d.get("workday") else N_("anomalies.what.day_off")
        return t(key, at=d.get("local_time"), action=_action_name(lang, str(d.get("action"))))
    if kind == AnomalyKind.bulk:
        megabytes = f"{int(d.get('bytes') or 0) / 1_000_000:.1f}"
        return t("anomalies.what.bulk", count=d.get("count"), mb=megabytes, minutes=d.get("minutes"))
    if kind == AnomalyKind.state_secret:
        outcome = label(lang, "outcome", d.get("outcome"))
        return t(
            "anomalies.what.state_secret", action=_action_name(lang, str(d.get("action"))), outcome=outcome
        )
    if kind == AnomalyKind.outside_grant:
        code = str(d.get("reason_code"))
        return policy_reason(lang, REASONS.get(code, REASONS["grant_needed"]))
    if kind == AnomalyKind.new_address:
        return t("anomalies.what.new_address", source=flag.source, known=d.get("known"))
    if kind == AnomalyKind.dormant:
        return t("anomalies.what.dormant", days=d.get("idle_days"))
    return t("anomalies.what.admin_action", action=_action_name(lang, str(d.get("action"))))


def _drawing(session: Session, now: datetime, t: Translate) -> charts.ActivityDrawing:
    """Flags per day for 30 days, drawn by the ledger activity macro."""
    tallies = anomalies.day_counts(session, last_day=now.astimezone(CST).date(), days=CHART_DAYS)
    days = [charts.DayCount(d.day, allowed=d.acknowledged, refused=d.open) for d in tallies]

    def said(key: str, /, **fields: object) -> str:
        if key == "ledger.day":  # the bar's tooltip: acknowledged and open
            return t(
                CHART_KEYS[key], day=fields["day"], acknowledged=fields["allowed"], open=fields["refused"]
            )
        if key == "ledger.activity_desc":
            return t(CHART_KEYS[key], acknowledged=fields["allowed"], open=fields["refused"])
        return t(CHART_KEYS[key], **fields)

    return charts.activity_drawing(days, said)


def _shown(lang: str, flags: list[AnomalyFlag], linked: dict[int, list[int]]) -> list[dict[str, Any]]:
    """The flags as the template shows them."""
    return [
        {
            "id": f.id,
            "kind": f.kind,
            "at": f.at,
            "actor": f.actor or "",
            "source": f.source or "",
            "case_no": f.case_no or "",
            "what": what_happened(lang, f),
            "entries": linked.get(f.id, []),
            "acknowledged_at": f.acknowledged_at,
            "acknowledged_by": f.acknowledged_by,
            "note": f.note,
        }
        for f in flags
    ]


def _rules(lang: str, session: Session) -> list[dict[str, Any]]:
    """Every rule as it runs, with its fields, for the rules section."""
    found = []
    for kind, setting in anomalies.rule_settings(session).items():
        found.append(
            {
                "kind": kind.value,
                "hint": translate(lang, RULE_HINTS[kind]),
                "enabled": setting.enabled,
                "params": [
                    (name, translate(lang, PARAM_LABELS[name]), setting.params[name])
                    for name in DEFAULTS[kind]
                ],
                "updated_by": setting.updated_by,
                "updated_at": setting.updated_at,
            }
        )
    return found


def _anomalies_page(
    request: Request, session: Session, caller: Principal, *, kind: str = "", status: int = 200, **extra: Any
) -> Response:
    """The page, after the policy allowed reading it (ledgered) and the new entries were evaluated."""
    guard(request, session, caller, Action.anomaly_read, collection("anomalies"))
    api.catch_up(request, session)
    lang, _ = choose_lang(request)
    now = wired_of(request).clock()
    today = datetime.combine(now.astimezone(CST).date(), time(), CST)
    chosen = kind if kind in AnomalyKind.__members__ else None
    todays = anomalies.find_flags(session, since=today, kind=chosen, limit=500)
    older = anomalies.find_flags(session, until=today, kind=chosen, open_only=True, limit=OPEN_SHOWN)
    linked = anomalies.linked_entries(session, flag_ids=[f.id for f in todays + older])
    by_kind: dict[str, int] = {}
    for flag in todays:
        by_kind[flag.kind] = by_kind.get(flag.kind, 0) + 1
    standing = anomalies.standing(session)
    return page(
        request,
        "anomalies/anomalies.html",
        status=status,
        today=_shown(lang, todays, linked),
        older=_shown(lang, older, linked),
        by_kind=by_kind,
        kinds=[k.value for k in AnomalyKind],
        kind=chosen or "",
        chart=_drawing(session, now, partial(translate, lang)),
        standing=standing,
        evaluated_at=local_time(standing.evaluated_at, seconds=True) if standing.evaluated_at else "",
        yesterday=(today - timedelta(days=1)),
        rules=_rules(lang, session),
        may_acknowledge=permits(caller.subject, Action.anomaly_acknowledge),
        may_tune=permits(caller.subject, Action.anomaly_rules_edit),
        **{"errors": {}, "note": "", "flag_id": None, "rule_errors": {}, "rule_kind": None, **extra},
    )


@router.get("/anomalies")
def anomalies_page(request: Request, session: DB, caller: PageCaller, kind: str = "") -> Response:
    """Today's anomalies with 30 days of them as a picture, the open ones, and the rules."""
    return _anomalies_page(request, session, caller, kind=kind)


@router.post("/anomalies/{flag_id}/acknowledge")
def acknowledge_flag(
    request: Request,
    session: DB,
    caller: PageCaller,
    flag_id: RowId,
    note: Annotated[str, Form(max_length=anomalies.NOTE_MAX)] = "",
) -> Response:
    """Close a flag with a note (required; ledgered as `anomaly.acknowledge`) → 303 to the page."""
    lang, _ = choose_lang(request)
    context = policy_context(request, session, caller)
    try:
        anomalies.acknowledge(session, subject=caller.subject, context=context, flag_id=flag_id, note=note)
    except Denied as exc:
        raise PageDenied(exc.decision) from exc
    except NotFound as exc:
        raise HTTPException(404, translate(lang, "anomalies.unknown")) from exc
    except Conflict as exc:
        raise HTTPException(409, translate(lang, "anomalies.closed")) from exc
    except Refused:
        session.rollback()
        error = translate(lang, "anomalies.note_missing")
        return _anomalies_page(request, session, caller, status=422, errors={flag_id: error}, flag_id=flag_id)
    return RedirectResponse(f"/anomalies#anomaly-{flag_id}", status_code=303)


@router.post("/anomalies/rules/{kind}")
async def tune_rule(request: Request, session: DB, caller: PageCaller, kind: str) -> Response:
    """Change one rule: on or off and its thresholds (ledgered as `anomaly.rules.edit`, before and
    after) → 303 to the rules section; a value that does not parse is named next to its field."""
    lang, _ = choose_lang(request)
    form = await request.form()
    names = DEFAULTS[AnomalyKind(kind)] if kind in AnomalyKind.__members__ else {}
    values = {name: str(form[name]) for name in names if name in form}
    context = policy_context(request, session, caller)
    try:
        anomalies.tune_rule(
            session,
            subject=caller.subject,
            context=context,
            kind=kind,
            enabled=form.get("enabled") == "1",
            values=values,
        )
    except Denied as exc:
        raise PageDenied(exc.decision) from exc
    except NotFound as exc:
        raise HTTPException(404, translate(lang, "anomalies.unknown_rule")) from exc
    except Refused as exc:
        session.rollback()
        name = str(exc).partition(": ")[0]
        field = name if name in PARAM_LABELS else "count"
        if name == "end" and "after they start" in str(exc):
            error = translate(lang, "anomalies.bad_hours")
        else:
            error = translate(lang, "anomalies.bad_param", field=translate(lang, PARAM_LABELS[field]))
        return _anomalies_page(
            request, session, caller, status=422, rule_errors={field: error}, rule_kind=kind
        )
    return RedirectResponse(f"/anomalies#rule-{kind}", status_code=303)
