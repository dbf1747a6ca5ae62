"""Ledger operations the command line and the serve loop run: sign a checkpoint when one is
due, walk the chain against the checkpoints' locked copies."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import chain, checkpoints
from portal.wiring import Wired


def verify_ledger(wired: Wired) -> chain.ChainReport:
    """Walk the whole ledger chain and check every signed checkpoint against the locked copies."""
    with wired.sessions() as session:
        return verify_against_store(wired, session=session)


def verify_against_store(wired: Wired, *, session: Session) -> chain.ChainReport:
    """`chain.verify_with_store` with this archive's store, keys and retention."""
    return chain.verify_with_store(
        session,
        store=wired.store,
        jwks=wired.keyring.jwks(),
        retain_for=wired.settings.checkpoint_retention,
    )


def checkpoint_ledger(wired: Wired, *, force: bool = False) -> checkpoints.LedgerCheckpoint | None:
    """Sign a ledger checkpoint if one is due (forced: whenever there are new entries)."""
    with wired.sessions() as session:
        made = checkpoints.maybe_checkpoint(
            session,
            keyring=wired.keyring,
            every_entries=wired.settings.checkpoint_every_entries,
            every_minutes=wired.settings.checkpoint_every_minutes,
            now=wired.clock(),
            force=force,
        )
        try:
            session.commit()
        except IntegrityError:
            # Another process signed the same tree size a moment earlier; that one stands.
            session.rollback()
            made = None
        # After the commit, so no copy is locked for a checkpoint that never was; a crash before
        # this line leaves it to the next round (or verify) to copy.
        checkpoints.publish_pending(
            session,
            store=wired.store,
            jwks=wired.keyring.jwks(),
            retain_for=wired.settings.checkpoint_retention,
        )
    return made
