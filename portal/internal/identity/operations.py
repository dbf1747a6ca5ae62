"""Account administration (账户管理) for the security administrator, shared by the pages and the
API: each change is decided by the policy and ledgered (`enforce`, with the account and the
reason) in the same transaction as the change itself, which `access.identities` makes — the same
functions `casevault users` calls.

A refusal is committed with its ledger entry and raised as `policy.Denied`; bad input is a
`Refused` naming the field, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import identities, policy
from access.models import Clearance, Role, User
from access.policy import Action, Context, Resource, Subject, account_of, collection
from archive.errors import Refused

USERS = collection("users")
# The roles an administrator gives: applicants register themselves on the public portal.
STAFF_ROLES = tuple(r.value for r in Role if r is not Role.applicant)
CLEARANCES = tuple(c.value for c in Clearance)
REASON_MAX = 500
# What one change may set; everything else of an account is its own business (or the sign-in's).
CHANGES = frozenset({"role", "department", "clearance", "disabled", "password"})


def account_json(user: User, *, now: datetime) -> dict[str, Any]:
    """An account as the API and the pages show it: never its password hash."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "department": user.department,
        "clearance": user.clearance,
        "disabled": user.disabled,
        "locked": user.locked_until is not None and user.locked_until > now,
        "sso": user.sso_subject is not None,
        "password": user.password_hash is not None,
        "created_at": user.created_at.isoformat(),
    }


def _reason(reason: str) -> str:
    """Every change says why; a refusal names the field."""
    text = reason.strip()
    if not text:
        raise Refused("reason: say why this account is changed", code="account.reason")
    if len(text) > REASON_MAX:
        raise Refused(f"reason: at most {REASON_MAX} characters", code="account.reason_long", n=REASON_MAX)
    return text


def _decided(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    action: Action,
    resource: Resource,
    detail: dict[str, Any],
) -> None:
    """Decide and ledger in the caller's transaction; a refusal is committed at once and raised."""
    decision = policy.enforce(
        session, subject=subject, action=action, resource=resource, context=context, detail=detail
    )
    if not decision.allowed:
        session.commit()
        raise policy.Denied(decision)


def list_accounts(session: Session, *, subject: Subject, context: Context) -> list[dict[str, Any]]:
    """Every account, by username (decided and ledgered as `user.read`; the caller commits)."""
    _decided(session, subject=subject, context=context, action=Action.user_read, resource=USERS, detail={})
    users = session.scalars(select(User).order_by(User.username))
    return [account_json(u, now=context.now) for u in users]


def may_create(session: Session, *, subject: Subject, context: Context) -> None:
    """Whether the caller may create accounts (the new-account form); only a refusal is ledgered."""
    policy.require(session, subject=subject, action=Action.user_create, resource=USERS, context=context)


def get_account(session: Session, *, subject: Subject, context: Context, username: str) -> User:
    """One account (decided and ledgered as `user.read` naming it; the caller commits)."""
    detail = {"username": username}
    _decided(
        session, subject=subject, context=context, action=Action.user_read, resource=USERS, detail=detail
    )
    return identities.get_user(session, username)


def create_account(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    username: str,
    role: str,
    reason: str,
    password: str | None,
    display_name: str | None = None,
    department: str | None = None,
    clearance: str = "none",
) -> User:
    """Add a staff account with a reason; the caller commits. Refusals name the field."""
    attempt = {"username": username.strip().lower(), "role": role, "clearance": clearance, "reason": reason}
    account = account_of(attempt["username"], roles={role})
    _decided(
        session, subject=subject, context=context, action=Action.user_create, resource=account, detail=attempt
    )
    why = _reason(reason)
    if role == Role.applicant:
        raise Refused("role: applicants register on the public portal", code="account.applicant_role")
    try:
        return identities.create_user(
            session,
            username=username,
            role=role,
            actor=subject.username,
            now=context.now,
            password=password or None,
            display_name=(display_name or "").strip() or None,
            clearance=clearance,
            department=department or None,
            reason=why,
        )
    except IntegrityError as exc:  # the same username made by someone else a moment ago
        raise Refused(f"username: {attempt['username']!r} is taken", code="account.username_taken") from exc


def update_account(
    session: Session,
    *,
    subject: Subject,
    context: Context,
    username: str,
    changes: Mapping[str, Any],
    reason: str,
) -> User:
    """Change an account (only the keys of `changes`: role, department, clearance, disabled,
    password) with a reason; the caller commits.

    A change of role or clearance is `user.role`, which nobody takes on their own account; the
    rest is `user.update`. Both are decided before the account is looked up. Leaving the
    supervisor role drops the department; a department is kept while the role stays supervisor."""
    name = username.strip().lower()
    unknown = set(changes) - CHANGES
    if unknown:
        raise Refused(f"{sorted(unknown)[0]}: cannot be changed here")
    shown = {k: v for k, v in changes.items() if k != "password"} | (
        {"password": "(reset)"} if "password" in changes else {}
    )
    detail = {"username": name, "changes": shown, "reason": reason}
    # The role it holds and the one it would take (an unknown account: found missing once decided).
    held = session.scalar(select(User.role).where(User.username == name))
    account = account_of(name, roles={r for r in (held, changes.get("role")) if r})
    if "role" in changes or "clearance" in changes:
        _decided(
            session,
            subject=subject,
            context=context,
            action=Action.user_role,
            resource=account,
            detail=detail,
        )
    if set(changes) - {"role", "clearance"} or not changes:
        _decided(
            session,
            subject=subject,
            context=context,
            action=Action.user_update,
            resource=account,
            detail=detail,
        )
    why = _reason(reason)
    user = identities.get_user(session, name)
    actor, now = subject.username, context.now
    role = changes.get("role") or user.role
    if role == Role.applicant or (user.role == Role.applicant and "role" in changes):
        raise Refused("role: applicants register on the public portal", code="account.applicant_role")
    if "department" in changes:
        department = changes["department"] or None
    else:
        department = user.department if role == Role.supervisor else None
    clearance = changes.get("clearance") or user.clearance
    identities.change_standing(
        session,
        username=name,
        role=role,
        department=department,
        clearance=clearance,
        actor=actor,
        now=now,
        reason=why,
    )
    if "disabled" in changes and bool(changes["disabled"]) != user.disabled:
        identities.set_disabled(
            session, username=name, disabled=bool(changes["disabled"]), actor=actor, now=now, reason=why
        )
    if "password" in changes:
        identities.set_password(
            session, username=name, password=str(changes["password"] or ""), actor=actor, now=now, reason=why
        )
    return user
