"""Trails as people read them — each entry's who, what, when, from where, and why, in the reader's
language — and the evidence package put together: the CSV, the PDF, the entries with their
proofs against a checkpoint that covers them (one is signed when the latest does not)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import checkpoints, trails
from access.checkpoints import LedgerCheckpoint, LedgerTampered
from access.ledger import LedgerEntry, canonical_json
from access.models import User
from access.trails import TrailQuery
from portal.internal.ledger import operations as ledger_operations
from portal.web.i18n import label, local_time, policy_reason, translate
from portal.web.labels import LABELS, N_
from portal.wiring import Wired

# Why a sign-in failed, as `access.identities.authenticate` ledgers it, and the message saying it.
LOGIN_REASONS = {
    "unknown user": N_("trails.login.unknown_user"),
    "account disabled": N_("trails.login.disabled"),
    "account locked": N_("trails.login.locked"),
    "wrong password": N_("trails.login.wrong_password"),
    "not an account of this door": N_("trails.login.other_door"),
}
_LOCKED_NOW = re.compile(r"wrong password; locked for (\d+) minutes")
# Reasons an allowed decision is ledgered with (`access.policy.decide`): not a person's words.
_ALLOWED_REASON = re.compile(r"role \S+ may \S+|inside retrieval grant \d+")
_DENIED = frozenset({"denied", "failed", "refused"})
# The CSV's columns: the register's style, a key and its Chinese name.
CSV_COLUMNS = [
    "seq 序号",
    "at 时间",
    "actor 人员",
    "name 姓名",
    "role 角色",
    "action 操作",
    "case_no 案号",
    "record_id 记录",
    "source 来源地址",
    "outcome 结果",
    "reason 原因",
    "entry_hash 条目哈希",
    "action_code 操作代码",
]
# The PDF's columns and their relative widths.
PDF_COLUMNS = (
    (N_("trails.seq_hash"), 8),
    (N_("trails.at"), 12),
    (N_("trails.who"), 13),
    (N_("trails.action"), 12),
    (N_("trails.case_no"), 13),
    (N_("trails.record"), 6),
    (N_("trails.source"), 9),
    (N_("trails.outcome"), 6),
    (N_("trails.reason"), 21),
)


@dataclass(frozen=True)
class TrailRow:
    """One entry as a reader sees it: every value already in the reader's language."""

    seq: int
    at: str
    actor: str
    name: str
    role: str
    action: str
    action_code: str
    case_no: str
    record_id: str
    source: str
    outcome: str
    outcome_code: str
    reason: str
    entry_hash: str

    @property
    def who(self) -> str:
        """The person: their name, account and role as one line."""
        shown = self.actor if self.name in ("", self.actor) else f"{self.name}（{self.actor}）"
        return f"{shown} · {self.role}" if self.role else shown


def reason_of(lang: str, entry: LedgerEntry) -> str:
    """Why the entry was allowed or refused, in `lang`: the policy's reason by its code, the rule
    that allowed it, a sign-in's failure, or the words the person gave."""
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    rule, reason = detail.get("rule"), detail.get("reason")
    given = reason if isinstance(reason, str) else ""
    rule_name = (
        label(lang, "rule.name", rule) if isinstance(rule, str) and rule in LABELS["rule.name"] else ""
    )
    if entry.outcome in _DENIED:
        if entry.action == "auth.login" and given:
            locked = _LOCKED_NOW.fullmatch(given)
            if locked:
                return translate(lang, "trails.login.locked_now", minutes=locked.group(1))
            if given in LOGIN_REASONS:
                return translate(lang, LOGIN_REASONS[given])
        said = policy_reason(lang, given) if rule else ""
        if said:
            return said
        if rule_name:
            return translate(lang, "trails.reason.by_rule", rule=rule_name)
        return translate(lang, "trails.reason.unrecorded")
    parts = []
    if detail.get("grant") and rule == "grant":
        parts.append(translate(lang, "trails.reason.grant", grant=detail["grant"]))
    elif rule == "role":
        role = detail.get("role")
        shown = label(lang, "role", role) if isinstance(role, str) and role in LABELS["role"] else ""
        parts.append(translate(lang, "trails.reason.role", role=shown) if shown else rule_name)
    elif rule_name:
        parts.append(translate(lang, "trails.reason.by_rule", rule=rule_name))
    if given and not _ALLOWED_REASON.fullmatch(given):  # an administrator's or manager's own words
        parts.append(translate(lang, "trails.reason.given", reason=given))
    return "；".join(part for part in parts if part)


def names_of(session: Session, entries: Sequence[LedgerEntry]) -> dict[str, str]:
    """The display name of each account the entries name as their actor."""
    actors = {entry.actor for entry in entries}
    if not actors:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(actors)))
    return {username: name or username for username, name in rows}


def _named(lang: str, kind: str, value: str) -> str:
    """A ledger value by its name; one not named yet (a newer action) is said so, never as a code."""
    if value in LABELS[kind]:
        return label(lang, kind, value)
    return translate(lang, "trails.unnamed")


def rows_of(lang: str, entries: Sequence[LedgerEntry], names: dict[str, str]) -> list[TrailRow]:
    """The entries as a reader sees them."""
    rows = []
    for entry in entries:
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        role = detail.get("role")
        rows.append(
            TrailRow(
                seq=entry.seq,
                at=local_time(entry.at, seconds=True),
                actor=entry.actor,
                name=names.get(entry.actor, ""),
                role=label(lang, "role", role) if isinstance(role, str) and role in LABELS["role"] else "",
                action=_named(lang, "action", entry.action),
                action_code=entry.action,
                case_no=entry.case_no or "",
                record_id=entry.record_id or "",
                source=entry.source or "",
                outcome=_named(lang, "outcome", entry.outcome),
                outcome_code=entry.outcome,
                reason=reason_of(lang, entry),
                entry_hash=entry.entry_hash,
            )
        )
    return rows


def title_of(lang: str, query: TrailQuery) -> str:
    """What the trail is of, as its heading says it."""
    if query.record_id and query.case_no:
        return translate(lang, "trails.title.case_record", case_no=query.case_no, record=query.record_id)
    if query.record_id:
        return translate(lang, "trails.title.record", record=query.record_id)
    if query.case_no and query.actor:
        return translate(lang, "trails.title.person_case", actor=query.actor, case_no=query.case_no)
    if query.case_no:
        return translate(lang, "trails.title.case", case_no=query.case_no)
    return translate(lang, "trails.title.person", actor=query.actor or "")


def period_of(lang: str, query: TrailQuery) -> str:
    """The period the trail covers, in words."""
    since = local_time(query.since) if query.since else translate(lang, "trails.period.start")
    until = local_time(query.until) if query.until else translate(lang, "trails.period.now")
    return translate(lang, "trails.period", since=since, until=until)


def trail_csv(rows: Sequence[TrailRow]) -> bytes:
    """The trail as CSV (UTF-8 with BOM, Chinese headers as the retrieval register's)."""
    return trails.table_csv(
        CSV_COLUMNS,
        (
            (
                r.seq,
                r.at,
                r.actor,
                r.name,
                r.role,
                r.action,
                r.case_no,
                r.record_id,
                r.source,
                r.outcome,
                r.reason,
                r.entry_hash,
                r.action_code,
            )
            for r in rows
        ),
    )


def covering_checkpoint(wired: Wired, session: Session, *, upto: int) -> LedgerCheckpoint:
    """The latest checkpoint if it covers entries 1..upto; else one signed now over the whole
    ledger (and its locked copy written), as the serve loop would sign it. Raises LedgerTampered."""
    latest = checkpoints.latest(session)
    if latest is not None and latest.tree_size >= upto:
        return latest
    session.commit()  # the export's own decision is already in the ledger: let the checkpoint cover it
    ledger_operations.checkpoint_ledger(wired, force=True)
    latest = checkpoints.latest(session)
    if latest is None or latest.tree_size < upto:
        raise LedgerTampered(f"no checkpoint covers entry {upto}; run `casevault ledger verify`")
    return latest


README = N_("trails.package.readme")


def evidence_package(
    wired: Wired,
    session: Session,
    *,
    query: TrailQuery,
    entries: Sequence[LedgerEntry],
    generated_by: str,
    lang: str = "zh",
) -> bytes:
    """The signed evidence package of a trail's entries (oldest first): PDF, JSON with proofs,
    JWKS, a README, and the signed manifest. Raises LedgerTampered rather than vouch for a
    tampered entry."""
    for entry in entries:
        trails.check_entry(entry)
    now = wired.clock()
    upto = max((entry.seq for entry in entries), default=0)
    checkpoint = covering_checkpoint(wired, session, upto=max(upto, 1))
    paths = trails.inclusion_paths(session, seqs=[entry.seq for entry in entries], checkpoint=checkpoint)
    body = trails.evidence_json(
        query=query,
        entries=entries,
        checkpoint=checkpoint,
        paths=paths,
        generated_at=now,
        generated_by=generated_by,
    )
    rows = rows_of(lang, entries, names_of(session, entries))
    pdf = trails.table_pdf(
        title=title_of(lang, query),
        facts=_pdf_facts(lang, query, checkpoint=checkpoint, count=len(entries), now=now, by=generated_by),
        header=[translate(lang, key) for key, _ in PDF_COLUMNS],
        rows=[
            [
                f"{r.seq}\n{r.entry_hash[:12]}",
                r.at,
                r.who,
                r.action,
                r.case_no,
                r.record_id,
                r.source,
                r.outcome,
                r.reason,
            ]
            for r in rows
        ],
        widths=[width for _, width in PDF_COLUMNS],
        note=translate(lang, "trails.pdf.note"),
        footer=translate(
            lang,
            "trails.pdf.footer",
            title=title_of(lang, query).replace("%", "%%"),
            at=local_time(now, seconds=True),
            page="%(page)s",
        ),
    )
    jwks = canonical_json(wired.keyring.jwks()).encode("utf-8")
    readme = (translate("zh", README) + "\n\n" + translate("en", README) + "\n").encode("utf-8")
    files = {
        trails.PDF_NAME: pdf,
        trails.ENTRIES_NAME: body,
        trails.JWKS_NAME: jwks,
        trails.README_NAME: readme,
    }
    return trails.package(files, generated_at=now, keyring=wired.keyring)


def _pdf_facts(
    lang: str, query: TrailQuery, *, checkpoint: LedgerCheckpoint, count: int, now: datetime, by: str
) -> list[tuple[str, str]]:
    facts: list[tuple[str, Any]] = [
        (translate(lang, "trails.period.label"), period_of(lang, query)),
        (translate(lang, "trails.count"), str(count)),
        (translate(lang, "trails.generated"), f"{local_time(now, seconds=True)} · {by}"),
        (
            translate(lang, "trails.checkpoint"),
            translate(
                lang,
                "trails.checkpoint_value",
                size=checkpoint.tree_size,
                at=local_time(checkpoint.created_at, seconds=True),
                kid=checkpoint.kid,
            ),
        ),
        (translate(lang, "trails.root_hash"), checkpoint.root_hash),
    ]
    return [(name, str(value)) for name, value in facts]
