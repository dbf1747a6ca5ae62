"""The reply (答复, art. 36): the records an officer may choose from, and the reply itself, which
copies released records (checked against their seals) and uploaded redacted derivatives (art. 37)
into the release realm, where the applicant may see them for a limited time."""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath
from typing import BinaryIO

from sqlalchemy.orm import Session

from access import ledger, workdays
from access.disclosure.deadlines import office_day
from access.disclosure.errors import (
    BasisNotApplicable,
    FileTooLarge,
    NoArchivedCase,
    NotARecordOfCase,
    NothingChosen,
    RedactionNotApplicable,
    ReleasedTwice,
    ReleaseNotApplicable,
    SealMismatch,
)
from access.disclosure.inputs import choice, safe_filename, text
from access.disclosure.models import DisclosureRequest, ReleasedItem
from access.disclosure.schemas import (
    NEEDS_BASIS,
    RELEASING,
    Basis,
    Candidate,
    DecisionType,
    Redaction,
    RequestView,
    request_view,
)
from access.disclosure.steps import add_message, ledger_step, permitted_request, resource_of_request
from access.disclosure.transitions import Step, advance, check
from access.policy import Action, Context, Subject, decide, release_of, require, resource_of
from archive import catalogue
from archive.models import BundleFile, CaseRecord
from archive.service import latest_bundle
from archive.store import CHUNK, ObjectInfo, ObjectStore
from retention import holds

MAX_REDACTED_BYTES = 200 << 20


def candidates(session: Session, *, subject: Subject, context: Context, request_id: int) -> list[Candidate]:
    """The records of the request's case an officer may choose from (metadata only; staff only)."""
    row = permitted_request(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_read,
        request_id=request_id,
        lock=False,
    )
    # Record titles name parties and witnesses: the list belongs to the office's queue, not to applicants.
    require(
        session,
        subject=subject,
        action=Action.disclosure_queue,
        resource=resource_of_request(row),
        context=context,
    )
    bundle = latest_bundle(session, row.case_no) if row.case_no else None
    records = bundle.records if bundle else []
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_queue,
        row=row,
        detail={"candidates": len(records)},
    )
    if bundle is None:
        return []
    return [
        Candidate(
            bundle.id,
            r.record_id,
            r.title if decide(subject, Action.bundle_read, resource_of(bundle, r), context).allowed else None,
            r.path,
            r.kind,
            r.classification,
            r.grade,
            r.classification != "state_secret",
        )
        for r in bundle.records
    ]


@dataclass(frozen=True)
class _Answer:
    """The reply as checked: its type, reasons and basis, and what it releases whole."""

    kind: DecisionType
    reasons: str
    basis: str | None
    record_ids: list[str]


@dataclass(frozen=True)
class _Release:
    """One record to copy into the release realm, whole or as its redacted derivative."""

    record: CaseRecord
    stored: BundleFile
    redaction: Redaction | None
    filename: str


def _checked_answer(
    *,
    decision: str,
    reasons: str,
    basis: str | None,
    record_ids: Sequence[str],
    redactions: Sequence[Redaction],
) -> _Answer:
    """The reply's type, reasons and basis, and that what it releases fits the type."""
    kind = DecisionType(choice("decision", decision, DecisionType))
    reasons = text("reasons", reasons)
    if kind in NEEDS_BASIS:
        basis = choice("basis", basis, Basis)
    elif basis:
        raise BasisNotApplicable(kind.value)
    chosen = list(dict.fromkeys(record_ids))
    if kind in RELEASING and not chosen and not redactions:
        raise NothingChosen()
    if kind not in RELEASING and (chosen or redactions):
        raise ReleaseNotApplicable(kind.value)
    if redactions and kind is not DecisionType.partly_released:
        raise RedactionNotApplicable()
    if both := sorted(set(chosen) & {r.record_id for r in redactions}):
        raise ReleasedTwice(both)
    return _Answer(kind, reasons, basis, chosen)


def _planned_releases(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    row: DisclosureRequest,
    record_ids: Sequence[str],
    redactions: Sequence[Redaction],
) -> list[_Release]:
    """The records of the request's case to release, each one the policy allows releasing."""
    if not record_ids and not redactions:
        return []
    bundle = latest_bundle(session, row.case_no) if row.case_no else None
    if bundle is None:
        raise NoArchivedCase()
    wanted = [(rid, None) for rid in record_ids] + [(r.record_id, r) for r in redactions]
    found = {record_id: catalogue.find_record(bundle, record_id) for record_id, _ in wanted}
    located: dict[str, tuple[CaseRecord, BundleFile]] = {}
    for record_id, pair in found.items():
        if pair is None:
            raise NotARecordOfCase(record_id, row.case_no)
        located[record_id] = pair
    planned = []
    for record_id, redaction in wanted:
        case_record, stored = located[record_id]
        resource = release_of(resource_of_request(row), resource_of(bundle, case_record))
        require(
            session, subject=subject, action=Action.disclosure_release, resource=resource, context=context
        )
        filename = safe_filename(redaction.filename) if redaction else PurePosixPath(case_record.path).name
        planned.append(_Release(case_record, stored, redaction, filename))
    return planned


def _release_key(row: DisclosureRequest, attempt: str, index: int, filename: str) -> str:
    # A key per attempt: copies a failed attempt could not take back never block the next one.
    return f"releases/{row.tracking_code}/{attempt}/{index:03d}-{filename}"


def _copy(
    stream: Iterable[bytes],
    writer_store: ObjectStore,
    key: str,
    *,
    tags: dict[str, str],
    limit: int | None = None,
    sealed_sha256: str | None = None,
) -> tuple[int, str]:
    """Stream into the release realm, hashing on the way; visible only if it all arrives (and matches)."""
    writer = writer_store.open_writer(key, tags=tags)
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in stream:
            size += len(chunk)
            if limit is not None and size > limit:
                raise FileTooLarge(limit)
            digest.update(chunk)
            writer.write(chunk)
        if sealed_sha256 is not None and digest.hexdigest() != sealed_sha256:
            raise SealMismatch(tags["record"], expected=sealed_sha256, found=digest.hexdigest())
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return size, digest.hexdigest()


def _discard(store: ObjectStore, keys: Iterable[str], *, at: datetime) -> None:
    """Take back the copies of a reply that failed; a store that is down keeps them, unreferenced."""
    for key in keys:
        with contextlib.suppress(Exception):
            store.discard(ObjectInfo(key=key, modified_at=at))


def _media_type(filename: str) -> str:
    """The media type the name implies; generic if unknown."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _chunks(stream: BinaryIO) -> Iterable[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _copy_releases(
    *,
    row: DisclosureRequest,
    releases: Sequence[_Release],
    archive: ObjectStore,
    release: ObjectStore,
    at: datetime,
    copied: list[str],
) -> list[ReleasedItem]:
    """Copy each release into the release realm, noting each key in `copied` as it is kept."""
    attempt, items = secrets.token_hex(4), list[ReleasedItem]()
    for index, planned in enumerate(releases, start=1):
        tags = {"realm": "release", "request": row.tracking_code, "record": planned.record.record_id}
        key = _release_key(row, attempt, index, planned.filename)
        stored = planned.stored
        if planned.redaction is None:
            sealed = archive.read(stored.key, version_id=stored.version_id)
            size, sha256 = _copy(sealed, release, key, tags=tags, sealed_sha256=stored.sha256)
        else:
            tags["redacted"] = "yes"
            uploaded = _chunks(planned.redaction.stream)
            size, sha256 = _copy(uploaded, release, key, tags=tags, limit=MAX_REDACTED_BYTES)
        copied.append(key)
        items.append(
            ReleasedItem(
                bundle_id=stored.bundle_id,
                record_id=planned.record.record_id,
                title=planned.record.title,
                filename=planned.filename,
                media_type=_media_type(planned.filename),
                key=key,
                size=size,
                sha256=sha256,
                redacted=planned.redaction is not None,
                original_sha256=stored.sha256,
                released_at=at,
            )
        )
    return items


def _keep_reply(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    request_id: int,
    answer: _Answer,
    items: list[ReleasedItem],
    release_days: int,
    today: date,
) -> DisclosureRequest:
    """Lock the request, check it is still unanswered, and keep the reply with its items."""
    row = permitted_request(
        session, subject=subject, context=context, action=Action.disclosure_decide, request_id=request_id
    )
    check(row, Step.reply)  # another reply may have come while copying
    row.items.extend(items)
    row.decision = answer.kind.value
    row.decision_basis = answer.basis
    row.reasons = answer.reasons
    row.decided_on = today
    row.decided_by_id = subject.user_id
    advance(row, Step.reply)
    holds.close_for_request(session, request_id=row.id, now=context.now)
    row.release_until = context.now + timedelta(days=release_days) if items else None
    session.flush()
    add_message(
        row, kind="decision", from_office=True, author=subject.username, body=answer.reasons, at=context.now
    )
    ledger_step(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_decide,
        row=row,
        detail={
            "decision": answer.kind.value,
            "basis": answer.basis,
            "due_on": str(row.due_on),
            "items": [
                {
                    "record": i.record_id,
                    "sha256": i.sha256,
                    "original_sha256": i.original_sha256,
                    "redacted": i.redacted,
                }
                for i in row.items
            ],
        },
    )
    return row


def _ledger_seal_mismatch(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    row: DisclosureRequest,
    request_id: int,
    exc: SealMismatch,
) -> None:
    """Damage to a sealed record is itself an event to audit: ledgered and committed on its own."""
    session.rollback()
    ledger.append(
        session,
        actor=subject.username,
        action=Action.disclosure_release.value,
        outcome="seal-mismatch",
        case_no=row.case_no,
        record_id=exc.record_id,
        source=context.source,
        at=context.now,
        detail={"request": request_id, "expected_sha256": exc.expected, "found_sha256": exc.found},
    )
    session.commit()


def decide_request(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    calendar: workdays.WorkCalendar,
    archive: ObjectStore,
    release: ObjectStore,
    release_days: int,
    request_id: int,
    decision: str,
    reasons: str,
    basis: str | None = None,
    record_ids: Sequence[str] = (),
    redactions: Sequence[Redaction] = (),
) -> RequestView:
    """Answer the request (答复, art. 36). Released records are copied from the archive realm into
    the release realm (checked against their sealed SHA-256), redacted derivatives are stored there
    linked to their originals; the applicant may see them for `release_days` days."""
    # Decided and checked unlocked: the copies below may take minutes (footage), and no other
    # write should wait for them. The request is locked and checked again before anything is kept.
    row = permitted_request(
        session,
        subject=subject,
        context=context,
        action=Action.disclosure_decide,
        request_id=request_id,
        lock=False,
    )
    check(row, Step.reply)
    answer = _checked_answer(
        decision=decision, reasons=reasons, basis=basis, record_ids=record_ids, redactions=redactions
    )
    releases = _planned_releases(
        session,
        subject=subject,
        context=context,
        row=row,
        record_ids=answer.record_ids,
        redactions=redactions,
    )
    today = office_day(context.now)
    copied: list[str] = []
    try:
        items = _copy_releases(
            row=row, releases=releases, archive=archive, release=release, at=context.now, copied=copied
        )
        row = _keep_reply(
            session,
            subject=subject,
            context=context,
            request_id=request_id,
            answer=answer,
            items=items,
            release_days=release_days,
            today=today,
        )
    except BaseException as exc:
        # The caller rolls back the rows; the copies are taken back here, so a failed reply
        # leaves nothing in the release realm.
        _discard(release, copied, at=context.now)
        if isinstance(exc, SealMismatch):
            _ledger_seal_mismatch(
                session, subject=subject, context=context, row=row, request_id=request_id, exc=exc
            )
        raise
    return request_view(row, calendar=calendar, today=today)
