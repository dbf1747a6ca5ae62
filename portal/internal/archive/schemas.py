"""The archive API's answers (`portal.internal.archive.api`, `.copies`), as the OpenAPI document
describes them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from typing import Any

from portal.web.schemas import Body, Day, Number, Timestamp


class ListedCase(Body):
    """A case the caller may know of, with its latest bundle; a withheld title is replaced."""

    case_no: str
    title: str
    withheld: bool
    enforcement_type: str
    closed_at: Day
    bundle_id: str
    version: int
    classification: str
    grade: str | None


class DestroyedCase(Body):
    """A case whose bundle was destroyed: only its tombstone is left."""

    case_no: str
    title: str
    bundle_id: str
    version: int
    destroyed_at: Timestamp
    certificate_no: str


class CaseList(Body):
    """`GET /api/v1/cases`."""

    cases: list[ListedCase]
    destroyed: list[DestroyedCase]


class FoundCase(Body):
    """A case a search found: number, title (null above the caller's clearance), type and dates."""

    case_no: str
    title: str | None
    withheld: bool
    enforcement_type: str
    closed_at: Day
    sealed_at: Timestamp
    version: int
    bundle_id: str
    granted: bool


class CaseSearch(Body):
    """`GET /api/v1/cases/search`: case metadata only; ask for a case with a retrieval request."""

    cases: list[FoundCase]
    limited: bool


class RetentionRule(Body):
    """The schedule's rule that set a bundle's disposition date."""

    schedule_version: int | None
    code: str
    title: str
    term: str
    count: int | None
    counts_from: str
    basis: str


class BundleRecord(Body):
    """A record of a bundle the caller may see: its metadata, never its content."""

    record_id: str
    title: str
    kind: str
    doc_type: str
    stage: str
    created_at: Timestamp
    classification: str
    grade: str | None
    file_name: str
    av: dict[str, Any] | None


class BundleDetail(Body):
    """`GET /api/v1/bundles/{bundle_id}`."""

    bundle_id: str
    case_no: str
    title: str
    withheld: bool
    version: int
    previous_bundle_id: str | None
    sealed_at: Timestamp
    sealed_by: str
    seal_digest: str
    classification: str
    grade: str | None
    retain_until: Timestamp
    disposition_date: Timestamp | None
    retention_rule: RetentionRule
    records: list[BundleRecord]
    withheld_records: int
    findings: list[dict[str, Any]]


class CopyJob(Body):
    """A watermarked copy (or viewing rendition) being prepared for its user."""

    job_id: str
    status: str
    progress: Number
    bundle_id: str
    record_id: str
    error: str | None
    file_name: str | None
    size: int | None
    view_url: str | None


class CopyPreparing(CopyJob):
    """202 from a record's content while its watermarked rendition is being prepared."""

    status_url: str


class CopyStatus(CopyJob):
    """`GET /api/v1/copies/{job_id}`: the job, and where to fetch the copy once it is ready."""

    download_url: str | None


class CopyStarted(Body):
    """202 from `POST …/copies`: the job and where to follow it."""

    job_id: str
    status: str
    status_url: str
