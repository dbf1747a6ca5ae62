"""Browser sessions (会话): random ids in an HttpOnly cookie, stored hashed, with a CSRF token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from access.models import User, WebSession

LIFETIME = timedelta(hours=8)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start(session: Session, *, user: User, now: datetime) -> tuple[str, WebSession]:
    """A fresh session for a user who just signed in; returns the cookie value."""
    value = secrets.token_urlsafe(32)
    row = WebSession(
        id_hash=_hash(value),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        token_version=user.token_version,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    return value, row


def resume(session: Session, *, cookie: str, now: datetime) -> tuple[WebSession, User] | None:
    """The live session and user a cookie names, or None."""
    row = session.get(WebSession, _hash(cookie))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled or user.token_version != row.token_version:
        return None
    return row, user


def end(session: Session, *, cookie: str, now: datetime) -> None:
    """Sign out: the cookie value stops working at once."""
    row = session.get(WebSession, _hash(cookie))
    if row is not None and row.ended_at is None:
        row.ended_at = now
