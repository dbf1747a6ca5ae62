"""Deposits over the API (`/api/v1`): a case folder as a ZIP body, or uploaded resumably with the
tus 1.0 protocol (core, creation and termination) and then deposited by upload id.

Uploads wait in staging (never the archive store) and belong to whoever created them: anyone
else is answered 404. The policy decides `bundle.deposit` before a byte of a deposit or a new
upload is taken, and the deposit itself goes the one way the command line's goes, so a refusal
names the field or path in the very words `casevault deposit` prints.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from access.policy import Action, collection, require
from archive import staging
from archive.errors import AlreadySealed, Refused, TooLarge
from portal.internal.deposit import operations
from portal.internal.deposit.schemas import DepositRequest, DepositResult, UploadCreated
from portal.web.api import service_errors
from portal.web.auth import API_CSRF, DB, Caller, Principal, client_address, policy_context, wired_of
from portal.web.schemas import api_router, errors

router = api_router(prefix="/api/v1", tag="internal", dependencies=[API_CSRF])

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination"
ZIP = "application/zip"
OFFSET_STREAM = "application/offset+octet-stream"
# The routes whose bodies may be as large as a deposit (the body limits let them through to it).
DEPOSIT_ROUTES = (re.compile(r"/api/v1/uploads/[^/]+"), re.compile(r"/api/v1/deposits"))
JSON_BODY_LIMIT = 1 << 20
MAX_DIGITS = 20  # a byte count in a header: 20 digits are more than any disk holds


def _tus(**more: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, **more}


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise HTTPException(
            412,
            f"Tus-Resumable: this server speaks tus {TUS_VERSION}",
            headers=_tus(**{"Tus-Version": TUS_VERSION}),
        )


def parse_metadata(value: str) -> dict[str, str]:
    """tus `Upload-Metadata`: comma-separated `key base64(value)` pairs (a key alone: empty value)."""
    found: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in value.split(","))):
        key, _, encoded = pair.partition(" ")
        if not key.isascii() or " " in key or key in found:
            raise HTTPException(
                400, f"Upload-Metadata: {key!r} is not a key, or is given twice", headers=_tus()
            )
        try:
            found[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise HTTPException(
                400, f"Upload-Metadata: {key}: not base64 of UTF-8 text", headers=_tus()
            ) from exc
    return found


def _encode_metadata(metadata: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())


@contextlib.contextmanager
def deposit_errors(headers: dict[str, str] | None = None) -> Iterator[None]:
    """The staging and deposit refusals as HTTP answers: 404 an upload not the caller's, 409 a
    case already sealed (naming its version) or a PATCH at the wrong offset, 413 beyond the
    maximum, 422 the CLI's own line naming the field or path; the policy's 403 as everywhere."""
    with service_errors():
        try:
            yield
        except staging.UploadNotFound as exc:
            raise HTTPException(404, "no such upload", headers=headers) from exc
        except (AlreadySealed, staging.OffsetMismatch) as exc:
            raise HTTPException(409, str(exc), headers=headers) from exc
        except TooLarge as exc:
            raise HTTPException(413, str(exc), headers=headers) from exc
        except Refused as exc:
            raise HTTPException(422, str(exc), headers=headers) from exc


def _may_deposit(request: Request, session: Session, caller: Principal) -> None:
    """The policy first: a caller who may not deposit is refused (and ledgered) before any byte."""
    with service_errors():
        require(
            session,
            subject=caller.subject,
            action=Action.bundle_deposit,
            resource=collection("archive"),
            context=policy_context(request, session, caller),
            detail={"staging": request.url.path},
        )
    session.commit()  # hand the connection back: what follows may take minutes


def _int_header(request: Request, name: str) -> int:
    value = request.headers.get(name, "")
    # ASCII digits only ("²" is a digit to str.isdigit, not to int), and few enough for int()
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_DIGITS:
        raise HTTPException(400, f"{name}: required, a whole number of bytes", headers=_tus())
    return int(value)


@router.options(
    "/uploads",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "What this tus server offers, in its headers"}, **errors(422)},
)
def upload_options(request: Request) -> Response:
    """tus discovery: `Tus-Version`, `Tus-Extension` (creation, termination) and `Tus-Max-Size`."""
    limit = wired_of(request).settings.deposit_limit_bytes
    headers = _tus(
        **{"Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS, "Tus-Max-Size": str(limit)}
    )
    return Response(status_code=204, headers=headers)


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadCreated,
    responses=errors(400, 401, 403, 412, 413, 422),
)
def create_upload(request: Request, response: Response, session: DB, caller: Caller) -> dict[str, Any]:
    """tus creation: `Upload-Length` (at most the configured maximum, else 413) and `Upload-Metadata`
    (`path`: the file's path in the case folder, when a folder is uploaded file by file). The new
    upload's URL is in `Location`; it belongs to the caller alone."""
    _may_deposit(request, session, caller)
    _require_tus(request)
    if "upload-defer-length" in request.headers:
        raise HTTPException(400, "Upload-Defer-Length: not supported; send Upload-Length", headers=_tus())
    length = _int_header(request, "Upload-Length")
    metadata = parse_metadata(request.headers.get("upload-metadata", ""))
    wired = wired_of(request)
    operations.sweep(wired)
    with deposit_errors(_tus()):
        upload = staging.create_upload(
            root=operations.staging_root(wired),
            owner=caller.user.id,
            length=length,
            metadata=metadata,
            limit=wired.settings.deposit_limit_bytes,
            now=wired.clock(),
        )
    location = f"/api/v1/uploads/{upload.id}"
    response.headers.update(_tus(Location=location, **{"Upload-Offset": "0"}))
    return {"id": upload.id, "location": location, "length": upload.length, "offset": 0}


def _own_upload(request: Request, caller: Principal, upload_id: str) -> staging.Upload:
    with deposit_errors(_tus()):
        return staging.find_upload(
            root=operations.staging_root(wired_of(request)), upload_id=upload_id, owner=caller.user.id
        )


@router.head(
    "/uploads/{upload_id}",
    status_code=200,
    response_class=Response,
    responses={
        200: {"description": "Where the upload stands, in `Upload-Offset` and `Upload-Length`"},
        **errors(401, 404, 412, 422),
    },
)
def upload_offset(request: Request, caller: Caller, upload_id: str) -> Response:
    """tus: how many bytes of the caller's upload the server holds (`Upload-Offset`): a client
    that was interrupted continues from there."""
    _require_tus(request)
    upload = _own_upload(request, caller, upload_id)
    headers = _tus(
        **{
            "Upload-Offset": str(upload.offset),
            "Upload-Length": str(upload.length),
            "Cache-Control": "no-store",
        }
    )
    if upload.metadata:
        headers["Upload-Metadata"] = _encode_metadata(upload.metadata)
    return Response(status_code=200, headers=headers)


@router.patch(
    "/uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "The bytes were taken; the new offset is in `Upload-Offset`"},
        **errors(400, 401, 403, 404, 409, 412, 413, 415, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_bytes(request: Request, session: DB, caller: Caller, upload_id: str) -> Response:
    """tus: append bytes at `Upload-Offset` (which must be where the upload stands, else 409),
    `Content-Type: application/offset+octet-stream`. What arrives stays even if the connection
    breaks halfway: HEAD tells where to continue."""
    await run_in_threadpool(session.commit)  # the caller is known: free the connection
    _require_tus(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != OFFSET_STREAM:
        raise HTTPException(415, f"Content-Type: must be {OFFSET_STREAM}", headers=_tus())
    offset = _int_header(request, "Upload-Offset")
    upload = _own_upload(request, caller, upload_id)
    written = offset
    with deposit_errors(_tus()), staging.appending(upload=upload, offset=offset) as out:
        try:
            async for chunk in request.stream():
                if written + len(chunk) > upload.length:
                    out.write(chunk[: upload.length - written])
                    raise HTTPException(
                        413, f"Upload-Length: {upload.length} bytes; this PATCH goes past it", headers=_tus()
                    )
                out.write(chunk)
                written += len(chunk)
        except ClientDisconnect:
            pass  # what arrived is kept; the client asks HEAD where to continue
    return Response(status_code=204, headers=_tus(**{"Upload-Offset": str(written)}))


@router.delete(
    "/uploads/{upload_id}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "The upload and its bytes are gone"}, **errors(401, 403, 404, 412, 422)},
)
def delete_upload(request: Request, caller: Caller, upload_id: str) -> Response:
    """tus termination: remove the caller's upload and what it received."""
    _require_tus(request)
    staging.remove_upload(upload=_own_upload(request, caller, upload_id))
    return Response(status_code=204, headers=_tus())


async def _receive_zip(request: Request, root: Path, limit: int) -> Path:
    """Stream a ZIP body into staging, refusing it (413) once it passes the maximum."""
    incoming = root / "incoming"
    incoming.mkdir(exist_ok=True, mode=0o700)
    target = incoming / f"{uuid.uuid4().hex}.zip"
    received = 0
    try:
        with target.open("xb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise TooLarge(
                        f"the ZIP: more than {limit} bytes; {staging.too_large(limit=limit)}", limit=limit
                    )
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _deposit_request(raw: bytes) -> DepositRequest:
    try:
        asked = DepositRequest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise HTTPException(422, f"{where}: {first['msg']}") from exc
    if (asked.upload is None) == (asked.uploads is None):
        raise HTTPException(422, "upload: give 'upload' (a ZIP) or 'uploads' (a folder's files), not both")
    return asked


@router.post(
    "/deposits",
    status_code=201,
    response_model=DepositResult,
    responses=errors(401, 403, 404, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                ZIP: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": DepositRequest.model_json_schema()},
            },
        }
    },
)
async def deposit(request: Request, session: DB, caller: Caller, supplement: bool = False) -> dict[str, Any]:
    """Seal a closed case: the case folder as a ZIP body (`Content-Type: application/zip`,
    streamed to staging, at most the configured maximum unpacked), or `{"upload": ID}` /
    `{"uploads": [ID, …]}` for what was uploaded with tus. 201 with what `casevault deposit --json`
    prints; 422 naming the field or path as the command line does, nothing stored; 409 naming the
    sealed version when the case is already sealed, unless `supplement` (the query parameter, or
    the JSON field) asks for version N+1."""
    await run_in_threadpool(_may_deposit, request, session, caller)
    wired = wired_of(request)
    root = operations.staging_root(wired)
    source = client_address(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    subject = caller.subject
    with deposit_errors():
        if media == ZIP:
            received = await _receive_zip(request, root, wired.settings.deposit_limit_bytes)
            try:
                return await run_in_threadpool(
                    operations.deposit_zip,
                    wired,
                    source_zip=received,
                    subject=subject,
                    source=source,
                    supplement=supplement,
                )
            finally:
                received.unlink(missing_ok=True)
        if media != "application/json":
            raise HTTPException(415, f"Content-Type: send {ZIP} (the case folder) or application/json")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > JSON_BODY_LIMIT:
                raise HTTPException(413, "request body too large: at most 1 MiB")
        asked = _deposit_request(raw)
        return await run_in_threadpool(
            operations.deposit_uploads,
            wired,
            upload=asked.upload,
            uploads=asked.uploads,
            owner=caller.user.id,
            subject=subject,
            source=source,
            supplement=supplement or asked.supplement,
        )
