"""The retention schedule (保管期限表): what a rule says, and the facts of a case it is judged on.

A rule names some of: enforcement type, record kind, document type, and (for audio-video) whether
the footage is used as evidence; it gives a term — permanent, 30 or 10 years (国家档案局令第8号
art. 6), at least 6 months for footage not used as evidence (公安机关现场执法视音频记录工作规定
art. 13), or "with the case file" (随卷, rules art. 17) — counted from an event. `RuleSpec.checked`
refuses every rule the regulations do not allow, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum

from archive.errors import Refused
from archive.models import Bundle
from archive.sip import CaseFile, DocType, EnforcementType

KINDS = ("text", "av")
FIXED_YEARS = (10, 30)  # 国家档案局令第8号 art. 6: permanent, or 30 or 10 years
MIN_FOOTAGE_MONTHS = 6  # 公安机关现场执法视音频记录工作规定 art. 13: at least six months


class Term(StrEnum):
    """How long a rule keeps what it names."""

    permanent = "permanent"  # 永久
    years = "years"  # 定期: 30 or 10 years
    months = "months"  # footage not used as evidence only, at least 6
    with_case = "with_case"  # 随卷: as long as the rest of the case file


class Event(StrEnum):
    """What a term counts from."""

    closed_at = "closed_at"  # the case was closed (结案)
    created_at = "created_at"  # the record was made (for footage: recorded)


@dataclass(frozen=True)
class RuleSpec:
    """One rule of the schedule: what it names (None: any) and the term it gives."""

    code: str
    title: str
    enforcement_type: str | None
    kind: str | None
    doc_type: str | None
    evidence: bool | None
    term: Term
    count: int | None
    counts_from: Event = Event.closed_at
    basis: str = ""

    @property
    def criteria(self) -> tuple[str | None, str | None, str | None, bool | None]:
        """What the rule names; two rules of one schedule never name the same."""
        return (self.enforcement_type, self.kind, self.doc_type, self.evidence)

    @property
    def specificity(self) -> int:
        """How many things the rule names: the more, the more it says about a record."""
        return sum(value is not None for value in self.criteria)

    def checked(self) -> RuleSpec:
        """The rule with its kind implied by its document type; refusals name the field."""
        if self.enforcement_type is not None and self.enforcement_type not in set(EnforcementType):
            raise Refused(
                f"enforcement_type: unknown value {self.enforcement_type!r}",
                code="schedule.unknown_value",
                field="enforcement_type",
                value=self.enforcement_type,
            )
        if self.doc_type is not None and self.doc_type not in set(DocType):
            raise Refused(
                f"doc_type: unknown value {self.doc_type!r}",
                code="schedule.unknown_value",
                field="doc_type",
                value=self.doc_type,
            )
        if self.kind is not None and self.kind not in KINDS:
            raise Refused(
                f"kind: unknown value {self.kind!r}",
                code="schedule.unknown_value",
                field="kind",
                value=self.kind,
            )
        kind = self.kind
        if self.doc_type is not None:
            implied = "av" if self.doc_type == DocType.av_footage else "text"
            if kind not in (None, implied):
                raise Refused(
                    f"kind: doc_type {self.doc_type} is a {implied} record",
                    code="schedule.kind_is_av" if implied == "av" else "schedule.kind_is_text",
                    doc_type=self.doc_type,
                )
            kind = implied
        if self.evidence is not None and kind != "av":
            raise Refused(
                "evidence: only audio-video records are used as evidence or not; set kind av",
                code="schedule.evidence_needs_av",
            )
        if self.term is Term.years and self.count not in FIXED_YEARS:
            raise Refused(
                "count: a fixed term is 30 or 10 years (国家档案局令第8号 art. 6)",
                code="schedule.fixed_years",
            )
        if self.term is Term.months:
            if kind != "av" or self.evidence is not False:
                raise Refused(
                    "term: months are only for footage not used as evidence (kind av, evidence no)",
                    code="schedule.months_need_footage",
                )
            if self.count is None or self.count < MIN_FOOTAGE_MONTHS:
                raise Refused(
                    f"count: footage is kept at least {MIN_FOOTAGE_MONTHS} months (art. 13)",
                    code="schedule.min_months",
                    n=MIN_FOOTAGE_MONTHS,
                )
        if self.term in (Term.permanent, Term.with_case) and self.count is not None:
            raise Refused(f"count: a {self.term.value} term has no count", code="schedule.no_count")
        if not self.title.strip():
            raise Refused("title: say what the rule is about", code="schedule.title_missing")
        return replace(self, kind=kind, title=self.title.strip(), basis=self.basis.strip())


@dataclass(frozen=True)
class RecordFacts:
    """What the schedule reads of one record."""

    kind: str
    doc_type: str
    evidence: bool  # footage used as evidence carries the written note of rules art. 17
    created_at: datetime


@dataclass(frozen=True)
class CaseFacts:
    """What the schedule reads of one case file (a deposit, or a sealed bundle)."""

    enforcement_type: str
    closed_at: date
    records: tuple[RecordFacts, ...]


def facts_of_sip(case: CaseFile) -> CaseFacts:
    """A deposit's case file as the schedule reads it."""
    return CaseFacts(
        enforcement_type=case.enforcement_type.value,
        closed_at=case.closed_at,
        records=tuple(
            RecordFacts(r.kind, r.doc_type.value, r.evidence is not None, r.created_at) for r in case.records
        ),
    )


def facts_of_bundle(bundle: Bundle) -> CaseFacts:
    """A sealed bundle as the schedule reads it."""
    return CaseFacts(
        enforcement_type=bundle.case.enforcement_type,
        closed_at=bundle.case.closed_at,
        records=tuple(
            RecordFacts(r.kind, r.doc_type, r.evidence is not None, r.created_at) for r in bundle.records
        ),
    )


def add_years(day: date, years: int) -> date:
    """The same day `years` later (28 February for a 29th in a year that has none)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def midnight(day: date) -> datetime:
    """A retention date: midnight UTC at the start of that day."""
    return datetime.combine(day, time.min, tzinfo=UTC)
