"""What every JSON route shares: a refusal as 403 naming its rule, a service's refusals as HTTP
answers, and the one call that decides, ledgers and commits an access."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from access.errors import Conflict, NotFound
from access.policy import (
    Action,
    Decision,
    Resource,
    enforce,
)
from access.policy import Denied as PolicyDenied
from archive.errors import Refused
from portal.web.auth import (
    Principal,
    policy_context,
)


class Denied(HTTPException):
    """403 naming the rule that refused."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(403, {"rule": decision.rule, "reason": decision.reason})


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """A workflow service's refusals as HTTP answers: 403 naming the rule, 404 unknown, 409 wrong
    state. Other refusals pass on (422, naming the field)."""
    try:
        yield
    except PolicyDenied as exc:
        raise Denied(exc.decision) from exc
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc


def refused_field(exc: Refused, *, default: str, known: Iterable[str] | None = None) -> tuple[str, str]:
    """The field a service refusal names (`"field: message"`) and its message."""
    name, sep, message = str(exc).partition(": ")
    named = name in known if known is not None else name.replace("_", "").isalnum()
    return (name, message) if sep and named else (default, str(exc))


def guard(
    request: Request, session: Session, caller: Principal, action: Action, resource: Resource
) -> Decision:
    """Decide, ledger and commit the decision; raise 403 when denied."""
    decision = enforce(
        session,
        subject=caller.subject,
        action=action,
        resource=resource,
        context=policy_context(request, session, caller),
    )
    session.commit()
    if not decision.allowed:
        raise Denied(decision)
    return decision
