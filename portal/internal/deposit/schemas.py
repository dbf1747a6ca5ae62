"""The deposit API's answers and requests (`portal.internal.deposit.api`), as the OpenAPI document
describes them; the handlers build the bodies, these models check them on the way out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from portal.web.schemas import Body


class Finding(Body):
    """One compliance finding of a sealed deposit (the article of the rules it is about)."""

    article: int
    record_id: str | None
    severity: str
    message: str
    message_zh: str


class DepositResult(Body):
    """What `casevault deposit --json` prints: the sealed bundle, its version, seal and findings."""

    bundle_id: str
    case_no: str
    version: int
    seal_digest: str
    classification: str
    findings: list[Finding]


class UploadCreated(Body):
    """A new tus upload: where to PATCH its bytes (also in the `Location` header)."""

    id: str
    location: str
    length: int
    offset: int


class DepositRequest(BaseModel):
    """A deposit of what was uploaded with tus: one ZIP of the case folder (`upload`), or the
    folder's files one by one (`uploads`, each with its relative `path` in `Upload-Metadata`).
    `supplement` must be true to seal a case that is already sealed as its next version."""

    model_config = ConfigDict(extra="forbid")

    upload: str | None = Field(
        default=None, description="id of a tus upload holding the case folder as a ZIP"
    )
    uploads: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="ids of tus uploads, one per file of the folder, each with its relative path",
    )
    supplement: bool = Field(default=False, description="seal an already sealed case as version N+1")
