"""Users: creation, passwords (argon2id), sign-in with lockout, disable and reset."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from access import ledger
from access.models import Clearance, Department, Role, User
from archive.errors import Refused

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps the time of a sign-in for an unknown user like a known one's
    (made on first use, not at import: every command would pay for it)."""
    return _HASHER.hash("casevault-timing-equaliser")


USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MIN_PASSWORD = 12


@dataclass(frozen=True)
class Lockout:
    """How many failures lock an account, and for how long."""

    attempts: int = 5
    minutes: int = 15


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Refused(
            f"password: at least {MIN_PASSWORD} characters", code="account.password_short", n=MIN_PASSWORD
        )


def _check_standing(*, role: str, clearance: str, department: str | None) -> None:
    """Role, clearance and department that fit together; a refusal names the field."""
    if role not in Role.__members__:
        raise Refused(f"role: unknown role {role!r}; one of {', '.join(Role)}", code="account.role")
    if clearance not in Clearance.__members__:
        raise Refused(
            f"clearance: unknown value {clearance!r}; one of {', '.join(Clearance)}", code="account.clearance"
        )
    if role == Role.supervisor and department not in Department.__members__:
        raise Refused(
            f"department: supervisors need one of {', '.join(Department)}", code="account.department_needed"
        )
    if role != Role.supervisor and department is not None:
        raise Refused(
            "department: only supervisors belong to a supervisory department", code="account.department_only"
        )


def _reason_of(reason: str | None) -> dict[str, str]:
    """The reason an administrator gave, for the ledger entry (the command line gives none)."""
    return {"reason": reason.strip()} if reason and reason.strip() else {}


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    actor: str,
    now: datetime,
    password: str | None = None,
    display_name: str | None = None,
    clearance: str = "none",
    department: str | None = None,
    sso_subject: str | None = None,
    reason: str | None = None,
) -> User:
    """Add a user; the caller commits. Refusals name the field."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise Refused(
            f"username: {username!r} must be 2–64 of a-z 0-9 _ . - starting with a-z or 0-9",
            code="account.username_format",
        )
    _check_standing(role=role, clearance=clearance, department=department)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Refused(f"username: {username!r} is taken", code="account.username_taken")
    if password is not None:
        _check_password(password)
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        department=department,
        clearance=clearance,
        password_hash=_HASHER.hash(password) if password is not None else None,
        sso_subject=sso_subject,
        created_at=now,
    )
    session.add(user)
    session.flush()
    ledger.append(
        session,
        actor=actor,
        action="user.create",
        outcome="ok",
        at=now,
        detail={"username": username, "role": role, "clearance": clearance, "department": department}
        | _reason_of(reason),
    )
    return user


def get_user(session: Session, username: str) -> User:
    """A user by name, or a refusal naming it."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise Refused(f"username: no user {username!r}")
    return user


def set_password(
    session: Session, *, username: str, password: str, actor: str, now: datetime, reason: str | None = None
) -> User:
    """Reset a password; every token issued before stops working."""
    user = get_user(session, username)
    _check_password(password)
    user.password_hash = _HASHER.hash(password)
    user.token_version += 1
    user.failed_logins, user.locked_until = 0, None
    ledger.append(
        session,
        actor=actor,
        action="user.reset_password",
        outcome="ok",
        at=now,
        detail={"username": user.username} | _reason_of(reason),
    )
    return user


def set_disabled(
    session: Session, *, username: str, disabled: bool, actor: str, now: datetime, reason: str | None = None
) -> User:
    """Disable or re-enable an account; disabling ends every session and token."""
    user = get_user(session, username)
    user.disabled = disabled
    user.token_version += 1
    ledger.append(
        session,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        outcome="ok",
        at=now,
        detail={"username": user.username} | _reason_of(reason),
    )
    return user


def change_standing(
    session: Session,
    *,
    username: str,
    role: str,
    department: str | None,
    clearance: str,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> User:
    """Give an account a new role, department and clearance (checked together, as at creation);
    a changed role or clearance ends every session and token issued before."""
    user = get_user(session, username)
    _check_standing(role=role, clearance=clearance, department=department)
    before = {"role": user.role, "department": user.department, "clearance": user.clearance}
    after = {"role": role, "department": department, "clearance": clearance}
    changed = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
    if not changed:
        return user
    user.role, user.department, user.clearance = role, department, clearance
    if "role" in changed or "clearance" in changed:
        user.token_version += 1
    ledger.append(
        session,
        actor=actor,
        action="user.change",
        outcome="ok",
        at=now,
        detail={"username": user.username, "changed": changed} | _reason_of(reason),
    )
    return user


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    now: datetime,
    source: str | None,
    lockout: Lockout = Lockout(),
    admits: Callable[[User], bool] | None = None,
    door: str | None = None,
) -> User | None:
    """Check a password; failures count towards a lockout and every attempt is ledgered.

    A user the door does not `admit` is refused before the password is looked at: one door must
    neither lock out the other's accounts nor tell anyone whether their password is right.
    """
    name = username.strip().lower()
    # A name no account can have is never looked up (nor stored as typed: it may hold a NUL).
    user = session.scalar(select(User).where(User.username == name)) if USERNAME.match(name) else None
    if user is None and not USERNAME.match(name):
        name = name.encode("unicode_escape").decode("ascii")
    ok = False
    reason = "unknown user"
    refused_here = user is not None and admits is not None and not admits(user)
    if user is None or user.password_hash is None or refused_here:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_dummy_hash(), password + "!")  # the same time as a real check
        if refused_here:
            reason = "not an account of this door"
    elif user.disabled:
        reason = "account disabled"
    elif user.locked_until is not None and user.locked_until > now:
        reason = "account locked"
    else:
        try:
            ok = _HASHER.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            reason = "wrong password"
        if ok:
            user.failed_logins, user.locked_until = 0, None
            if _HASHER.check_needs_rehash(user.password_hash):
                user.password_hash = _HASHER.hash(password)
        else:
            user.failed_logins += 1
            if user.failed_logins >= lockout.attempts:
                user.locked_until = now + timedelta(minutes=lockout.minutes)
                reason = f"wrong password; locked for {lockout.minutes} minutes"
    ledger.append(
        session,
        actor=user.username if user else name[:64],
        action="auth.login",
        outcome="ok" if ok else "failed",
        source=source,
        at=now,
        detail=({} if ok else {"reason": reason}) | ({"door": door} if door else {}),
    )
    return user if ok else None
