"""The deposit format (SIP, 提交信息包): `case.json` and the files it names.

`read_sip` validates a deposit folder completely before anything is stored, and every
refusal is a `DepositRefused` whose message names the field or the path at fault.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from archive.errors import DepositRefused

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class EnforcementType(StrEnum):
    """The ten kinds of administrative enforcement (rules art. 2)."""

    penalty = "penalty"
    license = "license"
    coercion = "coercion"
    levy = "levy"
    requisition = "requisition"
    payment = "payment"
    confirmation = "confirmation"
    registration = "registration"
    adjudication = "adjudication"
    inspection = "inspection"


class Stage(StrEnum):
    """The five stages of the whole process (执法全过程, rules art. 2)."""

    initiation = "initiation"
    investigation = "investigation"
    decision = "decision"
    service = "service"
    archiving = "archiving"


class DocType(StrEnum):
    """What a record is; `av_footage` for audio/video, the rest for text records."""

    filing_approval = "filing_approval"
    case_source = "case_source"
    application = "application"
    correction_notice = "correction_notice"
    acceptance_notice = "acceptance_notice"
    inquiry_transcript = "inquiry_transcript"
    inspection_record = "inspection_record"
    expert_opinion = "expert_opinion"
    evidence_collection = "evidence_collection"
    sampling_record = "sampling_record"
    test_report = "test_report"
    preservation_record = "preservation_record"
    coercive_measure = "coercive_measure"
    rights_notice = "rights_notice"
    hearing_record = "hearing_record"
    expert_review = "expert_review"
    review_record = "review_record"
    decision = "decision"
    service_receipt = "service_receipt"
    performance_record = "performance_record"
    enforcement_record = "enforcement_record"
    closing_report = "closing_report"
    other = "other"
    av_footage = "av_footage"


class Activity(StrEnum):
    """Enforcement activities that are recorded on camera (rules art. 12)."""

    on_site_inspection = "on_site_inspection"
    random_inspection = "random_inspection"
    evidence_collection = "evidence_collection"
    evidence_preservation = "evidence_preservation"
    hearing = "hearing"
    coercion = "coercion"
    service = "service"
    other = "other"


class Level(StrEnum):
    """Sensitivity category (密级与敏感类别), ordered from least to most restricted."""

    none = "none"
    personal_privacy = "personal_privacy"
    commercial_secret = "commercial_secret"
    state_secret = "state_secret"


class Grade(StrEnum):
    """State-secret grade: 秘密 < 机密 < 绝密."""

    confidential = "confidential"
    secret = "secret"
    top_secret = "top_secret"


LEVEL_ORDER = list(Level)
GRADE_ORDER = list(Grade)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Classification(_Strict):
    level: Level
    grade: Grade | None = None

    @model_validator(mode="after")
    def _grade_only_for_state_secrets(self) -> Classification:
        if self.level is Level.state_secret and self.grade is None:
            raise ValueError("grade is required for state_secret")
        if self.level is not Level.state_secret and self.grade is not None:
            raise ValueError("grade is only allowed for state_secret")
        return self

    @property
    def rank(self) -> tuple[int, int]:
        """Sort key: level first, then grade."""
        grade = GRADE_ORDER.index(self.grade) + 1 if self.grade else 0
        return (LEVEL_ORDER.index(self.level), grade)


class ExOfficio(_Strict):
    """Initiated by the office itself (依职权): case source and filing."""

    mode: Literal["ex_officio"]
    source: Text
    filed_at: date


class OnApplication(_Strict):
    """Initiated on application (依申请): application, correction, acceptance."""

    mode: Literal["application"]
    applied_at: date
    accepted_at: date
    corrected_at: date | None = None


class Party(_Strict):
    name: Text
    kind: Literal["person", "organization"]
    id_number: Text | None = None
    role: Literal["party", "interested_party"] = "party"


class Officer(_Strict):
    name: Text
    badge_no: Text
    department: Text | None = None  # the unit the officer serves in (执法科室), for the art. 20 report


class Interruption(_Strict):
    at: AwareDatetime
    resumed_at: AwareDatetime | None = None
    reason: str | None = None


class AvFacts(_Strict):
    """Facts about one body-camera recording (音像记录, rules arts. 12–16)."""

    device_id: Text
    recorded_by: list[Text] = Field(min_length=1)
    activity: Activity
    started_at: AwareDatetime
    ended_at: AwareDatetime
    stored_at: AwareDatetime
    location: Text
    continuous_required: bool = False
    voice_statement: bool
    interruptions: list[Interruption] = []
    remote_duty: bool = False
    returned_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> AvFacts:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class EvidenceNote(_Strict):
    """Written note for AV used as evidence (rules art. 17); gaps become findings."""

    collector: str | None = None
    collected_at: AwareDatetime | None = None
    place: str | None = None


class Record(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    path: Text
    kind: Literal["text", "av"]
    doc_type: DocType
    stage: Stage
    title: Text
    created_at: AwareDatetime
    classification: Classification
    av: AvFacts | None = None
    evidence: EvidenceNote | None = None

    @model_validator(mode="after")
    def _kind_matches(self) -> Record:
        if self.kind == "av":
            if self.av is None:
                raise ValueError("av is required when kind is 'av'")
            if self.doc_type is not DocType.av_footage:
                raise ValueError("doc_type must be 'av_footage' when kind is 'av'")
        else:
            if self.av is not None or self.evidence is not None:
                raise ValueError("av and evidence are only allowed when kind is 'av'")
            if self.doc_type is DocType.av_footage:
                raise ValueError("doc_type 'av_footage' needs kind 'av'")
        return self


class CaseFile(_Strict):
    """`case.json`: one closed case and its records."""

    case_no: Text
    title: Text
    enforcement_type: EnforcementType
    initiation: Annotated[ExOfficio | OnApplication, Field(discriminator="mode")]
    parties: list[Party] = []
    officers: list[Officer] = []
    closed_at: date
    records: list[Record] = Field(min_length=1)

    @property
    def classification(self) -> Classification:
        """A bundle is as restricted as its most restricted record."""
        return max((r.classification for r in self.records), key=lambda c: c.rank)


@dataclass(frozen=True)
class SipFile:
    """One payload file of a deposit: the record it belongs to and where it is."""

    record: Record
    path: str  # normalised relative POSIX path, as it will stand under data/
    source: Path
    size: int


@dataclass(frozen=True)
class Sip:
    """A validated deposit folder, ready to be sealed."""

    folder: Path
    case: CaseFile
    case_json: bytes
    files: list[SipFile]


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"ex_officio", "application"} and out.endswith("initiation"):
            continue  # the discriminator tag is not a field the depositor wrote
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = _field(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "enum" or first["type"] == "literal_error":
        message = f"unknown value {first['input']!r}; {message[0].lower()}{message[1:]}"
    more = len(error.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"case.json: {where or '(top level)'}: {message}{tail}"


def parse_case_json(raw: bytes) -> CaseFile:
    """Parse and validate `case.json`; refusals name the field."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DepositRefused(f"case.json: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise DepositRefused(
            f"case.json: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise DepositRefused("case.json: nested too deeply to be a case description") from exc
    try:
        case = CaseFile.model_validate(data)
    except ValidationError as exc:
        raise DepositRefused(_describe(exc)) from exc
    seen: dict[str, int] = {}
    for index, record in enumerate(case.records):
        if record.id in seen:
            raise DepositRefused(
                f"case.json: records[{index}].id: {record.id!r} is already "
                f"the id of records[{seen[record.id]}]"
            )
        seen[record.id] = index
    return case


def _safe_relative(raw: str, field: str) -> str:
    """Normalise a record path, refusing anything that could leave the folder."""
    if "\\" in raw or "\x00" in raw:
        raise DepositRefused(f"case.json: {field}: {raw!r} must use '/' separators only")
    path = PurePosixPath(raw)
    if path.is_absolute():
        raise DepositRefused(f"case.json: {field}: {raw!r} is an absolute path")
    if any(part in {"..", "."} for part in path.parts) or not path.parts:
        raise DepositRefused(f"case.json: {field}: {raw!r} must not contain '.' or '..'")
    if path.parts[0] == "case.json" and len(path.parts) == 1:
        raise DepositRefused(f"case.json: {field}: a record cannot be case.json itself")
    return unicodedata.normalize("NFC", str(path))


def _walk(folder: Path) -> dict[str, Path]:
    """Every file under the folder by NFC relative path; symlinks anywhere are refused."""
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            entry = here / name
            rel = entry.relative_to(folder).as_posix()
            if entry.is_symlink():
                raise DepositRefused(f"{rel}: symbolic links are not accepted")
            if name in filenames:
                if not entry.is_file():
                    raise DepositRefused(f"{rel}: not a regular file")
                key = unicodedata.normalize("NFC", rel)
                if key in found:
                    other = found[key].relative_to(folder).as_posix()
                    raise DepositRefused(
                        f"{rel}: same name as another file after Unicode NFC normalisation "
                        f"({rel!a} and {other!a})"
                    )
                found[key] = entry
    return found


def read_sip(folder: Path) -> Sip:
    """Validate a deposit folder: case.json, every path, and that files and records agree."""
    if not folder.is_dir():
        raise DepositRefused(f"{folder}: not a folder")
    case_path = folder / "case.json"
    if case_path.is_symlink():
        raise DepositRefused("case.json: symbolic links are not accepted")
    if not case_path.is_file():
        raise DepositRefused(f"{case_path}: case.json is missing")
    try:
        raw = case_path.read_bytes()
    except OSError as exc:
        raise DepositRefused(f"case.json: cannot be read ({exc.strerror})") from exc
    case = parse_case_json(raw)

    present = _walk(folder)
    present.pop("case.json", None)
    named: dict[str, int] = {}
    files: list[SipFile] = []
    for index, record in enumerate(case.records):
        field = f"records[{index}].path"
        rel = _safe_relative(record.path, field)
        if rel in named:
            raise DepositRefused(
                f"case.json: {field}: {record.path!r} names the same file as "
                f"records[{named[rel]}].path (after Unicode NFC normalisation)"
            )
        named[rel] = index
        source = present.get(rel)
        if source is None:
            raise DepositRefused(f"case.json: {field}: {record.path!r} is named but missing")
        if not os.access(source, os.R_OK):
            raise DepositRefused(f"{rel}: cannot be read (permission denied)")
        files.append(SipFile(record=record, path=rel, source=source, size=source.stat().st_size))
    unnamed = sorted(set(present) - set(named))
    if unnamed:
        raise DepositRefused(f"{unnamed[0]}: present in the folder but not named in case.json")
    return Sip(folder=folder, case=case, case_json=raw, files=files)
