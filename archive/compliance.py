"""Compliance checks against the whole-process-recording rules (执法全过程记录制度).

`check_case` reads a validated `CaseFile` (and, at deposit, the leading bytes of its text
records) and returns findings, each naming its article.
Findings are accepted, never refused: they are recorded in the bundle's `compliance.json`
(a list of `Finding.as_json()`) and on the compliance report, and never stop a deposit.
Each finding says what kind of gap it is (`Gap`) and names the officers answerable for it (art. 20):
who recorded the footage it is about (`recorded_by`), else every officer of the case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from archive.sip import CaseFile, DocType, EnforcementType, Officer, Record, SipFile, Stage

STORE_LIMIT = timedelta(hours=24)
ADVERSE = {
    EnforcementType.penalty,
    EnforcementType.coercion,
    EnforcementType.levy,
    EnforcementType.requisition,
}
SHOWS_OFFICER_ID = {DocType.inquiry_transcript, DocType.inspection_record}
LATER_STAGES = (  # article, the record it asks for, what is then unrecorded
    (9, DocType.decision, "the decision", "执法决定"),
    (9, DocType.review_record, "the review before the decision", "决定前的审核"),
    (10, DocType.service_receipt, "service on the party", "送达情况"),
    (11, DocType.closing_report, "closing of the case", "结案归档情况"),
)
# Text records a browser would run as a page or a script: by name, or by what their first bytes say.
ACTIVE_SUFFIXES = {
    ".html": "HTML",
    ".htm": "HTML",
    ".xhtml": "HTML",
    ".shtml": "HTML",
    ".svg": "SVG",
    ".svgz": "SVG",
    ".js": "script",
    ".mjs": "script",
    ".xml": "XML",
}
ACTIVE_MARKUP = re.compile(rb"<(?:!doctype\s+html|html|head|body|script|iframe|object|embed|svg)[\s>/]")
BINARY_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\xff\xd8\xff", b"\x89PNG", b"II*\x00", b"MM\x00*", b"GIF8")
SNIFF_BYTES = 4096


class Gap(StrEnum):
    """What kind of gap a finding is: the accountability report (art. 20) counts them by kind."""

    missing_stage = "missing_stage"  # arts. 7, 9, 10, 11: a stage's record is missing
    officers_unlisted = "officers_unlisted"  # art. 8: no officer named
    id_not_shown = "id_not_shown"  # art. 8: no record of the officers showing their IDs
    rights_not_notified = "rights_not_notified"  # art. 8: no rights notice for an adverse action
    active_content = "active_content"  # art. 15: a text record a browser would run
    no_voice_statement = "no_voice_statement"  # art. 14
    interruption_unexplained = "interruption_unexplained"  # art. 14: no reason given
    interrupted_continuous = "interrupted_continuous"  # art. 14: continuous recording interrupted
    return_unrecorded = "return_unrecorded"  # art. 16: remote duty without the return time
    stored_late = "stored_late"  # art. 16: stored more than 24 h after
    evidence_incomplete = "evidence_incomplete"  # art. 17: collector, time or place missing


@dataclass(frozen=True)
class Responsible:
    """An officer a finding names: badge number, name (None when case.json names no such officer)."""

    badge_no: str
    name: str | None
    department: str | None = None

    def as_json(self) -> dict[str, str | None]:
        """As `compliance.json` keeps it."""
        return {"badge_no": self.badge_no, "name": self.name, "department": self.department}


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One gap against an article of the rules; a warning, never a refusal."""

    article: int
    record_id: str | None
    severity: str = "warning"
    message: str
    message_zh: str
    gap: Gap
    officers: tuple[Responsible, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The entry written to `compliance.json`."""
        return {
            "article": self.article,
            "record_id": self.record_id,
            "severity": self.severity,
            "message": self.message,
            "message_zh": self.message_zh,
            "gap": self.gap.value,
            "officers": [o.as_json() for o in self.officers],
        }


# How a finding sealed before findings said their kind is told apart: by its English message.
_GAP_WORDING = (
    (re.compile(r"interruption at .* has no reason"), Gap.interruption_unexplained),
    (re.compile(r"continuous recording required"), Gap.interrupted_continuous),
    (re.compile(r"no voice statement"), Gap.no_voice_statement),
    (re.compile(r"returned_at is missing"), Gap.return_unrecorded),
    (re.compile(r"stored .* after"), Gap.stored_late),
    (re.compile(r"used as evidence"), Gap.evidence_incomplete),
    (re.compile(r"no officers"), Gap.officers_unlisted),
    (re.compile(r"presenting their IDs"), Gap.id_not_shown),
    (re.compile(r"rights_notice"), Gap.rights_not_notified),
    (re.compile(r"which a browser would run"), Gap.active_content),
)


def gap_of(finding: Mapping[str, Any]) -> Gap:
    """The kind of a stored finding: as it says, or for one sealed before findings said it, by its wording."""
    said = finding.get("gap")
    if isinstance(said, str) and said in Gap.__members__:
        return Gap(said)
    message = str(finding.get("message") or "")
    for pattern, gap in _GAP_WORDING:
        if pattern.search(message):
            return gap
    return Gap.missing_stage


def responsible(case: CaseFile, record: Record | None = None) -> tuple[Responsible, ...]:
    """Who answers for a gap: the officers who recorded the footage, else every officer of the case."""
    known = {o.badge_no: o for o in case.officers}
    if record is not None and record.av is not None:
        return tuple(_named(known.get(badge), badge) for badge in record.av.recorded_by)
    return tuple(_named(o, o.badge_no) for o in case.officers)


def _named(officer: Officer | None, badge_no: str) -> Responsible:
    if officer is None:
        return Responsible(badge_no=badge_no, name=None)
    return Responsible(badge_no=badge_no, name=officer.name, department=officer.department)


def _name(record: Record) -> str:
    """How a message names a record: its id and title."""
    return f'record {record.id} "{record.title}"'


def _hours(delta: timedelta) -> str:
    """A duration in hours, for messages."""
    return f"{delta.total_seconds() / 3600:.1f} h"


def _initiation(case: CaseFile) -> list[Finding]:
    """Art. 7: case source and filing (依职权), or application, correction, acceptance (依申请)."""
    present = {r.doc_type for r in case.records if r.stage is Stage.initiation}
    if case.initiation.mode == "ex_officio":
        needed = [DocType.case_source, DocType.filing_approval]
        mode, mode_zh = "ex officio", "依职权"
    else:
        needed = [DocType.application, DocType.acceptance_notice]
        if case.initiation.corrected_at is not None:
            needed.append(DocType.correction_notice)
        mode, mode_zh = "on-application", "依申请"
    return [
        Finding(
            article=7,
            record_id=None,
            gap=Gap.missing_stage,
            message=f"{mode} case has no initiation-stage record of doc_type {doc.value}",
            message_zh=f"{mode_zh}启动的案件在立案环节缺少 {doc.value} 记录",
        )
        for doc in needed
        if doc not in present
    ]


def _investigation(case: CaseFile) -> list[Finding]:
    """Art. 8: officers and their ID presentation, and the rights notice for adverse actions."""
    found: list[Finding] = []
    if not case.officers:
        found.append(
            Finding(
                article=8,
                record_id=None,
                gap=Gap.officers_unlisted,
                message="no officers (names and badge numbers) are listed",
                message_zh="未列明执法人员姓名及执法证号",
            )
        )
    investigation = [r for r in case.records if r.stage is Stage.investigation]
    if investigation and not any(
        r.doc_type in SHOWS_OFFICER_ID or (r.av is not None and r.av.voice_statement) for r in investigation
    ):
        found.append(
            Finding(
                article=8,
                record_id=None,
                gap=Gap.id_not_shown,
                message="no investigation record shows the officers presenting their IDs "
                "(an inquiry_transcript, inspection_record, or AV with a voice statement)",
                message_zh="调查取证环节没有记录执法人员出示执法证件的情况"
                "（询问笔录、现场检查笔录或有语音说明的音像记录）",
            )
        )
    if case.enforcement_type in ADVERSE and not _has(case, DocType.rights_notice):
        found.append(
            Finding(
                article=8,
                record_id=None,
                gap=Gap.rights_not_notified,
                message=f"{case.enforcement_type.value} case has no rights_notice record "
                "(right to state, defend, request recusal or a hearing)",
                message_zh="缺少告知当事人陈述、申辩、申请回避、申请听证等权利的记录（rights_notice）",
            )
        )
    return found


def _has(case: CaseFile, doc_type: DocType) -> bool:
    """Whether any record of the case has this doc_type."""
    return any(r.doc_type is doc_type for r in case.records)


def _missing(case: CaseFile, *, article: int, doc_type: DocType, what: str, what_zh: str) -> list[Finding]:
    """A case-level finding when no record has this doc_type."""
    if _has(case, doc_type):
        return []
    return [
        Finding(
            article=article,
            record_id=None,
            gap=Gap.missing_stage,
            message=f"no {doc_type.value} record, so {what} is not recorded",
            message_zh=f"缺少 {doc_type.value} 记录，{what_zh}未留痕",
        )
    ]


def _av(record: Record) -> list[Finding]:
    """Arts. 14 (voice statement, gaps), 16 (storage within 24 h), 17 (evidence note)."""
    av = record.av
    if av is None:
        return []
    name = _name(record)
    name_zh = f"记录 {record.id}《{record.title}》"
    found: list[Finding] = []
    if not av.voice_statement:
        found.append(
            Finding(
                article=14,
                record_id=record.id,
                gap=Gap.no_voice_statement,
                message=f"{name} has no voice statement at the start",
                message_zh=f"{name_zh}开始时没有语音说明（时间、地点、执法人员、执法事项）",
            )
        )
    for pause in av.interruptions:
        at = pause.at.isoformat()
        if not (pause.reason or "").strip():
            found.append(
                Finding(
                    article=14,
                    record_id=record.id,
                    gap=Gap.interruption_unexplained,
                    message=f"{name}: interruption at {at} has no reason",
                    message_zh=f"{name_zh}在 {at} 中断，未说明原因",
                )
            )
        if av.continuous_required:
            found.append(
                Finding(
                    article=14,
                    record_id=record.id,
                    gap=Gap.interrupted_continuous,
                    message=f"{name}: continuous recording required but interrupted at {at}",
                    message_zh=f"{name_zh}要求不间断记录，但在 {at} 中断",
                )
            )
    since = av.returned_at if av.remote_duty else av.ended_at
    if since is None:
        found.append(
            Finding(
                article=16,
                record_id=record.id,
                gap=Gap.return_unrecorded,
                message=f"{name}: remote duty but returned_at is missing",
                message_zh=f"{name_zh}为异地执法，但未填写返回时间（returned_at）",
            )
        )
    elif av.stored_at - since > STORE_LIMIT:
        event = "return from remote duty" if av.remote_duty else "it ended"
        event_zh = "返回单位后" if av.remote_duty else "记录结束后"
        found.append(
            Finding(
                article=16,
                record_id=record.id,
                gap=Gap.stored_late,
                message=f"{name}: stored {_hours(av.stored_at - since)} after {event} (limit 24 h)",
                message_zh=f"{name_zh}于{event_zh} {_hours(av.stored_at - since)} 才存储（应在 24 小时内）",
            )
        )
    if record.evidence is not None:
        note = record.evidence
        gaps = [
            field
            for field in ("collector", "collected_at", "place")
            if not str(getattr(note, field) or "").strip()
        ]
        if gaps:
            found.append(
                Finding(
                    article=17,
                    record_id=record.id,
                    gap=Gap.evidence_incomplete,
                    message=f"{name}: used as evidence but its note lacks {', '.join(gaps)}",
                    message_zh=f"{name_zh}作为证据使用，但文字说明缺少 {'、'.join(gaps)}",
                )
            )
    return found


def active_kind(name: str, head: bytes) -> str | None:
    """What a browser would run a file as (HTML, SVG, script, XML), or None."""
    by_name = ACTIVE_SUFFIXES.get(PurePosixPath(name).suffix.lower())
    if by_name is not None:
        return by_name
    if head.startswith(BINARY_MAGIC):
        return None  # a PDF or image may hold such bytes in its streams: its type decides
    found = ACTIVE_MARKUP.search(head.lower())
    if found is None:
        return None
    return "SVG" if found.group().startswith(b"<svg") else "HTML"


def _active_content(files: Iterable[SipFile]) -> list[Finding]:
    """Art. 15: a text record that is HTML, script or SVG is kept, but only ever sent as a download."""
    found: list[Finding] = []
    for item in files:
        if item.record.kind != "text":
            continue
        with item.source.open("rb") as handle:
            kind = active_kind(item.path, handle.read(SNIFF_BYTES))
        if kind is None:
            continue
        record = item.record
        found.append(
            Finding(
                article=15,
                record_id=record.id,
                gap=Gap.active_content,
                message=f"{_name(record)}: {item.path} is {kind}, which a browser would run; "
                "it is kept as deposited but only ever sent as a download",
                message_zh=f"记录 {record.id}《{record.title}》的文件 {item.path} 为 {kind} 内容，"
                "浏览器会执行其中的脚本；已按原样保存，但只提供下载，不在浏览器中显示",
            )
        )
    return found


def check_case(case: CaseFile, files: Iterable[SipFile] = ()) -> list[Finding]:
    """Every finding for a case (with `files`, also those about their content), sorted by
    (article, record_id)."""
    found = _initiation(case) + _investigation(case) + _active_content(files)
    for article, doc_type, what, what_zh in LATER_STAGES:
        found += _missing(case, article=article, doc_type=doc_type, what=what, what_zh=what_zh)
    for record in case.records:
        found += _av(record)
    records = {r.id: r for r in case.records}
    named = [
        replace(f, officers=responsible(case, records.get(f.record_id) if f.record_id else None))
        for f in found
    ]
    return sorted(named, key=lambda f: (f.article, f.record_id or ""))
