"""Anomalies for the security auditor (异常行为): flags computed from the ledger by rules the
auditor tunes.

The rules (`AnomalyKind`): bursts of refusals by one person or one address; views and downloads
outside working hours on the official calendar; bulk access; any attempt at a state-secret
record; attempts outside a retrieval grant; a sign-in from an address the person never signed in
from before; an account unused for a long time that acts again; the administrators' own actions.

Evaluation is incremental: one cursor row holds the last ledger sequence number evaluated, and
per-rule state (sliding windows, last-seen times, known addresses) lives in `anomaly_state`.
`evaluate` locks the cursor row first (FOR UPDATE on PostgreSQL; a write on SQLite, which takes
the database's write lock), reads only the entries after it, writes the flags, the state and the
new cursor and commits, batch by batch: two evaluations at once never read the same entries,
and a flag is unique per (rule, entry) besides. A rule change applies to entries evaluated after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from access import workdays
from access.errors import Conflict, NotFound
from access.ledger import LedgerEntry, LedgerHead
from access.models import Role, User
from access.policy import REASONS, Action, Context, Subject, collection, record, require
from archive.db import Base, UTCDateTime
from archive.errors import Refused
from archive.models import Bundle, BundleFile, CaseRecord

CHINA = ZoneInfo("Asia/Shanghai")  # working hours are China time, as the official calendar is
BATCH = 50_000  # entries evaluated per transaction (state is written back once per batch)
NOTE_MAX = 2000
LINKED_MAX = 200  # entries linked to one flag, at most
ADDRESSES_MAX = 200  # addresses remembered per person (the most recent)


class AnomalyKind(StrEnum):
    """What a rule looks for."""

    denial_burst = "denial_burst"  # N refusals within M minutes, by one person or one address
    after_hours = "after_hours"  # a view or download outside working hours or on a day off
    bulk = "bulk"  # more than N records or megabytes read within M minutes by one person
    state_secret = "state_secret"  # any attempt at a state-secret record or bundle
    outside_grant = "outside_grant"  # a refusal because no retrieval grant covered it
    new_address = "new_address"  # a sign-in from an address the person never signed in from
    dormant = "dormant"  # an account unused for N days that acts again
    admin_action = "admin_action"  # what a security or system administrator did


# Each rule's tunable parameters and their defaults; every value is an integer or an HH:MM time.
DEFAULTS: dict[AnomalyKind, dict[str, int | str]] = {
    AnomalyKind.denial_burst: {"count": 5, "minutes": 10},
    AnomalyKind.after_hours: {"start": "08:30", "end": "18:00"},
    AnomalyKind.bulk: {"records": 50, "megabytes": 2048, "minutes": 60},
    AnomalyKind.state_secret: {},
    AnomalyKind.outside_grant: {},
    AnomalyKind.new_address: {},
    AnomalyKind.dormant: {"days": 90},
    AnomalyKind.admin_action: {},
}
# The bounds of each integer parameter (inclusive).
BOUNDS: dict[str, tuple[int, int]] = {
    "count": (2, 10_000),
    "minutes": (1, 7 * 24 * 60),
    "records": (1, 1_000_000),
    "megabytes": (0, 100_000_000),  # 0: never by size
    "days": (1, 3650),
}
# Reading a record's content: what after-hours, bulk and state-secret rules watch.
READS = frozenset(
    a.value
    for a in (Action.record_view, Action.record_download, Action.record_original, Action.bundle_export)
)
SIGN_INS = frozenset({"auth.login", "auth.sso"})
ADMIN_ROLES = frozenset({Role.security_admin.value, Role.sysadmin.value})
# A refusal for want of a grant: the rule that says it, and the reasons it gives (REASONS' codes).
GRANT_CODES = ("grant_scope", "grant_needed")
_GRANT_REASONS = {REASONS[code]: code for code in GRANT_CODES}


# --- tables ----------------------------------------------------------------------------------


class AnomalyCursor(Base):
    """One row (id 1): the last ledger sequence number evaluated. Evaluations lock it."""

    __tablename__ = "anomaly_cursor"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AnomalyRule(Base):
    """An auditor's setting of one rule; a rule without a row runs with its defaults."""

    __tablename__ = "anomaly_rules"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AnomalyState(Base):
    """What a rule remembers between evaluations, per key (a person, an address)."""

    __tablename__ = "anomaly_state"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class AnomalyFlag(Base):
    """One anomaly: the rule, the entry that raised it, and its acknowledgement."""

    __tablename__ = "anomaly_flags"
    __table_args__ = (UniqueConstraint("kind", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)  # the ledger entry that raised it
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # that entry's time
    actor: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(String(64))
    case_no: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


class AnomalyFlagEntry(Base):
    """A ledger entry a flag is about (a burst links every refusal in it)."""

    __tablename__ = "anomaly_flag_entries"

    flag_id: Mapped[int] = mapped_column(ForeignKey("anomaly_flags.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSetting:
    """A rule as it runs: on or off, its parameters, and who tuned it last."""

    kind: AnomalyKind
    enabled: bool
    params: Mapping[str, int | str]
    updated_by: str | None = None
    updated_at: datetime | None = None


def rule_settings(session: Session) -> dict[AnomalyKind, RuleSetting]:
    """Every rule as it runs now: the auditor's setting, else its defaults."""
    rows = {row.kind: row for row in session.scalars(select(AnomalyRule))}
    found = {}
    for kind in AnomalyKind:
        row = rows.get(kind.value)
        if row is None:
            found[kind] = RuleSetting(kind, True, dict(DEFAULTS[kind]))
        else:
            params = DEFAULTS[kind] | {k: v for k, v in row.params.items() if k in DEFAULTS[kind]}
            found[kind] = RuleSetting(kind, row.enabled, params, row.updated_by, row.updated_at)
    return found


def _hhmm(value: str) -> time:
    """An HH:MM time of day."""
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError(value)
    return time(int(hours), int(minutes))


def parse_params(kind: AnomalyKind, values: Mapping[str, str]) -> dict[str, int | str]:
    """A rule's parameters from text; `Refused("name: …")` naming the first one that does not parse."""
    parsed: dict[str, int | str] = {}
    for name, default in DEFAULTS[kind].items():
        raw = str(values.get(name, default)).strip()
        if isinstance(default, int):
            low, high = BOUNDS[name]
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise Refused(f"{name}: a whole number from {low} to {high}, not {raw!r}")
            parsed[name] = int(raw)
        else:
            try:
                parsed[name] = _hhmm(raw).strftime("%H:%M")
            except ValueError as exc:
                raise Refused(f"{name}: a time of day as HH:MM, not {raw!r}") from exc
    if kind is AnomalyKind.after_hours and str(parsed["start"]) >= str(parsed["end"]):
        raise Refused("end: working hours end after they start")
    return parsed


def tune_rule(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    kind: str,
    enabled: bool,
    values: Mapping[str, str],
) -> RuleSetting:
    """Change a rule (security auditors only): the decision, the change and its ledger entry
    (before and after) commit together; a refusal is ledgered and raised."""
    resource = collection("anomalies")
    decision = require(
        session, subject=subject, action=Action.anomaly_rules_edit, resource=resource, context=context
    )
    if kind not in AnomalyKind.__members__:
        raise NotFound(f"no anomaly rule {kind!r}")
    rule = AnomalyKind(kind)
    params = parse_params(rule, values)
    before = rule_settings(session)[rule]
    row = session.get(AnomalyRule, rule.value)
    if row is None:
        row = AnomalyRule(kind=rule.value)
        session.add(row)
    row.enabled, row.params = enabled, params
    row.updated_by, row.updated_at = subject.username, context.now
    record(
        session,
        subject=subject,
        action=Action.anomaly_rules_edit,
        resource=resource,
        context=context,
        decision=decision,
        outcome="ok",
        detail={
            "kind": rule.value,
            "before": {"enabled": before.enabled, **before.params},
            "after": {"enabled": enabled, **params},
        },
    )
    session.commit()
    return rule_settings(session)[rule]


# --- evaluation ------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What one call of `evaluate` did."""

    entries: int = 0  # entries read
    flags: int = 0  # flags raised
    cursor: int = 0  # the last sequence number evaluated afterwards
    head: int = 0  # the ledger's last sequence number when it ended


@dataclass(frozen=True)
class _Entry:
    seq: int
    at: datetime
    actor: str
    action: str
    outcome: str
    case_no: str | None
    bundle_id: str | None
    record_id: str | None
    source: str | None
    detail: str  # canonical JSON text, decoded only when a rule needs it


@dataclass
class _Raised:
    kind: AnomalyKind
    entry: _Entry
    detail: dict[str, Any]
    linked: list[int]


def _lock_cursor(session: Session) -> AnomalyCursor:
    """The cursor row, locked until the caller's commit: one evaluation at a time."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE: a write takes the database's write lock before the read.
        session.execute(
            update(AnomalyCursor).where(AnomalyCursor.id == 1).values(seq=AnomalyCursor.seq),
            execution_options={"synchronize_session": False},
        )
    query = (
        select(AnomalyCursor)
        .where(AnomalyCursor.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    cursor = session.execute(query).scalar_one_or_none()
    if cursor is None:  # a database migrated before the cursor row existed cannot be: 0013 adds it
        raise NotFound("the anomaly cursor row (id 1) is missing; is the database migrated?")
    return cursor


_COLUMNS = (
    LedgerEntry.seq,
    LedgerEntry.at,
    LedgerEntry.actor,
    LedgerEntry.action,
    LedgerEntry.outcome,
    LedgerEntry.case_no,
    LedgerEntry.bundle_id,
    LedgerEntry.record_id,
    LedgerEntry.source,
    type_coerce(LedgerEntry.detail, Text),  # the stored text: decoded only where a rule looks
)


def _read(session: Session, *, after: int, limit: int) -> list[_Entry]:
    """The entries after `after`, in order, at most `limit`."""
    query = select(*_COLUMNS).where(LedgerEntry.seq > after).order_by(LedgerEntry.seq).limit(limit)
    return [
        _Entry(seq, at, actor, action, outcome, case_no, bundle_id, record_id, source, detail)
        for seq, at, actor, action, outcome, case_no, bundle_id, record_id, source, detail in session.execute(
            query
        )
    ]


class _States:
    """The state rows one batch touches, loaded once and written back once (one upsert)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.values: dict[tuple[str, str], Any] = {}
        self.changed: set[tuple[str, str]] = set()

    def load(self, kind: AnomalyKind, keys: Iterable[str]) -> None:
        """Load the state of these keys of one rule."""
        wanted = sorted({k for k in keys if (kind.value, k) not in self.values})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(AnomalyState.key, AnomalyState.value).where(
                AnomalyState.kind == kind.value, AnomalyState.key.in_(chunk)
            )
            for key, value in self.session.execute(query):
                self.values[(kind.value, key)] = value
        for key in wanted:
            self.values.setdefault((kind.value, key), None)

    def get(self, kind: AnomalyKind, key: str) -> Any:
        """The remembered value (None when nothing is)."""
        return self.values[(kind.value, key)]

    def put(self, kind: AnomalyKind, key: str, value: Any) -> None:
        """Remember a value, written back by `flush`."""
        self.values[(kind.value, key)] = value
        self.changed.add((kind.value, key))

    def flush(self) -> None:
        """Write back what changed, inserted or updated in one statement."""
        rows = [
            {"kind": kind, "key": key, "value": self.values[(kind, key)]}
            for kind, key in sorted(self.changed)
        ]
        self.changed.clear()
        if not rows:
            return
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(AnomalyState)
        upsert = upsert.on_conflict_do_update(
            index_elements=["kind", "key"], set_={"value": upsert.excluded.value}
        )
        self.session.execute(upsert, rows)


@dataclass(frozen=True)
class _Material:
    classification: str
    size: int


class _Lookup:
    """What the rules need to know besides the entries: the administrators, the calendar and the
    classification and size of the material read (cached for the whole evaluation)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        query = select(User.username).where(User.role.in_(sorted(ADMIN_ROLES)))
        self.admins = frozenset(session.scalars(query))
        self.calendar = workdays.load_calendar(session)
        self.records: dict[tuple[str, str], _Material] = {}
        self.bundles: dict[str, _Material] = {}
        self.seen_bundles: set[str] = set()

    def load(self, bundle_ids: Iterable[str]) -> None:
        """Load the records and bundles of these bundle ids not loaded yet."""
        wanted = sorted(set(bundle_ids) - self.seen_bundles)
        self.seen_bundles |= set(wanted)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            bundles = select(Bundle.id, Bundle.classification, Bundle.payload_bytes).where(
                Bundle.id.in_(chunk)
            )
            for bundle_id, classification, size in self.session.execute(bundles):
                self.bundles[bundle_id] = _Material(classification, size or 0)
            records = (
                select(CaseRecord.bundle_id, CaseRecord.record_id, CaseRecord.classification, BundleFile.size)
                .outerjoin(
                    BundleFile,
                    (BundleFile.bundle_id == CaseRecord.bundle_id)
                    & (BundleFile.path.in_((CaseRecord.path, "data/" + CaseRecord.path))),
                )
                .where(CaseRecord.bundle_id.in_(chunk))
            )
            for bundle_id, record_id, classification, size in self.session.execute(records):
                self.records[(bundle_id, record_id)] = _Material(classification, size or 0)

    def material(self, entry: _Entry) -> _Material | None:
        """The record (or for an export, the bundle) an entry read."""
        if entry.bundle_id is None:
            return None
        if entry.record_id is not None:
            return self.records.get((entry.bundle_id, entry.record_id))
        return self.bundles.get(entry.bundle_id)


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _windowed(
    kind: AnomalyKind, states: _States, key: str, entry: _Entry, weight: int, minutes: int
) -> list[Any]:
    """The sliding window of one key with this entry added, older than `minutes` dropped."""
    now = _epoch(entry.at)
    window = [item for item in (states.get(kind, key) or []) if now - item[1] < minutes * 60]
    window.append([entry.seq, now, weight])
    return window


class _Rules:
    """The rules over one batch of entries, in order."""

    def __init__(self, settings: Mapping[AnomalyKind, RuleSetting], states: _States, lookup: _Lookup) -> None:
        self.on = {kind: s.params for kind, s in settings.items() if s.enabled}
        self.states = states
        self.lookup = lookup
        self.raised: list[_Raised] = []
        hours = self.on.get(AnomalyKind.after_hours)
        self.hours = (_hhmm(str(hours["start"])), _hhmm(str(hours["end"]))) if hours else None
        self.workday: dict[date, bool] = {}

    def prepare(self, entries: Sequence[_Entry]) -> None:
        """Load the state and material the batch's entries need, a few queries for the whole batch."""
        on, states = self.on, self.states
        if AnomalyKind.denial_burst in on:
            denied = [e for e in entries if e.outcome == "denied"]
            keys = [f"actor:{e.actor}" for e in denied] + [f"source:{e.source}" for e in denied if e.source]
            states.load(AnomalyKind.denial_burst, keys)
        if AnomalyKind.bulk in on:
            states.load(AnomalyKind.bulk, (e.actor for e in entries if e.action in READS))
        if AnomalyKind.new_address in on:
            states.load(AnomalyKind.new_address, (e.actor for e in entries if e.action in SIGN_INS))
        if AnomalyKind.dormant in on:
            states.load(AnomalyKind.dormant, (e.actor for e in entries))
        if AnomalyKind.bulk in on or AnomalyKind.state_secret in on:
            self.lookup.load(e.bundle_id for e in entries if e.action in READS and e.bundle_id)

    def raise_(self, kind: AnomalyKind, entry: _Entry, detail: dict[str, Any], linked: list[int]) -> None:
        """Raise a flag on an entry."""
        self.raised.append(_Raised(kind, entry, detail, linked[-LINKED_MAX:]))

    def _is_workday(self, day: date) -> bool:
        if day not in self.workday:
            self.workday[day] = self.lookup.calendar.is_workday(day)
        return self.workday[day]

    def run(self, entry: _Entry) -> None:
        """Every rule that is on, on one entry."""
        on = self.on
        if AnomalyKind.dormant in on:
            self._dormant(entry, int(on[AnomalyKind.dormant]["days"]))
        if entry.outcome == "denied":
            decoded = json.loads(entry.detail) if entry.detail else {}
            if AnomalyKind.denial_burst in on:
                self._burst(entry, on[AnomalyKind.denial_burst])
            if AnomalyKind.outside_grant in on:
                self._outside_grant(entry, decoded)
        if entry.action in READS:
            material = self.lookup.material(entry)
            if (
                AnomalyKind.state_secret in on
                and material is not None
                and material.classification == "state_secret"
            ):
                self.raise_(AnomalyKind.state_secret, entry, {"outcome": entry.outcome}, [entry.seq])
            if entry.outcome != "denied":
                if self.hours is not None:
                    self._after_hours(entry)
                if AnomalyKind.bulk in on:
                    self._bulk(entry, on[AnomalyKind.bulk], material.size if material else 0)
        if (
            AnomalyKind.new_address in on
            and entry.action in SIGN_INS
            and entry.outcome == "ok"
            and entry.source
        ):
            self._new_address(entry)
        if AnomalyKind.admin_action in on and entry.actor in self.lookup.admins:
            self.raise_(AnomalyKind.admin_action, entry, {"action": entry.action}, [entry.seq])

    def _dormant(self, entry: _Entry, days: int) -> None:
        last = self.states.get(AnomalyKind.dormant, entry.actor)
        now = _epoch(entry.at)
        if last is not None and now - last[1] >= days * 86400:
            idle = int((now - last[1]) // 86400)
            self.raise_(AnomalyKind.dormant, entry, {"idle_days": idle, "days": days}, [last[0], entry.seq])
        self.states.put(AnomalyKind.dormant, entry.actor, [entry.seq, now])

    def _burst(self, entry: _Entry, params: Mapping[str, int | str]) -> None:
        count, minutes = int(params["count"]), int(params["minutes"])
        by: list[str] = []
        seqs: set[int] = set()
        for name, value in (("actor", entry.actor), ("source", entry.source)):
            if not value:
                continue
            key = f"{name}:{value}"
            window = _windowed(AnomalyKind.denial_burst, self.states, key, entry, 1, minutes)
            if len(window) >= count:
                by.append(name)
                seqs |= {item[0] for item in window}
                window = []  # the next flag needs a new burst
            self.states.put(AnomalyKind.denial_burst, key, window)
        if by:  # one flag, whether the person's burst, the address's or both ended here
            detail = {"by": "+".join(by), "count": count, "minutes": minutes}
            self.raise_(AnomalyKind.denial_burst, entry, detail, sorted(seqs))

    def _outside_grant(self, entry: _Entry, detail: Mapping[str, Any]) -> None:
        code = _GRANT_REASONS.get(str(detail.get("reason", "")))
        if code is None and detail.get("rule") != "grant":
            return
        self.raise_(AnomalyKind.outside_grant, entry, {"reason_code": code or "grant_needed"}, [entry.seq])

    def _after_hours(self, entry: _Entry) -> None:
        assert self.hours is not None
        local = entry.at.astimezone(CHINA)
        workday = self._is_workday(local.date())
        start, end = self.hours
        if workday and start <= local.time() < end:
            return
        detail = {"local_time": local.strftime("%Y-%m-%d %H:%M"), "workday": workday}
        self.raise_(AnomalyKind.after_hours, entry, detail, [entry.seq])

    def _bulk(self, entry: _Entry, params: Mapping[str, int | str], size: int) -> None:
        records, megabytes, minutes = int(params["records"]), int(params["megabytes"]), int(params["minutes"])
        window = _windowed(AnomalyKind.bulk, self.states, entry.actor, entry, size, minutes)
        read = sum(item[2] for item in window)
        if len(window) > records or (megabytes and read > megabytes * 1_000_000):
            detail = {"count": len(window), "bytes": read, "minutes": minutes}
            self.raise_(AnomalyKind.bulk, entry, detail, [item[0] for item in window])
            window = []
        self.states.put(AnomalyKind.bulk, entry.actor, window)

    def _new_address(self, entry: _Entry) -> None:
        known: list[str] = list(self.states.get(AnomalyKind.new_address, entry.actor) or [])
        assert entry.source is not None
        if entry.source in known:
            known.remove(entry.source)  # moved to the end: the most recent are kept
        elif known:  # a person's first sign-in sets where they sign in from; it is no anomaly
            self.raise_(AnomalyKind.new_address, entry, {"known": len(known)}, [entry.seq])
        known.append(entry.source)
        self.states.put(AnomalyKind.new_address, entry.actor, known[-ADDRESSES_MAX:])


def _write(session: Session, raised: Sequence[_Raised], now: datetime) -> None:
    """The flags and the entries each links to: two bulk INSERTs."""
    if not raised:
        return
    rows = [
        {
            "kind": item.kind.value,
            "seq": item.entry.seq,
            "at": item.entry.at,
            "actor": item.entry.actor,
            "source": item.entry.source,
            "case_no": item.entry.case_no,
            "detail": item.detail | {"action": item.entry.action},
            "raised_at": now,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "note": None,
        }
        for item in raised
    ]
    made = insert(AnomalyFlag).returning(AnomalyFlag.id, sort_by_parameter_order=True)
    ids = list(session.scalars(made, rows))
    links = [
        {"flag_id": flag_id, "seq": seq}
        for flag_id, item in zip(ids, raised, strict=True)
        for seq in sorted(set(item.linked))
    ]
    session.execute(insert(AnomalyFlagEntry), links)


def evaluate(session: Session, *, now: datetime, limit: int | None = None, batch: int = BATCH) -> Evaluation:
    """Evaluate the ledger entries after the cursor (at most `limit`), batch by batch, each batch
    committed with its flags, state and the moved cursor. Concurrent calls wait for each other
    and never evaluate an entry twice."""
    done = Evaluation()
    lookup: _Lookup | None = None
    session.commit()  # start clean: the lock below is the first statement of each transaction
    while limit is None or done.entries < limit:
        cursor = _lock_cursor(session)
        take = batch if limit is None else min(batch, limit - done.entries)
        entries = _read(session, after=cursor.seq, limit=take)
        if not entries:
            done.cursor = cursor.seq
            session.commit()
            break
        states = _States(session)
        lookup = lookup or _Lookup(session)  # the administrators, the calendar, the material: once a call
        rules = _Rules(rule_settings(session), states, lookup)
        rules.prepare(entries)
        for entry in entries:
            rules.run(entry)
        states.flush()
        _write(session, rules.raised, now)
        cursor.seq, cursor.evaluated_at = entries[-1].seq, now
        session.commit()
        done.entries += len(entries)
        done.flags += len(rules.raised)
        done.cursor = cursor.seq
        if len(entries) < take:
            break
    head = session.get(LedgerHead, 1)
    done.head = head.seq if head is not None else done.cursor
    session.commit()
    return done


# --- reading and acknowledging ---------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """How far evaluation has come: the cursor, the ledger's head, when it last ran."""

    cursor: int
    head: int
    evaluated_at: datetime | None

    @property
    def behind(self) -> int:
        """Entries not evaluated yet."""
        return max(0, self.head - self.cursor)


def standing(session: Session) -> Standing:
    """The cursor against the ledger's head (two one-row reads)."""
    cursor = session.get(AnomalyCursor, 1)
    head = session.get(LedgerHead, 1)
    return Standing(
        cursor.seq if cursor else 0, head.seq if head else 0, cursor.evaluated_at if cursor else None
    )


def find_flags(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str | None = None,
    open_only: bool = False,
    before: int | None = None,
    limit: int = 100,
) -> list[AnomalyFlag]:
    """Flags newest first (by id), filtered by the time of their entry, rule and acknowledgement."""
    query = select(AnomalyFlag).order_by(AnomalyFlag.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AnomalyFlag.at >= since)
    if until is not None:
        query = query.where(AnomalyFlag.at < until)
    if kind:
        query = query.where(AnomalyFlag.kind == kind)
    if open_only:
        query = query.where(AnomalyFlag.acknowledged_at.is_(None))
    if before is not None:
        query = query.where(AnomalyFlag.id < before)
    return list(session.scalars(query))


def linked_entries(session: Session, *, flag_ids: Sequence[int]) -> dict[int, list[int]]:
    """The ledger entries each flag links to, by flag id, in order."""
    found: dict[int, list[int]] = {flag_id: [] for flag_id in flag_ids}
    if not flag_ids:
        return found
    query = (
        select(AnomalyFlagEntry.flag_id, AnomalyFlagEntry.seq)
        .where(AnomalyFlagEntry.flag_id.in_(list(flag_ids)))
        .order_by(AnomalyFlagEntry.flag_id, AnomalyFlagEntry.seq)
    )
    for flag_id, seq in session.execute(query):
        found[flag_id].append(seq)
    return found


@dataclass(frozen=True)
class DayTally:
    """One China-time day's flags: still open, and acknowledged."""

    day: date
    open: int
    acknowledged: int


def day_counts(session: Session, *, last_day: date, days: int = 30) -> list[DayTally]:
    """Flags per China-time day (by their entry's time) for the `days` days up to `last_day`."""
    first = last_day - timedelta(days=days - 1)
    start = datetime.combine(first, time(), CHINA).astimezone(UTC)
    query = select(AnomalyFlag.at, AnomalyFlag.acknowledged_at.is_not(None)).where(AnomalyFlag.at >= start)
    tally: dict[date, list[int]] = {first + timedelta(days=n): [0, 0] for n in range(days)}
    for at, acknowledged in session.execute(query):
        day = at.astimezone(CHINA).date()
        if day in tally:
            tally[day][1 if acknowledged else 0] += 1
    return [DayTally(day, counts[0], counts[1]) for day, counts in tally.items()]


def open_count(session: Session) -> int:
    """Flags not acknowledged yet (the badge in the navigation)."""
    query = select(func.count(AnomalyFlag.id)).where(AnomalyFlag.acknowledged_at.is_(None))
    return int(session.scalar(query) or 0)


class FlagClosed(Conflict):
    """The flag was acknowledged already."""


def acknowledge(
    session: Session, *, subject: Subject, context: Context, flag_id: int, note: str
) -> AnomalyFlag:
    """Acknowledge a flag with a note (required); the acknowledgement and its ledger entry commit
    together. A refusal is ledgered and raised before the flag is looked at."""
    resource = collection("anomalies")
    decision = require(
        session, subject=subject, action=Action.anomaly_acknowledge, resource=resource, context=context
    )
    text = note.strip()
    if not text:
        raise Refused("note: say why the anomaly is acknowledged")
    if len(text) > NOTE_MAX:
        raise Refused(f"note: at most {NOTE_MAX} characters")
    # One conditional UPDATE: of two acknowledgements at once, exactly one finds the flag open.
    closed = session.execute(
        update(AnomalyFlag)
        .where(AnomalyFlag.id == flag_id, AnomalyFlag.acknowledged_at.is_(None))
        .values(acknowledged_at=context.now, acknowledged_by=subject.username, note=text),
        execution_options={"synchronize_session": False},
    )
    flag = session.get(AnomalyFlag, flag_id, populate_existing=True)
    if flag is None:
        session.rollback()
        raise NotFound(f"no anomaly {flag_id}")
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise FlagClosed(f"anomaly {flag_id} was acknowledged already")
    record(
        session,
        subject=subject,
        action=Action.anomaly_acknowledge,
        resource=collection("anomalies", case_no=flag.case_no),
        context=context,
        decision=decision,
        outcome="ok",
        detail={"anomaly": flag.id, "kind": flag.kind, "seq": flag.seq, "note": text},
    )
    session.commit()
    return flag
