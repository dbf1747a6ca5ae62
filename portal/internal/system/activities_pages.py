"""The list of activities recorded on video (音像记录清单, rules art. 12), as the system
administrator keeps it: every activity with its names, whether it is recorded throughout, why,
its place and whether it is published; each change needs a reason and is decided and ledgered
(`activities.edit`) in the same transaction as the change. The public portal shows what is published.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import activities
from access.policy import Action, collection
from archive.errors import Refused
from portal.web import api as web_api
from portal.web import auth
from portal.web.auth import DB, PAGE_CSRF, Principal
from portal.web.i18n import choose_lang, translate
from portal.web.pages import PageCaller, PageRoute, page
from portal.web.params import whole_number

router = APIRouter(include_in_schema=False, route_class=PageRoute, dependencies=[PAGE_CSRF])
LIST = collection("activities")
FIELDS = ("code", "name_zh", "name_en", "continuous", "basis", "position", "published", "reason")


def _messages(lang: str) -> dict[str, str]:
    """What a refused field says, by the field the refusal names."""
    return {
        "code": translate(lang, "activities.err.code"),
        "name_zh": translate(lang, "activities.err.name_zh"),
        "name_en": translate(lang, "activities.err.name_en"),
        "basis": translate(lang, "activities.err.basis"),
        "position": translate(lang, "activities.err.position"),
        "reason": translate(lang, "activities.err.reason"),
    }


def _list_page(
    request: Request,
    session: Session,
    caller: Principal,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "system/activities.html",
        status=status,
        activities=activities.listed(session),
        form=form or {},
        errors=errors or {},
        saved=request.query_params.get("saved", ""),
    )


@router.get("/admin/activities")
def activities_page(request: Request, session: DB, caller: PageCaller) -> Response:
    """The list as kept, published or not, with a change form for each activity and one to add one."""
    web_api.guard(request, session, caller, Action.settings_read, LIST)
    return _list_page(request, session, caller)


@router.post("/admin/activities")
def change_activity(
    request: Request,
    session: DB,
    caller: PageCaller,
    code: Annotated[str, Form()] = "",
    name_zh: Annotated[str, Form()] = "",
    name_en: Annotated[str, Form()] = "",
    continuous: Annotated[str, Form()] = "",
    basis: Annotated[str, Form()] = "",
    position: Annotated[str, Form()] = "",
    published: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Add or change one activity with a reason (ledgered) → 303 to the list; bad input → the list
    again with the message next to the field (422); a refusal → the refusal page (403)."""
    lang, _ = choose_lang(request)
    form = dict(
        zip(FIELDS, (code, name_zh, name_en, continuous, basis, position, published, reason), strict=True)
    )
    try:
        with web_api.service_errors():
            activities.change(
                session,
                subject=caller.subject,
                context=auth.policy_context(request, session, caller),
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                continuous=continuous == "yes",
                basis=basis,
                position=whole_number(position),
                published=published == "yes",
                reason=reason,
            )
        session.commit()
    except Refused as exc:
        session.rollback()
        field, _message = web_api.refused_field(exc, default="reason", known=FIELDS)
        said = _messages(lang).get(field, translate(lang, "activities.err.reason"))
        return _list_page(request, session, caller, form=form, errors={field: said}, status=422)
    except IntegrityError:  # the same new code added twice at once: the second is told
        session.rollback()
        said = translate(lang, "activities.err.code")
        return _list_page(request, session, caller, form=form, errors={"code": said}, status=409)
    return RedirectResponse(
        f"/admin/activities?saved={code.strip()}#activity-{code.strip()}", status_code=303
    )
