"""What the system administrator's settings page reads: the signing keys in use (read-only); the
health of the database and both stores is `portal.web.health`'s, shared with `/readyz`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access.checkpoints import LedgerCheckpoint
from archive.models import Bundle
from archive.seal import Keyring


@dataclass(frozen=True)
class SigningKey:
    """One key of the archive's keyring: seals and ledger checkpoints are signed with the current one."""

    kid: str
    created_at: datetime
    age_days: int
    current: bool
    retired_at: datetime | None
    seals: int
    last_seal: datetime | None
    checkpoints: int
    last_checkpoint: datetime | None


def signing_keys(session: Session, *, keyring: Keyring, now: datetime) -> list[SigningKey]:
    """Every key in the keyring, oldest first, with what it signed (bundle seals, checkpoints)."""
    seals = {
        kid: (n, last)
        for kid, n, last in session.execute(
            select(Bundle.seal_kid, func.count(), func.max(Bundle.sealed_at)).group_by(Bundle.seal_kid)
        )
    }
    signed = {
        kid: (n, last)
        for kid, n, last in session.execute(
            select(LedgerCheckpoint.kid, func.count(), func.max(LedgerCheckpoint.created_at)).group_by(
                LedgerCheckpoint.kid
            )
        )
    }
    return [
        SigningKey(
            kid=key.kid,
            created_at=key.created_at,
            age_days=max(0, (now - key.created_at).days),
            current=key.current,
            retired_at=key.retired_at,
            seals=seals.get(key.kid, (0, None))[0],
            last_seal=seals.get(key.kid, (0, None))[1],
            checkpoints=signed.get(key.kid, (0, None))[0],
            last_checkpoint=signed.get(key.kid, (0, None))[1],
        )
        for key in keyring.key_files()
    ]
