"""The deposit pages (归档): choose the case folder or its ZIP, watch each file upload (tus, with a
progress bar per file, resumed after an interruption), then the command line's own verdict —
the refusal naming the field or path, an offer to seal a supplement, or the sealed result with
its findings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from access.policy import Action, collection, require
from archive import staging
from archive.errors import AlreadySealed, Refused, TooLarge
from portal.internal.deposit import operations
from portal.web.api import service_errors
from portal.web.auth import DB, PAGE_CSRF, client_address, policy_context, wired_of
from portal.web.i18n import choose_lang
from portal.web.pages import PageCaller, PageRoute, page

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])


def _may_deposit(request: Request, session: DB, caller: PageCaller) -> None:
    """Only those the policy lets deposit see the form; a refusal is ledgered and shown."""
    with service_errors():
        require(
            session,
            subject=caller.subject,
            action=Action.bundle_deposit,
            resource=collection("archive"),
            context=policy_context(request, session, caller),
            detail={"page": request.url.path},
        )
    session.commit()


def _form(request: Request, *, status: int = 200, **context: Any) -> Response:
    settings = wired_of(request).settings
    return page(
        request,
        "deposit/form.html",
        status=status,
        limit_gib=f"{settings.deposit_limit_bytes / (1 << 30):.4g}",
        limit=settings.deposit_limit_bytes,
        **{"refused": None, "sealed": None, "upload": "", "uploads": [], **context},
    )


@router.get("/deposit")
def deposit_form(request: Request, session: DB, caller: PageCaller) -> Response:
    """The deposit form: a folder (or its ZIP), uploaded file by file with tus."""
    _may_deposit(request, session, caller)
    return _form(request)


@router.post("/deposit")
def deposit_page(
    request: Request,
    session: DB,
    caller: PageCaller,
    upload: Annotated[str, Form()] = "",
    uploads: Annotated[list[str] | None, Form()] = None,
    supplement: Annotated[str, Form()] = "",
) -> Response:
    """Seal what was uploaded, as `POST /api/v1/deposits` does: the result with its findings, the
    refusal in the command line's words (nothing stored), or the question whether to seal version N+1."""
    _may_deposit(request, session, caller)
    ids = [i for i in (uploads or []) if i]
    if not upload and not ids:
        return _form(
            request, status=422, refused={"message": "upload: nothing was uploaded", "too_large": False}
        )
    kept = {"upload": upload, "uploads": ids}
    try:
        result = operations.deposit_uploads(
            wired_of(request),
            upload=upload or None,
            uploads=None if upload else ids,
            owner=caller.user.id,
            subject=caller.subject,
            source=client_address(request),
            supplement=supplement == "1",
        )
    except staging.UploadNotFound as exc:
        raise HTTPException(404, "no such upload") from exc
    except AlreadySealed as exc:
        return _form(request, status=409, sealed=exc.params, **kept)
    except (TooLarge, Refused) as exc:
        status = 413 if isinstance(exc, TooLarge) else 422
        return _form(
            request, status=status, refused={"message": str(exc), "too_large": status == 413}, **kept
        )
    lang, _ = choose_lang(request)
    findings = [
        {**f, "shown": f.get("message_zh") if lang == "zh" else f["message"]} for f in result["findings"]
    ]
    return page(request, "deposit/result.html", result=result, findings=findings)
