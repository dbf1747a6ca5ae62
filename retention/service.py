"""The retention schedule in use: which rule governs a record, a bundle's disposition date, and
versioned changes of the schedule that move the dates of the bundles already kept.

"Class determines destiny" (以类定期): each record is governed by its most specific rule (the
longest term among equally specific ones); a bundle is kept as long as its longest-kept record,
permanently if any record is permanent. Records no rule names keep the configured default term
(`CASEVAULT_RETENTION_YEARS` from closing). A bundle's lock in the store follows its date; a lock
is only ever extended, so a shortened date leaves the lock where it was.

Nothing here writes the ledger: the caller decides, ledgers and commits (retention never imports
access).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from archive.db import claim_row
from archive.errors import Refused
from archive.models import Bundle
from archive.store import ObjectStore
from retention.disposition import Tombstone
from retention.models import RetentionRule, ScheduleMove, ScheduleVersion
from retention.schedule import (
    CaseFacts,
    Event,
    RecordFacts,
    RuleSpec,
    Term,
    add_months,
    add_years,
    facts_of_bundle,
    midnight,
)

Progress = Callable[[int], None]  # called with 1 for each bundle done
DEFAULT_CODE = "default"
# "Permanent" is a lock this far ahead, renewed by `retention run` once less than half is left.
PERMANENT_LOCK_YEARS = 10
RENEW_BELOW_YEARS = 5
CHANGES = ("add", "change", "retire")


def default_rule(years: int) -> RuleSpec:
    """The term of case files the schedule does not name: `years` from closing."""
    return RuleSpec(
        code=DEFAULT_CODE,
        title="未列入保管期限表的案卷",
        enforcement_type=None,
        kind=None,
        doc_type=None,
        evidence=None,
        term=Term.years,
        count=years,
        basis="CASEVAULT_RETENTION_YEARS",
    )


def spec_of(row: RetentionRule) -> RuleSpec:
    """A stored rule as the schedule reads it."""
    return RuleSpec(
        code=row.code,
        title=row.title,
        enforcement_type=row.enforcement_type,
        kind=row.kind,
        doc_type=row.doc_type,
        evidence=row.evidence,
        term=Term(row.term),
        count=row.count,
        counts_from=Event(row.counts_from),
        basis=row.basis,
    )


def _row_of(spec: RuleSpec) -> RetentionRule:
    return RetentionRule(
        code=spec.code,
        title=spec.title,
        enforcement_type=spec.enforcement_type,
        kind=spec.kind,
        doc_type=spec.doc_type,
        evidence=spec.evidence,
        term=spec.term.value,
        count=spec.count,
        counts_from=spec.counts_from.value,
        basis=spec.basis,
    )


def current_version(session: Session) -> ScheduleVersion | None:
    """The schedule in force: the newest version (the migration seeds version 1)."""
    return session.scalar(select(ScheduleVersion).order_by(ScheduleVersion.id.desc()).limit(1))


def versions(session: Session, *, limit: int = 20) -> list[ScheduleVersion]:
    """The newest versions first, each with its rules and the bundles it moved."""
    query = (
        select(ScheduleVersion)
        .options(selectinload(ScheduleVersion.rules), selectinload(ScheduleVersion.moves))
        .order_by(ScheduleVersion.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def current_rules(session: Session) -> tuple[int | None, list[RuleSpec]]:
    """The version in force and its rules."""
    version = current_version(session)
    return (None, []) if version is None else (version.id, [spec_of(r) for r in version.rules])


# --- matching ---------------------------------------------------------------------------------


def _names(rule: RuleSpec, case: CaseFacts, record: RecordFacts) -> bool:
    return (
        rule.enforcement_type in (None, case.enforcement_type)
        and rule.kind in (None, record.kind)
        and rule.doc_type in (None, record.doc_type)
        and (rule.evidence is None or (record.kind == "av" and rule.evidence == record.evidence))
    )


def record_date(rule: RuleSpec, *, case: CaseFacts, record: RecordFacts) -> datetime | None:
    """When the rule's term ends for this record; None for permanent (and for "with the case",
    whose date is the rest of the case file's)."""
    if rule.term in (Term.permanent, Term.with_case) or rule.count is None:
        return None
    start = case.closed_at if rule.counts_from is Event.closed_at else record.created_at.date()
    end = add_years(start, rule.count) if rule.term is Term.years else add_months(start, rule.count)
    return midnight(end)


def _length(rule: RuleSpec, case: CaseFacts, record: RecordFacts) -> int:
    """Orders terms for one record: with the case < any dated term (by its end) < permanent."""
    if rule.term is Term.permanent:
        return 1 << 30
    end = record_date(rule, case=case, record=record)
    return -1 if end is None else end.toordinal()


def match_rules(*, rules: Iterable[RuleSpec], case: CaseFacts, record: RecordFacts) -> RuleSpec | None:
    """The rule that governs a record: the most specific that names it, then the longest term,
    then the first code; None when no rule names it."""
    named = [rule for rule in rules if _names(rule, case, record)]
    if not named:
        return None
    return min(named, key=lambda r: (-r.specificity, -_length(r, case, record), r.code))


@dataclass(frozen=True)
class Disposition:
    """A bundle's disposition date (None: permanent), the rule that set it, and its schedule version."""

    date: datetime | None
    rule: RuleSpec
    version: int | None

    @property
    def permanent(self) -> bool:
        """Kept forever: its lock is renewed ahead of time, it is never due."""
        return self.date is None

    def as_json(self) -> dict[str, object]:
        """The rule as the API shows it beside `disposition_date`."""
        rule = self.rule
        return {
            "schedule_version": self.version,
            "code": rule.code,
            "title": rule.title,
            "term": rule.term.value,
            "count": rule.count,
            "counts_from": rule.counts_from.value,
            "basis": rule.basis,
        }


def disposition_date(
    *, case: CaseFacts, rules: Sequence[RuleSpec], default_years: int, version: int | None
) -> Disposition:
    """A case file's disposition: permanent if any record is, else the latest of its records'
    dates; records no rule names count the default term, and a file whose every record goes
    "with the case" keeps the default term."""
    fallback = default_rule(default_years)
    dated: list[tuple[datetime, RuleSpec]] = []
    for record in case.records:
        rule = match_rules(rules=rules, case=case, record=record) or fallback
        if rule.term is Term.permanent:
            return Disposition(None, rule, version)
        end = record_date(rule, case=case, record=record)
        if end is not None:
            dated.append((end, rule))
    if not dated:
        dated.append((_date_of(fallback, case), fallback))
    end, rule = max(dated, key=lambda pair: pair[0])
    return Disposition(end, rule, version)


def _date_of(rule: RuleSpec, case: CaseFacts) -> datetime:
    """A default-term date (counted from closing, so no record is needed)."""
    assert rule.count is not None and rule.counts_from is Event.closed_at
    return midnight(add_years(case.closed_at, rule.count))


def bundle_disposition(*, session: Session, bundle: Bundle, default_years: int) -> Disposition:
    """A sealed bundle's disposition under the schedule in force."""
    version, rules = current_rules(session)
    return disposition_date(
        case=facts_of_bundle(bundle), rules=rules, default_years=default_years, version=version
    )


def _not_destroyed() -> ColumnElement[bool]:
    """A bundle that still has its objects: no tombstone (a destroyed one has nothing to lock)."""
    return ~select(Tombstone.bundle_id).where(Tombstone.bundle_id == Bundle.id).exists()


def kept_under(*, session: Session, bundle: Bundle, default_years: int) -> str:
    """The rule a bundle is kept under and until when, as a tombstone and certificate name it."""
    found = bundle_disposition(session=session, bundle=bundle, default_years=default_years)
    version = f", schedule version {found.version}" if found.version is not None else ""
    until = bundle.retain_until.date().isoformat()
    return f"{found.rule.code} {found.rule.title}{version}; kept until {until}"


def permanent_lock_until(now: datetime) -> datetime:
    """The lock a permanent bundle holds: `PERMANENT_LOCK_YEARS` ahead, at midnight UTC."""
    return midnight(add_years(now.date(), PERMANENT_LOCK_YEARS))


def lock_date(disposition: Disposition, *, now: datetime) -> datetime:
    """What `Bundle.retain_until` (and the objects' lock) is for a disposition."""
    return disposition.date if disposition.date is not None else permanent_lock_until(now)


# --- changing the schedule ------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A bundle whose date a change moved (None: permanent) and whether its locks follow."""

    bundle_id: str
    case_no: str
    version: int
    old_date: datetime | None
    new_date: datetime | None
    lock_until: datetime | None  # None: shortened, the lock stays where it was


@dataclass(frozen=True)
class ScheduleEdit:
    """A new schedule version and the bundles it moves."""

    version: ScheduleVersion
    moves: list[Move]


def _next_code(session: Session) -> str:
    numbers = [
        int(code[1:])
        for code in session.scalars(select(RetentionRule.code).distinct())
        if code[:1] == "R" and code[1:].isdigit()
    ]
    return f"R{max(numbers, default=0) + 1}"


def _changed_rules(
    session: Session, rules: list[RuleSpec], *, change: str, code: str | None, rule: RuleSpec | None
) -> tuple[str, list[RuleSpec]]:
    """The rules after the change, and the code it was about."""
    if change not in CHANGES:
        raise Refused(f"change: one of {', '.join(CHANGES)}", code="schedule.change")
    by_code = {r.code: r for r in rules}
    if change != "add" and code not in by_code:
        raise Refused(f"code: no rule {code!r} in the schedule in force", code="schedule.no_rule", rule=code)
    if change == "retire":
        assert code is not None
        return code, [r for r in rules if r.code != code]
    if rule is None:
        raise Refused("rule: the rule to add or change is missing", code="schedule.rule_missing")
    code = _next_code(session) if change == "add" else code
    assert code is not None
    new = replace(rule, code=code).checked()
    kept = [r for r in rules if r.code != code]
    clash = next((r for r in kept if r.criteria == new.criteria), None)
    if clash is not None:
        raise Refused(f"criteria: rule {clash.code} already names the same records; change that one")
    return code, sorted([*kept, new], key=lambda r: r.code)


def _set_by_schedule(bundle: Bundle, old: Disposition) -> bool:
    """Whether the bundle's date is the one the schedule gave it (an appraisal's is kept)."""
    return old.permanent or bundle.retain_until == old.date


def edit_schedule(
    *,
    session: Session,
    change: str,
    code: str | None,
    rule: RuleSpec | None,
    actor: str,
    reason: str,
    now: datetime,
    default_years: int,
) -> ScheduleEdit:
    """Add, change or retire a rule as a new schedule version, and move every bundle whose date
    the schedule set and the change alters; the caller ledgers and commits, then `extend_locks`."""
    if not reason.strip():
        raise Refused("reason: say why the schedule changes")
    current = current_version(session)
    if current is not None:
        # A second editor of the same version waits here, then fails on the unique `based_on`.
        claim_row(session, ScheduleVersion, current.id)
        session.get(ScheduleVersion, current.id, with_for_update=True, populate_existing=True)
    old_rules = [] if current is None else [spec_of(r) for r in current.rules]
    code, new_rules = _changed_rules(session, old_rules, change=change, code=code, rule=rule)
    based_on = None if current is None else current.id
    version = ScheduleVersion(
        based_on=based_on,
        created_at=now,
        created_by=actor,
        reason=reason.strip(),
        change=change,
        rule_code=code,
        rules=[_row_of(r) for r in new_rules],
    )
    session.add(version)
    session.flush()
    moves = []
    bundles = session.scalars(
        select(Bundle)
        .where(_not_destroyed())
        .options(selectinload(Bundle.records), selectinload(Bundle.case))
        .order_by(Bundle.sealed_at)
    )
    for bundle in bundles:
        facts = facts_of_bundle(bundle)
        old = disposition_date(case=facts, rules=old_rules, default_years=default_years, version=based_on)
        new = disposition_date(case=facts, rules=new_rules, default_years=default_years, version=version.id)
        if old.date == new.date or not _set_by_schedule(bundle, old):
            continue
        target = new.date if new.date is not None else max(bundle.retain_until, permanent_lock_until(now))
        lock = target if target > bundle.retain_until else None
        bundle.retain_until = target
        session.add(
            ScheduleMove(
                version_id=version.id,
                bundle_id=bundle.id,
                old_date=old.date,
                new_date=new.date,
                lock_until=lock,
            )
        )
        moves.append(Move(bundle.id, bundle.case.case_no, bundle.version, old.date, new.date, lock))
    session.flush()
    return ScheduleEdit(version=version, moves=moves)


# --- the locks --------------------------------------------------------------------------------


def extend_bundle_lock(*, store: ObjectStore, bundle: Bundle, until: datetime) -> int:
    """Extend every object's lock of a bundle to `until` where it ends sooner; how many were."""
    extended = 0
    for item in bundle.files:
        current = store.retained_until(item.key, version_id=item.version_id)
        if current is None or current < until:
            store.apply_retention(item.key, version_id=item.version_id, until=until)
            extended += 1
    return extended


def extend_locks(
    *, session: Session, store: ObjectStore, now: datetime, progress: Progress | None = None
) -> int:
    """Extend the locks that committed schedule changes lengthened, oldest first, one bundle per
    commit (so an interrupted run resumes where it stopped); how many bundles were done."""
    pending = select(ScheduleMove).where(
        ScheduleMove.lock_until.is_not(None), ScheduleMove.locked_at.is_(None)
    )
    done = 0
    for move in list(session.scalars(pending.order_by(ScheduleMove.id))):
        bundle = session.get(Bundle, move.bundle_id)
        assert bundle is not None and move.lock_until is not None  # a foreign key and the query
        extend_bundle_lock(store=store, bundle=bundle, until=move.lock_until)
        move.locked_at = now
        session.commit()
        done += 1
        if progress is not None:
            progress(1)
    return done


def extend_permanent_locks(
    *,
    session: Session,
    store: ObjectStore,
    now: datetime,
    default_years: int,
    progress: Progress | None = None,
) -> list[str]:
    """Renew the lock of every bundle the schedule keeps permanently once less than
    `RENEW_BELOW_YEARS` of it is left, to `permanent_lock_until(now)`; one bundle per commit.
    The ids renewed (for `retention run` to report and ledger)."""
    version, rules = current_rules(session)
    soon = midnight(add_years(now.date(), RENEW_BELOW_YEARS))
    ahead = permanent_lock_until(now)
    renewed = []
    query = select(Bundle).where(Bundle.retain_until < soon, _not_destroyed()).order_by(Bundle.retain_until)
    for bundle in list(session.scalars(query)):
        facts = facts_of_bundle(bundle)
        if not disposition_date(
            case=facts, rules=rules, default_years=default_years, version=version
        ).permanent:
            continue
        extend_bundle_lock(store=store, bundle=bundle, until=ahead)
        bundle.retain_until = ahead
        session.commit()
        renewed.append(bundle.id)
        if progress is not None:
            progress(1)
    return renewed
